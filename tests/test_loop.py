"""TrainLoop on its own: the order of the hook stages, the step counters over epochs, a resume mid-epoch and a
pause, a requested stop, a stop while waiting for data and a corrupt batch, and what one step computes (the SGD
update checked in numpy; a recorded scaler, scheduler and autocast). A Linear model on fixed batches: fast."""
import contextlib

import numpy as np
import paddle
import pytest

from ppnorm.engine import loop as L
from ppnorm.engine.loss import CrossEntropy

STEPS = 3


class Data:
    """``STEPS`` batches per epoch of 2 samples; batch ``i`` of epoch ``e`` is marked by its images' value."""
    steps_per_epoch = STEPS

    def __init__(self, fail_at=None, error=ValueError("truncated image")):  # noqa: B008 (one shared instance is fine)
        self.asked, self.fail_at, self.error = [], fail_at, error

    def batches(self, epoch, skip=0):
        self.asked.append((epoch, skip))
        for index in range(skip, STEPS):
            if (epoch, index) == self.fail_at:
                raise self.error
            images = paddle.full([2, 2], float(10 * epoch + index))
            yield images, paddle.to_tensor([index % 2, 1 - index % 2], dtype="int64"), "extra"


class Record(L.HookBase):
    def __init__(self, events, name="h", stop_at=None):
        self.events, self.name, self.stop_at = events, name, stop_at

    def _add(self, stage, loop):
        self.events.append((self.name, stage, loop.epoch, dict(loop.states)))

    def before_train(self, loop):
        self._add("before_train", loop)

    def before_epoch(self, loop):
        assert loop.model.training  # the loop switched to training first
        self._add("before_epoch", loop)

    def before_step(self, loop):
        self._add("before_step", loop)

    def after_step(self, loop):
        self.events.append((self.name, "after_step", float(loop.last.logits.numpy().sum()), loop.last.batch_size))
        if self.stop_at == loop.states["global_step"]:
            loop.request_stop(15)
        loop.model.eval()  # e.g. an evaluation: the next epoch must switch back

    def after_epoch(self, loop):
        self._add("after_epoch", loop)

    def after_train(self, loop):
        self.events.append((self.name, "after_train", loop.outcome))


def _loop(events=None, epochs=2, states=None, data=None, **kwargs):
    paddle.seed(0)
    model = paddle.nn.Linear(2, 2)
    optimizer = paddle.optimizer.SGD(learning_rate=0.0, parameters=model.parameters())
    hooks = kwargs.pop("hooks", [Record(events if events is not None else [])])
    return L.TrainLoop(model, optimizer, None, data or Data(), epochs, hooks=hooks, states=states, **kwargs)


def _stages(events):
    return [event[1] for event in events]


def test_stages_run_in_order_and_the_counters_count_steps_and_epochs():
    events = []
    loop = _loop(events)
    assert loop.states == {"epoch": 0, "step": 0, "global_step": 0} and loop.outcome is None and loop.last is None
    assert loop.data_error is None and loop.stop_requested is False
    assert loop.train() == L.FINISHED and loop.outcome == L.FINISHED
    per_epoch = ["before_epoch"] + ["before_step", "after_step"] * STEPS + ["after_epoch"]
    assert _stages(events) == ["before_train"] + per_epoch * 2 + ["after_train"]
    steps = [e[3] for e in events if e[1] == "before_step"]
    assert steps == [{"epoch": e, "step": s, "global_step": 3 * e + s} for e in range(2) for s in range(STEPS)]
    assert [e[2:] for e in events if e[1] == "after_epoch"] == [
        (0, {"epoch": 1, "step": 0, "global_step": 3}), (1, {"epoch": 2, "step": 0, "global_step": 6})]
    assert loop.data.asked == [(0, 0), (1, 0)] and loop.steps_per_epoch == STEPS
    assert events[-1] == ("h", "after_train", L.FINISHED)


def test_hooks_run_in_registration_order_at_every_stage():
    events = []
    loop = _loop(hooks=[Record(events, "a")], epochs=1)
    loop.register_hooks([Record(events, "b"), Record(events, "c")])
    loop.train()
    names = [e[0] for e in events]
    assert names == ["a", "b", "c"] * (len(events) // 3)


def test_a_resume_mid_epoch_skips_the_steps_done_and_keeps_counting():
    events = []
    states = {"epoch": 1, "step": 2, "global_step": 5, "best_top1": 0.5}
    loop = _loop(events, epochs=3, states=states)
    assert loop.epoch == 1 and loop.states is not states
    loop.train()
    assert loop.data.asked == [(1, 2), (2, 0)]
    assert [e[3]["global_step"] for e in events if e[1] == "before_step"] == [5, 6, 7, 8]
    assert loop.states == {"epoch": 3, "step": 0, "global_step": 9, "best_top1": 0.5}
    assert states == {"epoch": 1, "step": 2, "global_step": 5, "best_top1": 0.5}  # the caller's dict is not changed


def test_a_loop_without_epochs_trains_nothing():
    model, optimizer = _linear()
    loop = L.TrainLoop(model, optimizer, None, data=Data())
    assert loop.epochs == 0 and loop.train() == L.FINISHED and loop.data.asked == [] and loop.states["global_step"] == 0


def test_a_finished_run_trains_nothing():
    events = []
    assert _loop(events, epochs=2, states={"epoch": 2, "step": 0, "global_step": 6}).train() == L.FINISHED
    assert _stages(events) == ["before_train", "after_train"]


@pytest.mark.parametrize("stop_after, epochs_run, outcome", [(1, 1, L.PAUSED), (2, 2, L.PAUSED), (3, 3, L.FINISHED),
                                                             (9, 3, L.FINISHED), (0, 1, L.PAUSED)])
def test_stop_after_epoch_pauses_once_that_many_epochs_are_done(stop_after, epochs_run, outcome):
    """A pause at the last epoch is no pause: the run finished (the final report and result follow)."""
    events = []
    loop = _loop(events, epochs=3)
    assert loop.train(stop_after_epoch=stop_after) == outcome
    assert loop.states["epoch"] == epochs_run and _stages(events).count("after_epoch") == epochs_run


def test_a_pause_counts_the_epochs_done_before_a_resume():
    loop = _loop(epochs=4, states={"epoch": 2, "step": 0, "global_step": 6})
    assert loop.train(stop_after_epoch=3) == L.PAUSED and loop.states["epoch"] == 3


def test_a_requested_stop_ends_after_its_step_without_the_epochs_end():
    events = []
    loop = _loop(hooks=[Record(events, stop_at=4)], epochs=2)
    assert loop.stop_requested is False and loop.stop_signal is None
    assert loop.train() == L.INTERRUPTED
    assert loop.stop_requested is True and loop.stop_signal == 15
    assert loop.states == {"epoch": 1, "step": 1, "global_step": 4}
    assert _stages(events)[-3:] == ["before_step", "after_step", "after_train"] and events[-1][2] == L.INTERRUPTED
    plain = _loop()
    plain.request_stop()
    assert plain.stop_signal == L.signal.SIGINT


def test_a_stop_while_waiting_for_a_batch_ends_the_epoch_without_it():
    events = []
    loop = _loop(events, data=Data(fail_at=(1, 1), error=L.StopWhileWaiting()))
    assert loop.train() == L.INTERRUPTED and loop.data_error is None
    assert loop.states == {"epoch": 1, "step": 1, "global_step": 4}


def test_a_corrupt_batch_ends_the_run_for_the_hooks_and_is_raised_after_them():
    events = []
    error = ValueError("a.png is truncated")
    loop = _loop(events, data=Data(fail_at=(0, 2), error=error))
    with pytest.raises(ValueError) as raised:
        loop.train()
    assert raised.value is error and loop.data_error is error and loop.outcome == L.DATA_FAILED
    assert events[-1] == ("h", "after_train", L.DATA_FAILED) and loop.states["global_step"] == 2
    loop.data = Data()  # a second train() starts clean
    assert loop.train() == L.FINISHED and loop.data_error is None


def test_other_errors_while_reading_propagate_and_after_train_still_runs():
    events = []
    with pytest.raises(KeyError):
        _loop(events, data=Data(fail_at=(0, 0), error=KeyError("x"))).train()
    assert events[-1] == ("h", "after_train", None)

    class Broken(L.HookBase):
        def before_train(self, loop):
            raise RuntimeError("no lock")
    events = []
    loop = _loop(hooks=[Broken(), Record(events)])
    with pytest.raises(RuntimeError, match="no lock"):
        loop.train()
    assert events == [("h", "after_train", None)]


# --- one step ------------------------------------------------------------------------------------------------------

def _linear(lr=0.5):
    paddle.seed(1)
    model = paddle.nn.Linear(2, 3)
    return model, paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())


def _expected_update(model, x, y, lr, smoothing=0.0):
    w, b = model.weight.numpy().astype("float64"), model.bias.numpy().astype("float64")
    logits = x @ w + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    target = np.full_like(p, smoothing / 3)
    target[np.arange(len(y)), y] += 1 - smoothing
    loss = -(target * np.log(p)).sum(1).mean()
    grad = (p - target) / len(y)
    return loss, w - lr * x.T @ grad, b - lr * grad.sum(0)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_a_step_applies_one_sgd_update_of_the_loss_and_returns_its_output(smoothing):
    model, optimizer = _linear()
    x = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0]], "float32")
    y = np.array([0, 2, 1])
    loss, w, b = _expected_update(model, x.astype("float64"), y, 0.5, smoothing)
    loop = L.TrainLoop(model, optimizer, None, loss_fn=CrossEntropy(smoothing) if smoothing else None)
    out = loop.run_step((paddle.to_tensor(x), paddle.to_tensor(y)))
    assert isinstance(out.loss, float) and out.loss == pytest.approx(loss, rel=1e-5)
    assert out.batch_size == 3 and out.labels.numpy().ravel().tolist() == [0, 2, 1] and out.logits.shape == [3, 3]
    np.testing.assert_allclose(model.weight.numpy(), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.bias.numpy(), b, rtol=1e-5, atol=1e-6)
    assert model.weight.grad is None or not model.weight.grad.numpy().any()  # gradients cleared


def test_a_step_calls_the_train_model_and_steps_the_scheduler():
    model, _ = _linear()
    scheduler = paddle.optimizer.lr.StepDecay(0.5, step_size=1, gamma=0.5)
    optimizer = paddle.optimizer.SGD(learning_rate=scheduler, parameters=model.parameters())
    called = []

    def wrapper(images):
        called.append(images.shape)
        return model(images)
    loop = L.TrainLoop(model, optimizer, scheduler, train_model=wrapper)
    assert loop.model is model and loop.train_model is wrapper and isinstance(loop.loss_fn, CrossEntropy)
    batch = (paddle.ones([2, 2]), paddle.to_tensor([0, 1]))
    loop.run_step(batch)
    loop.run_step(batch)
    assert called == [[2, 2], [2, 2]] and scheduler.last_epoch == 2 and optimizer.get_lr() == 0.125


def test_a_scaler_scales_the_loss_and_steps_the_optimizer_itself():
    model, optimizer = _linear()
    calls = []

    class Scaler:
        def scale(self, loss):
            calls.append(("scale", float(loss)))
            return loss * 4

        def step(self, opt):
            calls.append(("step", opt is optimizer, float(model.weight.grad.abs().sum())))

        def update(self):
            calls.append(("update",))
    plain_model, plain_opt = _linear()
    batch = (paddle.to_tensor([[1.0, 2.0]]), paddle.to_tensor([1]))
    loss = L.TrainLoop(plain_model, plain_opt, None).run_step(batch).loss
    grad = float(np.abs(_expected_grad(batch)).sum())
    before = model.weight.numpy().copy()
    out = L.TrainLoop(model, optimizer, None, scaler=Scaler()).run_step(batch)
    assert [c[0] for c in calls] == ["scale", "step", "update"] and calls[1][1] is True
    assert calls[1][2] == pytest.approx(4 * grad, rel=1e-5)  # the scaled loss was backpropagated
    assert out.loss == pytest.approx(loss) and calls[0][1] == pytest.approx(loss)
    np.testing.assert_array_equal(model.weight.numpy(), before)  # only the scaler steps the optimizer


def _expected_grad(batch):
    model, _ = _linear()
    x, y = batch[0].numpy().astype("float64"), batch[1].numpy().ravel()
    _, w, _ = _expected_update(model, x, y, 1.0)
    return model.weight.numpy() - w


def test_autocast_is_entered_with_the_amp_level_only_when_one_is_set(monkeypatch):
    levels = []

    @contextlib.contextmanager
    def auto_cast(level):
        levels.append(level)
        yield
    monkeypatch.setattr(L.paddle.amp, "auto_cast", auto_cast)
    model, optimizer = _linear()
    batch = (paddle.ones([1, 2]), paddle.to_tensor([0]))
    L.TrainLoop(model, optimizer, None).run_step(batch)
    assert levels == []
    L.TrainLoop(model, optimizer, None, amp_level="O1").run_step(batch)
    assert levels == ["O1"]
