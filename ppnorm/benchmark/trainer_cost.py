"""What the Trainer costs: a config's run through the Trainer with its default hooks vs a bare Paddle loop.

Both sides build the same model, data, optimizer and schedule from the config (a fresh ``Trainer``, so the
same seed, initial weights and batch order); the bare side then runs only forward, loss, backward, the
optimizer and the schedule, without EMA, evaluation, checkpoints, logging or VisualDL. They alternate in one
process (warm-up: one untimed epoch of each), each repeat from scratch; only the training itself is timed.
"""
import os
import statistics
import time

from ..engine.hook_api import FINISHED
from .cases import temporary_dir


def _with_run(config, output_dir, epochs, hooks_on):
    settings = dict(config["Global"], output_dir=output_dir, epochs=epochs or config["Global"]["epochs"])
    if not hooks_on:
        settings["use_visualdl"] = False
        return dict(config, Global=settings, EMA=dict(config["EMA"], decay=0))  # no average to keep
    return dict(config, Global=settings)


def run_trainer(config, output_dir, epochs=None):
    """Train ``config`` through the Trainer with its default hooks; ``(seconds, steps)``."""
    from ..engine.trainer import Trainer

    with open(os.devnull, "w") as quiet:
        trainer = Trainer(_with_run(config, output_dir, epochs, True), stream=quiet)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    if trainer.outcome != FINISHED:
        raise RuntimeError(f"the Trainer's run ended {trainer.outcome} (signal {trainer.stop_signal}) at step "
                           f"{trainer.states['global_step']}")
    return seconds, trainer.states["global_step"]


def run_bare(config, output_dir, epochs=None):
    """The same model, data, optimizer and schedule in a bare loop (no hooks); ``(seconds, steps)``."""
    from ..engine.trainer import Trainer

    with open(os.devnull, "w") as quiet:
        trainer = Trainer(_with_run(config, output_dir, epochs, False), stream=quiet, hooks=[])
    model, optimizer, loss_fn = trainer.model, trainer.optimizer, trainer.loop.loss_fn
    scheduler, data, steps = trainer.loop.scheduler, trainer.data, 0
    start = time.perf_counter()
    for epoch in range(trainer.loop.epochs):
        model.train()
        for batch in data.batches(epoch):
            loss = loss_fn(model(batch[0]), batch[1])
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            if scheduler is not None:
                scheduler.step()
            steps += 1
    return time.perf_counter() - start, steps


SIDES = {"trainer": run_trainer, "bare": run_bare}


def trainer_vs_bare(config, epochs=None, repeats=3, log=print):
    """Rows for the bare loop and the Trainer: each side's median seconds over ``repeats`` alternating runs, and
    the Trainer's ratio, the median over the repeats of bare seconds / Trainer seconds (a repeat's two runs are
    adjacent, so a load that changes between repeats cancels); ``epochs`` (default: the config's) shortens both."""
    from .suite import bench_row, format_row

    seconds, steps = {name: [] for name in SIDES}, {}
    with temporary_dir() as work_dir:
        for name, run in SIDES.items():  # warm-up: the first calls allocate and pick kernels
            run(config, os.path.join(work_dir, f"warmup_{name}"), 1)
        for repeat in range(repeats):
            order = list(SIDES) if repeat % 2 == 0 else list(SIDES)[::-1]
            for name in order:
                took, steps[name] = SIDES[name](config, os.path.join(work_dir, f"{name}_{repeat}"), epochs)
                seconds[name].append(took)
                log(f"[Bench] {name} run {repeat + 1}/{repeats}: {steps[name]} steps in {took:.2f} s")
    if steps["trainer"] != steps["bare"]:
        raise RuntimeError(f"the Trainer ran {steps['trainer']} steps, the bare loop {steps['bare']}")
    batch = config["DataLoader"]["Train"]["batch_size"]
    label = f"{config['Arch']['name']} on {config['DataLoader']['Train']['dataset']['name']}, {steps['bare']} steps"
    median = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = statistics.median(bare / trainer for bare, trainer in zip(seconds["bare"], seconds["trainer"]))
    norm = config["Arch"].get("norm", "bn")
    rows = [bench_row(label, "bare Paddle loop", norm, batch, "train run", steps["bare"] * batch / median["bare"]),
            bench_row(label, "Trainer (EMA, eval, checkpoints, logs)", norm, batch, "train run",
                      steps["trainer"] * batch / median["trainer"], None, ratio,
                      "bare Paddle loop")]
    for row, name in zip(rows, ("bare", "trainer")):
        row.update(steps=steps[name], seconds=round(median[name], 2))
        log(format_row(row) + f" ({row['steps']} steps, median {row['seconds']:.2f} s)")
    return rows
