"""The EMA's values, step by step: every state entry (integer buffers copied, not averaged), the warm-up counter
continuing across epochs and a resume (the loop's global step, not the step in the epoch), the copy left apart
from the trained model, and the per-epoch averaging over ranks. Tiny models: each test well under a second."""
import numpy as np
import paddle
import pytest

from ppnorm.engine import ema as E
from ppnorm.engine.ema import ModelEma, UpdateEma, ema_decay
from ppnorm.engine.loop import HookBase, TrainLoop

pytestmark = pytest.mark.oldest_paddle  # the flat update uses a private Paddle op: checked on the oldest Paddle too


class Counted(paddle.nn.Layer):
    """Linear + BatchNorm1D, and an integer buffer counting the forward passes."""

    def __init__(self):
        super().__init__()
        self.fc, self.bn = paddle.nn.Linear(3, 2), paddle.nn.BatchNorm1D(2)
        self.register_buffer("calls", paddle.to_tensor([7], dtype="int64"))

    def forward(self, x):
        paddle.assign(self.calls + 1, output=self.calls)
        return self.bn(self.fc(x))


def _state(model):
    return {key: value.numpy().copy() for key, value in model.state_dict().items()}


class Batches:
    steps_per_epoch = 3

    def batches(self, epoch, skip=0):
        rng = np.random.default_rng(epoch)
        return [(paddle.to_tensor(rng.normal(size=(4, 3)).astype("float32")),
                 paddle.to_tensor(rng.integers(0, 2, size=(4, 1)).astype("int64"))) for _ in range(3)][skip:]


class Record(HookBase):
    def __init__(self):
        self.states = []

    def after_step(self, loop):
        self.states.append((loop.states["global_step"], _state(loop.model)))


def _loop(decay, epochs=2, states=None, world_size=1):
    paddle.seed(1)
    model = Counted()
    optimizer = paddle.optimizer.Momentum(learning_rate=0.5, parameters=model.parameters())
    record = Record()
    loop = TrainLoop(model, optimizer, None, Batches(), epochs, hooks=[record, UpdateEma()], states=states)
    loop.ema, loop.world_size = ModelEma(model, decay), world_size
    return loop, record, _state(model)


def _replay(start, recorded, decay):
    expected = dict(start)
    for step, state in recorded:
        d = min(decay, (1 + step) / (10 + step))
        expected = {k: v if v.dtype.kind == "i" else d * expected[k] + (1 - d) * v for k, v in state.items()}
    return expected


@pytest.mark.parametrize("decay", [0.3, 0.95])
def test_every_entry_follows_the_average_with_the_warm_up_counted_in_global_steps_across_epochs(decay):
    loop, record, start = _loop(decay)
    loop.train()
    assert [step for step, _ in record.states] == [1, 2, 3, 4, 5, 6]
    got, expected = _state(loop.ema.model), _replay(start, record.states, decay)
    assert sorted(got) == ["bn._mean", "bn._variance", "bn.bias", "bn.weight", "calls", "fc.bias", "fc.weight"]
    for key in got:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, atol=1e-7, err_msg=key)
    assert got["calls"].tolist() == [13] and got["calls"].dtype == np.int64  # copied: 7 + 6 forward passes


def test_a_resumed_loop_continues_the_warm_up_from_its_global_step():
    loop, record, start = _loop(0.95, epochs=3, states={"epoch": 1, "step": 1, "global_step": 4})
    loop.train()
    assert [step for step, _ in record.states] == [5, 6, 7, 8, 9]  # the rest of epoch 2, then epoch 3
    got, expected = _state(loop.ema.model), _replay(start, record.states, 0.95)
    for key in got:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, atol=1e-7, err_msg=key)


def test_each_epoch_averages_the_ema_models_statistics_over_the_ranks(monkeypatch):
    calls = []
    monkeypatch.setattr(E, "average_norm_statistics", lambda model, world: calls.append((model, world)))
    loop, _, _ = _loop(0.9, epochs=2, world_size=4)
    loop.train()
    assert calls == [(loop.ema.model, 4), (loop.ema.model, 4)] and loop.ema.model is not loop.model


def test_the_average_is_a_separate_frozen_eval_copy_and_the_trained_model_is_untouched():
    paddle.seed(2)
    model = Counted()
    model.train()
    ema = ModelEma(model, 0.5)
    assert model.training and not ema.model.training
    trained = [name for name, p in model.named_parameters() if not p.stop_gradient]
    assert trained == ["fc.weight", "fc.bias", "bn.weight", "bn.bias"]  # BatchNorm's statistics never train
    assert all(p.stop_gradient for p in ema.model.parameters())
    before = _state(ema.model)
    with paddle.no_grad():
        model.fc.weight.set_value(model.fc.weight + 1.0)
    np.testing.assert_array_equal(_state(ema.model)["fc.weight"], before["fc.weight"])  # not shared
    ema.update(model, 100)  # d = min(0.5, 101/110) = 0.5
    np.testing.assert_allclose(ema.model.fc.weight.numpy(), before["fc.weight"] + 0.5, rtol=1e-6)


def test_state_dict_is_the_averages_and_set_state_dict_loads_into_it():
    paddle.seed(3)
    model = Counted()
    ema = ModelEma(model, 0.5)
    ema.update(Counted(), 50)
    assert {k: v.tolist() for k, v in _state(ema.model).items()} == \
        {k: v.numpy().tolist() for k, v in ema.state_dict().items()}
    other = Counted()
    ema.set_state_dict(other.state_dict())
    for key, value in _state(other).items():
        np.testing.assert_array_equal(_state(ema.model)[key], value)


def test_a_model_cast_to_another_float_type_is_averaged_in_the_emas_type():
    paddle.seed(4)
    model = paddle.nn.Linear(3, 2)
    ema = ModelEma(model, 0.5)
    start = model.weight.numpy().astype("float64")
    model.to(dtype="float64")
    with paddle.no_grad():
        model.weight.set_value(model.weight + 1.0)
    ema.update(model, 100)
    assert ema.model.weight.dtype == paddle.float32
    np.testing.assert_allclose(ema.model.weight.numpy(), (start + 0.5).astype("float32"), rtol=1e-6)


@pytest.mark.parametrize("decay", [1e-9, 0.5, 1 - 1e-9])
def test_any_decay_strictly_between_zero_and_one_is_taken(decay):
    assert ModelEma(paddle.nn.Linear(2, 2), decay).decay == decay
    assert ema_decay(decay, 10 ** 12) == decay and ema_decay(decay, 0) == min(decay, 0.1)


def _trained_steps(model, steps, seed=5):
    optimizer = paddle.optimizer.Momentum(0.1, parameters=model.parameters())
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        model(paddle.to_tensor(rng.normal(size=(4, 3)).astype("float32"))).square().sum().backward()
        optimizer.step()
        optimizer.clear_grad()
        yield


def test_the_flat_update_is_bitwise_the_entry_by_entry_one_with_reads_and_loads_between():
    paddle.seed(6)
    model = Counted()
    fused, entries = ModelEma(model, 0.9), ModelEma(model, 0.9)
    other = Counted()
    for step, _ in enumerate(_trained_steps(model, 7), start=1):
        fused.update(model, step)
        entries._update_entries(model, ema_decay(0.9, step))  # the arithmetic of the flat update, entry by entry
        if step == 3:  # a read writes the average back; the next update flattens anew
            assert {k: v.tolist() for k, v in _state(fused.model).items()} == \
                {k: v.tolist() for k, v in _state(entries.model).items()}
        if step == 5:  # a load between updates is what the next update averages from
            fused.set_state_dict(other.state_dict())
            entries.set_state_dict(other.state_dict())
    got, expected = _state(fused.model), _state(entries.model)
    assert sorted(got) == ["bn._mean", "bn._variance", "bn.bias", "bn.weight", "calls", "fc.bias", "fc.weight"]
    for key in got:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert got["calls"].tolist() == [7 + 7]  # the integer buffer copied, not averaged


def test_a_second_model_is_flattened_anew_not_averaged_from_the_first():
    paddle.seed(7)
    first, second = Counted(), Counted()
    ema = ModelEma(first, 0.5)
    start = _state(ema.model)
    ema.update(first, 100)  # d = 0.5: the average of the copy and first (the same weights)
    ema.update(second, 100)
    for key in ("fc.weight", "bn.bias"):
        np.testing.assert_allclose(_state(ema.model)[key], 0.5 * start[key] + 0.5 * _state(second)[key], rtol=1e-6)


def test_without_the_flat_op_the_update_goes_entry_by_entry_to_the_same_bits(monkeypatch):
    def missing(tensors):
        raise AttributeError("module 'paddle._C_ops' has no attribute 'coalesce_tensor'")

    paddle.seed(8)
    model = Counted()
    fallback, fused = ModelEma(model, 0.9), ModelEma(model, 0.9)
    for step, _ in enumerate(_trained_steps(model, 4), start=1):
        fused.update(model, step)
        with monkeypatch.context() as patch:
            patch.setattr(E, "_coalesce", missing)
            fallback.update(model, step)
            assert fallback._flat is None  # nothing flattened: the entries were updated one by one
    got, expected = _state(fallback.model), _state(fused.model)
    for key in got:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert not np.array_equal(got["fc.weight"], _state(Counted())["fc.weight"])


def test_the_trained_weights_are_bitwise_those_of_a_run_without_ema():
    paddle.seed(9)
    with_ema, alone = Counted(), Counted()
    alone.set_state_dict(with_ema.state_dict())
    ema = ModelEma(with_ema, 0.9)
    for step, _ in enumerate(zip(_trained_steps(with_ema, 6), _trained_steps(alone, 6)), start=1):
        ema.update(with_ema, step)
    for key, value in _state(alone).items():
        np.testing.assert_array_equal(_state(with_ema)[key], value, err_msg=key)


def _moved_elsewhere(tensor):
    """Give ``tensor`` other storage (as a cast or a reallocating load would), with the same values."""
    paddle.to_tensor(tensor.numpy().copy())._share_buffer_to(tensor)


@pytest.mark.parametrize("whose", ["trained", "average"])
def test_an_entry_given_other_storage_is_followed_not_averaged_stale(whose):
    paddle.seed(10)
    model = Counted()
    fused, entries = ModelEma(model, 0.9), ModelEma(model, 0.9)
    for step, _ in enumerate(_trained_steps(model, 5), start=1):
        if step == 3:
            _moved_elsewhere(model.fc.weight if whose == "trained" else fused._model.fc.weight)
        fused.update(model, step)
        entries._update_entries(model, ema_decay(0.9, step))
    for key, value in _state(entries.model).items():
        np.testing.assert_array_equal(_state(fused.model)[key], value, err_msg=key)


def test_an_entry_replaced_by_another_tensor_is_seen_after_a_read():
    paddle.seed(11)
    model = Counted()
    fused, entries = ModelEma(model, 0.9), ModelEma(model, 0.9)
    for step, _ in enumerate(_trained_steps(model, 4), start=1):
        if step == 3:
            fused.model  # noqa: B018 (what an evaluation or a save does between updates)
            model.fc.bias = model.create_parameter([2], default_initializer=paddle.nn.initializer.Constant(0.5))
        fused.update(model, step)
        entries._update_entries(model, ema_decay(0.9, step))
    for key, value in _state(entries.model).items():
        np.testing.assert_array_equal(_state(fused.model)[key], value, err_msg=key)
