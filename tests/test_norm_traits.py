"""Norm layer traits: MaskedBatchNorm1D, declared where it is defined, gets what every batch norm gets (no weight
decay, cross-rank averaging, the non-finite guard, PreciseBN), checked by value against numpy and the BatchNorm path;
conv folding and ghost batches, which need a one-input batch norm, leave it alone."""
import types

import numpy as np
import paddle
import pytest

from ppnorm.engine import distributed
from ppnorm.engine.config import load_config
from ppnorm.engine.hooks import FiniteNormStatistics, TrainingError
from ppnorm.engine.optim import build_optimizer
from ppnorm.models.sequence import SeqConv1D
from ppnorm.nn import NORM_KINDS, build_norm, is_batch_norm, is_norm, norm_layer, norm_traits
from ppnorm.nn.fuse import find_conv_norm_pairs
from ppnorm.nn.ghost_bn import ghost_batches
from ppnorm.nn.norm_layers import declare_norm_layers
from ppnorm.nn.precise_bn import update_bn_stats
from ppnorm.nn.sequence import MaskedBatchNorm1D

pytestmark = pytest.mark.oldest_paddle


class Block(paddle.nn.Layer):
    """Conv1D -> norm on ``[N, C + 1, L]`` whose last channel is the padding mask (as seq_conv1d's mask_channel)."""

    def __init__(self, masked, channels=3):
        super().__init__()
        self.conv = paddle.nn.Conv1D(2, channels, 3, padding=1)
        self.norm = MaskedBatchNorm1D(channels) if masked else build_norm("bn", channels, dims=1)

    def forward(self, x):
        z, mask = self.conv(x[:, :-1]), x[:, -1]
        return self.norm(z, mask) if isinstance(self.norm, MaskedBatchNorm1D) else self.norm(z)


def _inputs(seed, lengths=(5, 3, 6, 2)):
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 2.0, size=(len(lengths), 3, 6)).astype("float32")
    x[:, -1] = [[1.0] * n + [0.0] * (6 - n) for n in lengths]
    return x


def test_every_kind_and_masked_batch_norm_declare_what_they_are():
    kinds = {kind: (is_norm(layer), is_batch_norm(layer)) for kind in NORM_KINDS
             for layer in [build_norm(kind, 4, groups=2)]}
    assert kinds == {"bn": (True, True), "sync_bn": (True, True), "gn": (True, False), "ln": (True, False),
                     "in": (True, False), "none": (False, False), "rms": (True, False)}
    masked = MaskedBatchNorm1D(4)
    assert is_norm(masked) and is_batch_norm(masked) and not is_batch_norm(masked, with_mask=False)
    assert norm_traits(masked).takes_mask and norm_traits(paddle.nn.Linear(2, 2)) is None


def test_a_class_declared_twice_with_other_traits_is_refused_and_subclasses_inherit():
    @norm_layer(batch_stats=True)
    class Mine(paddle.nn.Layer):
        pass

    class Child(Mine):
        pass

    assert is_batch_norm(Child()) and norm_traits(Child()) == norm_traits(Mine())
    declare_norm_layers([Mine], batch_stats=True)  # the same traits again: fine
    with pytest.raises(ValueError, match="Mine is declared a norm layer twice"):
        declare_norm_layers([Mine], batch_stats=False)


def _one_decayed_step(masked):
    paddle.seed(0)
    model = Block(masked)
    config = load_config("configs/digits/resnet20.yaml", ["Optimizer.weight_decay=0.5",
                                                          "Optimizer.no_weight_decay_on_norm_and_bias=true"])
    optimizer, _ = build_optimizer(config["Optimizer"], model, epochs=1, steps_per_epoch=1)
    before = {name: p.numpy().copy() for name, p in model.named_parameters()}
    (model(paddle.to_tensor(_inputs(0))) * 0.0).sum().backward()  # zero gradients: only weight decay moves weights
    optimizer.step()
    return {name: (before[name], p.numpy()) for name, p in model.named_parameters()}


@pytest.mark.parametrize("masked", [False, True])
def test_weight_decay_leaves_the_scale_and_shift_of_both_batch_norms_alone(masked):
    moved = _one_decayed_step(masked)
    np.testing.assert_array_equal(*moved["norm.weight"])  # no decay on the norm's scale
    np.testing.assert_array_equal(*moved["norm.bias"])
    old, new = moved["conv.weight"]  # the conv weight decays: lr 0.1, decay 0.5 (L2 added to the zero gradient)
    np.testing.assert_allclose(new, old * (1 - 0.1 * 0.5), rtol=1e-5)


def test_the_non_finite_statistics_guard_sees_a_masked_batch_norm():
    model = SeqConv1D(in_channels=2, widths=(4,), norm="bn_masked", mask_channel=True)
    loop = types.SimpleNamespace(model=model, epoch=2, states={"global_step": 30})
    FiniteNormStatistics().after_epoch(loop)  # finite: nothing happens
    model.norms[0]._variance.set_value(paddle.to_tensor([1.0, float("nan"), float("inf"), 1.0]))
    with pytest.raises(TrainingError, match=r"running variance of norm layer 'norms.0' has 2 non-finite"):
        FiniteNormStatistics().after_epoch(loop)


def test_cross_rank_averaging_covers_masked_batch_norms(monkeypatch):
    other_rank = 4.0  # the other rank's running statistics, all 4: the average is (own + 4) / 2
    monkeypatch.setattr(distributed.dist, "all_reduce", lambda tensor: tensor.set_value(tensor + other_rank))
    models = [Block(masked) for masked in (False, True)]
    for model in models:
        model.norm._mean.set_value(paddle.to_tensor([1.0, 2.0, 3.0]))
        distributed.average_norm_statistics(model, world_size=2)
    for model in models:
        np.testing.assert_allclose(model.norm._mean.numpy(), [2.5, 3.0, 3.5])
        np.testing.assert_allclose(model.norm._variance.numpy(), [2.5] * 3)


def _masked_stats(conv_out, mask):
    valid = np.stack([conv_out[:, c][mask > 0] for c in range(conv_out.shape[1])])
    return valid.mean(1), valid.var(1)


def test_precise_bn_recomputes_a_masked_batch_norm_from_the_valid_steps():
    paddle.seed(1)
    model = Block(masked=True)
    batches = [paddle.to_tensor(_inputs(seed)) for seed in range(3)]
    assert update_bn_stats(model, iter(batches), num_batches=3) == 3
    assert model.norm._momentum == 0.9  # restored
    with paddle.no_grad():
        stats = [_masked_stats(model.conv(b[:, :-1]).numpy(), b[:, -1].numpy()) for b in batches]
    np.testing.assert_allclose(model.norm._mean.numpy(), np.mean([m for m, _ in stats], 0), atol=1e-5)
    np.testing.assert_allclose(model.norm._variance.numpy(), np.mean([v for _, v in stats], 0), rtol=1e-4)


def test_without_padding_precise_bn_gives_a_masked_batch_norm_the_statistics_of_batch_norm1d():
    paddle.seed(2)
    plain, masked = Block(masked=False), Block(masked=True)
    masked.conv.set_state_dict(plain.conv.state_dict())
    batches = [paddle.to_tensor(_inputs(seed, lengths=(6, 6, 6, 6))) for seed in range(4)]
    for model in (plain, masked):
        assert update_bn_stats(model, iter(batches), num_batches=4) == 4
    np.testing.assert_allclose(masked.norm._mean.numpy(), plain.norm._mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(masked.norm._variance.numpy(), plain.norm._variance.numpy(), rtol=1e-4)


def test_conv_folding_and_ghost_batches_leave_a_masked_batch_norm_alone():
    x = paddle.to_tensor(_inputs(0))
    plain, masked = Block(masked=False), Block(masked=True)
    assert find_conv_norm_pairs(plain, x) == [("conv", "norm")] and find_conv_norm_pairs(masked, x) == []
    assert ghost_batches(plain, 2) == 1 and ghost_batches(masked, 2) == 0
