"""Compatibility helpers behave the same on every supported paddle (3.0.0 to the newest)."""
import paddle
import paddle.nn as nn
import pytest

from ppnorm.compat import kept_training_modes, set_training_mode
from ppnorm.nn.fuse import find_conv_norm_pairs
from ppnorm.nn.precise_bn import update_bn_stats

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)


def _net():
    return nn.Sequential(nn.Conv2D(1, 2, 3), nn.BatchNorm2D(2), nn.ReLU(), nn.Dropout(0.5))


def _modes(model):
    return [model.training] + [layer.training for layer in model.sublayers()]


@pytest.mark.parametrize("training", [True, False])
def test_set_training_mode_sets_every_sublayer_and_returns_the_layer(training):
    model = _net()
    set_training_mode(model, not training)
    assert set_training_mode(model, training) is model
    assert _modes(model) == [training] * 5


def test_kept_training_modes_gives_each_sublayer_its_own_mode_back_even_after_an_error():
    model = _net()
    model[1].eval()  # a frozen BatchNorm inside a training model
    before = _modes(model)
    assert before == [True, True, False, True, True]
    with kept_training_modes(model, training=False):
        assert _modes(model) == [False] * 5
    assert _modes(model) == before
    with pytest.raises(RuntimeError, match="boom"):
        with kept_training_modes(model, training=True):
            assert _modes(model) == [True] * 5
            raise RuntimeError("boom")
    assert _modes(model) == before


def test_folding_and_precise_bn_leave_a_mixed_mode_model_as_they_found_it():
    model = _net()
    model[3].eval()  # dropout off, batch norm training
    before = _modes(model)
    x = paddle.randn([4, 1, 5, 5])
    assert find_conv_norm_pairs(model, x) == [("0", "1")]
    assert _modes(model) == before
    assert update_bn_stats(model, [x, x], num_batches=2) == 2
    assert _modes(model) == before
    batch_mean = model[0](x).mean(axis=[0, 2, 3])
    assert paddle.allclose(model[1]._mean, batch_mean, atol=1e-5).item()
