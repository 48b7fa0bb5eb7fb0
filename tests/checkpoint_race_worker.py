"""Save checkpoint ``PREFIX`` over and over, or load it over and over, for SECONDS (tests/test_checkpoint_race.py).

``python tests/checkpoint_race_worker.py write PREFIX SECONDS``: save number k holds weights all equal to
k, training states with ``global_step`` k, and the optimizer state after k steps.
``python tests/checkpoint_race_worker.py read PREFIX SECONDS``: wait for the first save, then load until
SECONDS have passed, checking that the weights equal the states' ``global_step`` (the files of one save);
prints one JSON line:
``{"loads": n, "steps": [first, last], "errors": [one line per failed load]}``.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import paddle  # noqa: E402

from ppnorm.engine.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402


def tiny():
    model = paddle.nn.Sequential(paddle.nn.Linear(8, 8), paddle.nn.BatchNorm1D(8))
    return model, paddle.optimizer.Momentum(learning_rate=0.1, parameters=model.parameters())


def write(prefix, seconds):
    model, optimizer = tiny()
    end, step = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        step += 1
        model(paddle.ones([2, 8])).sum().backward()
        optimizer.step()
        optimizer.clear_grad()
        model.set_state_dict({k: np.full(v.shape, step, v.numpy().dtype) for k, v in model.state_dict().items()})
        states = {"epoch": step, "step": 0, "global_step": step, "best_top1": 0.5, "best_epoch": 1}
        save_checkpoint(prefix, model, optimizer, states)


def read(prefix, seconds):
    start = time.monotonic()
    while not os.path.exists(prefix + ".pdstates") and time.monotonic() < start + 120:  # the writer's first save
        time.sleep(0.05)
    end, loads, steps, errors = time.monotonic() + seconds, 0, [], []
    while time.monotonic() < end:
        model, optimizer = tiny()
        try:
            states = load_checkpoint(prefix, model, optimizer)
        except Exception as error:  # noqa: BLE001 - every failure is reported, whatever its type
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
            continue
        loads += 1
        values = {float(v.numpy().min()) for v in model.state_dict().values()} | {
            float(v.numpy().max()) for v in model.state_dict().values()}
        if values != {states["global_step"]}:
            errors.append(f"mixed: weights {sorted(values)} with states of step {states['global_step']}")
        steps.append(states["global_step"])
    print(json.dumps({"loads": loads, "steps": [steps[0], steps[-1]] if steps else [], "errors": errors}))


if __name__ == "__main__":
    paddle.set_device("cpu")
    {"write": write, "read": read}[sys.argv[1]](sys.argv[2], float(sys.argv[3]))
