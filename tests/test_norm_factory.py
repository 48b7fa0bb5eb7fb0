import numpy as np
import paddle
import paddle.nn as nn
import pytest

from ppnorm.nn import NORM_KINDS, build_norm, momentum_from_torch


@pytest.mark.parametrize("dims,bn,inorm", [(1, nn.BatchNorm1D, nn.InstanceNorm1D), (2, nn.BatchNorm2D, nn.InstanceNorm2D),
                                          (3, nn.BatchNorm3D, nn.InstanceNorm3D)])
def test_kinds_build_the_expected_paddle_layers(dims, bn, inorm):
    assert type(build_norm("bn", 8, dims=dims)) is bn
    assert type(build_norm("in", 8, dims=dims)) is inorm
    assert type(build_norm("sync_bn", 8, dims=dims)) is nn.SyncBatchNorm
    assert type(build_norm("none", 8, dims=dims)) is nn.Identity
    gn = build_norm("gn", 8, dims=dims, groups=4)
    assert type(gn) is nn.GroupNorm and gn._num_groups == 4
    assert type(build_norm("ln", 8, dims=dims)) is (nn.LayerNorm if dims == 1 else nn.GroupNorm)


def test_unknown_kind_lists_valid_kinds():
    with pytest.raises(ValueError) as err:
        build_norm("batchnorm", 8)
    message = str(err.value)
    assert "'batchnorm'" in message and all(kind in message for kind in NORM_KINDS)
    assert "\n" not in message


def test_groups_not_dividing_channels_names_both_and_suggests_a_divisor():
    with pytest.raises(ValueError, match=r"num_channels=24 is not divisible by groups=32; use groups=24"):
        build_norm("gn", 24, groups=32)
    with pytest.raises(ValueError, match=r"num_channels=30 is not divisible by groups=4; use groups=5"):
        build_norm("gn", 30, groups=4)


@pytest.mark.parametrize("dims", [0, 4, "2"])
def test_bad_dims(dims):
    with pytest.raises(ValueError, match="dims must be 1, 2 or 3"):
        build_norm("bn", 8, dims=dims)


def test_data_format_must_fit_dims():
    with pytest.raises(ValueError, match="data_format 'NCHW' does not fit dims=1"):
        build_norm("bn", 8, dims=1, data_format="NCHW")


def test_affine_false_has_no_parameters_and_options_reach_the_layer():
    for kind in ("bn", "gn", "ln", "in"):
        layer = build_norm(kind, 8, groups=2, affine=False)
        assert [p.name for p in layer.parameters() if not p.stop_gradient] == []
    bn = build_norm("bn", 8, momentum=0.99, epsilon=1e-3)
    assert bn._momentum == pytest.approx(0.99) and bn._epsilon == pytest.approx(1e-3)


def test_torch_momentum_conversion_gives_the_torch_update():
    torch_momentum = 0.1
    bn = build_norm("bn", 3, dims=1, momentum=momentum_from_torch(torch_momentum))
    x = np.random.randn(16, 3).astype("float32") * 2 + 5
    bn.train()
    bn(paddle.to_tensor(x))
    expected_mean = (1 - torch_momentum) * 0.0 + torch_momentum * x.mean(0)   # PyTorch's formula
    np.testing.assert_allclose(bn._mean.numpy(), expected_mean, rtol=1e-5)
    assert momentum_from_torch(0.1) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        momentum_from_torch(1.5)


def _numpy_norm(x, axes, eps=1e-5):
    mu = x.mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def test_ln_and_in_normalize_the_documented_axes():
    x = np.random.randn(2, 6, 4, 5).astype("float32") * 3 + 1
    ln, inorm, gn = build_norm("ln", 6), build_norm("in", 6), build_norm("gn", 6, groups=3)
    np.testing.assert_allclose(ln(paddle.to_tensor(x)).numpy(), _numpy_norm(x, (1, 2, 3)), atol=1e-5)
    np.testing.assert_allclose(inorm(paddle.to_tensor(x)).numpy(), _numpy_norm(x, (2, 3)), atol=1e-5)
    grouped = _numpy_norm(x.reshape(2, 3, 2, 4, 5), (2, 3, 4)).reshape(x.shape)
    np.testing.assert_allclose(gn(paddle.to_tensor(x)).numpy(), grouped, atol=1e-5)
    k = np.random.randn(5, 6).astype("float32")
    np.testing.assert_allclose(build_norm("ln", 6, dims=1)(paddle.to_tensor(k)).numpy(), _numpy_norm(k, (1,)), atol=1e-5)


@pytest.mark.parametrize("kind", ["bn", "gn", "ln", "in"])
def test_channels_last_matches_channels_first(kind):
    x = np.random.randn(3, 8, 4, 4).astype("float32")
    first = build_norm(kind, 8, groups=4)
    last = build_norm(kind, 8, groups=4, data_format="NHWC")
    y_first = first(paddle.to_tensor(x)).numpy()
    y_last = last(paddle.to_tensor(x.transpose(0, 2, 3, 1))).numpy().transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y_last, y_first, atol=1e-5)
