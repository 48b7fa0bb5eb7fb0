import re

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from ppnorm.nn import (NORM_KINDS, bn_momentum, build_norm, is_batch_norm, is_norm, momentum_from_torch, norm_epsilon,
                       norm_groups, norm_traits, running_stats, set_bn_momentum, set_running_stats)
from ppnorm.nn.norm import check_norm_options

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)


@pytest.mark.parametrize("dims,bn,inorm", [(1, nn.BatchNorm1D, nn.InstanceNorm1D), (2, nn.BatchNorm2D, nn.InstanceNorm2D),
                                          (3, nn.BatchNorm3D, nn.InstanceNorm3D)])
def test_kinds_build_the_expected_paddle_layers(dims, bn, inorm):
    assert type(build_norm("bn", 8, dims=dims)) is bn
    assert type(build_norm("in", 8, dims=dims)) is inorm
    assert type(build_norm("sync_bn", 8, dims=dims)) is nn.SyncBatchNorm
    assert type(build_norm("none", 8, dims=dims)) is nn.Identity
    gn = build_norm("gn", 8, dims=dims, groups=4)
    assert type(gn) is nn.GroupNorm and norm_groups(gn) == 4
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


def _trainable(layer):
    return [p for p in layer.parameters() if not p.stop_gradient]


def _grouped(x, groups, eps):
    """Group norm of channels-first x over (channels in a group, spatial) by numpy."""
    n, c = x.shape[:2]
    return _numpy_norm(x.reshape(n, groups, c // groups, -1), (2, 3), eps).reshape(x.shape)


# kind, dims, data_format, input shape, numpy reference(x, eps) in channels-first layout
EPSILON_CASES = [
    ("bn", 2, None, (4, 6, 3, 3), lambda x, eps: _numpy_norm(x, (0, 2, 3), eps)),
    ("bn", 1, None, (8, 6), lambda x, eps: _numpy_norm(x, (0,), eps)),
    ("gn", 2, None, (2, 6, 3, 3), lambda x, eps: _grouped(x, 2, eps)),
    ("gn", 2, "NHWC", (2, 6, 3, 3), lambda x, eps: _grouped(x, 2, eps)),
    ("ln", 2, None, (2, 6, 3, 3), lambda x, eps: _numpy_norm(x, (1, 2, 3), eps)),
    ("ln", 1, None, (4, 6), lambda x, eps: _numpy_norm(x, (1,), eps)),
    ("in", 2, None, (2, 6, 3, 3), lambda x, eps: _numpy_norm(x, (2, 3), eps)),
    ("in", 2, "NHWC", (2, 6, 3, 3), lambda x, eps: _numpy_norm(x, (2, 3), eps)),
    ("in", 1, None, (2, 6, 5), lambda x, eps: _numpy_norm(x, (2,), eps)),
]


def _run(layer, x, data_format):
    last = data_format == "NHWC"
    y = layer(paddle.to_tensor(x.transpose(0, 2, 3, 1) if last else x)).numpy()
    return y.transpose(0, 3, 1, 2) if last else y


@pytest.mark.parametrize("kind,dims,data_format,shape,reference", EPSILON_CASES)
@pytest.mark.parametrize("affine", [True, False])
def test_epsilon_and_affine_reach_every_kind(kind, dims, data_format, shape, reference, affine):
    eps = 1e-3 if (kind, dims) == ("ln", 1) else 0.3  # paddle.nn.LayerNorm accepts epsilon <= 1e-3 only
    x = (np.random.RandomState(0).randn(*shape) * np.sqrt(eps) + 2).astype("float32")  # variance ~ epsilon
    layer = build_norm(kind, 6, dims=dims, epsilon=eps, affine=affine, groups=2, data_format=data_format)
    assert norm_epsilon(layer) == pytest.approx(eps)
    expected = reference(x, eps)
    if affine:
        assert [tuple(p.shape) for p in _trainable(layer)] == [(6,), (6,)]
        gamma, beta = np.arange(1, 7, dtype="float32"), np.linspace(-1, 1, 6).astype("float32")
        _trainable(layer)[0].set_value(gamma)
        _trainable(layer)[1].set_value(beta)
        shape = [1, 6] + [1] * (x.ndim - 2)
        expected = expected * gamma.reshape(shape) + beta.reshape(shape)
    else:
        assert _trainable(layer) == []
    layer.train()
    np.testing.assert_allclose(_run(layer, x, data_format), expected, atol=1e-4)


@pytest.mark.parametrize("affine", [True, False])
def test_sync_bn_gets_epsilon_momentum_and_affine(affine):  # built only: SyncBatchNorm has no CPU kernel
    layer = build_norm("sync_bn", 6, epsilon=0.3, momentum=0.7, affine=affine)
    assert type(layer) is nn.SyncBatchNorm and is_batch_norm(layer)
    assert norm_epsilon(layer) == pytest.approx(0.3) and bn_momentum(layer) == pytest.approx(0.7)
    assert len(_trainable(layer)) == (2 if affine else 0)
    with pytest.raises(ValueError, match="use_global_stats=True is not supported by sync_bn"):
        build_norm("sync_bn", 6, use_global_stats=True)


def test_momentum_reaches_batch_norm_running_statistics():
    x = (np.random.RandomState(1).randn(16, 3) * 2 + 5).astype("float32")
    bn = build_norm("bn", 3, dims=1, momentum=0.7)
    bn.train()
    bn(paddle.to_tensor(x))
    mean, variance = running_stats(bn)
    np.testing.assert_allclose(mean.numpy(), 0.7 * 0.0 + 0.3 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(variance.numpy(), 0.7 * 1.0 + 0.3 * x.var(0), rtol=1e-5)  # biased variance


@pytest.mark.parametrize("use_global_stats,training,statistics", [
    (None, True, "batch"), (None, False, "running"), (True, True, "running"), (False, False, "batch")])
def test_use_global_stats_chooses_the_statistics(use_global_stats, training, statistics):
    x = (np.random.RandomState(2).randn(8, 4) * 3 + 1).astype("float32")
    bn = build_norm("bn", 4, dims=1, use_global_stats=use_global_stats, epsilon=1e-5)
    set_running_stats(bn, np.full([4], 2.0, "float32"), np.full([4], 4.0, "float32"))
    bn.train() if training else bn.eval()
    expected = _numpy_norm(x, (0,)) if statistics == "batch" else (x - 2.0) / np.sqrt(4.0 + 1e-5)
    np.testing.assert_allclose(bn(paddle.to_tensor(x)).numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("option,value,message", [
    ("momentum", 1.5, r"momentum must be a number in \[0, 1\].*got 1.5"),
    ("momentum", -0.1, r"momentum must be a number in \[0, 1\]"),
    ("momentum", float("nan"), r"momentum must be a number in \[0, 1\]"),
    ("momentum", "0.9", r"momentum must be a number in \[0, 1\].*got '0.9'"),
    ("epsilon", 0.0, r"epsilon must be a positive number.*got 0.0"),
    ("epsilon", -1e-5, r"epsilon must be a positive number"),
    ("epsilon", float("inf"), r"epsilon must be a positive number"),
    ("affine", 1, r"affine must be true or false, got 1"),
    ("affine", "no", r"affine must be true or false, got 'no'"),
    ("groups", 0, r"groups must be a positive integer, got 0"),
    ("groups", 2.0, r"groups must be a positive integer, got 2.0"),
    ("use_global_stats", "yes", r"use_global_stats must be None, true or false, got 'yes'"),
])
def test_bad_options_are_one_line_errors(option, value, message):
    with pytest.raises(ValueError, match=message) as err:
        build_norm("bn", 8, **{option: value})
    assert "\n" not in str(err.value)


def test_layer_norm_on_features_refuses_paddle_s_epsilon_limit():
    with pytest.raises(ValueError, match=r"ln on \[N, K\] input \(paddle.nn.LayerNorm\) needs epsilon <= 0.001, "
                                         r"got 0.01"):
        build_norm("ln", 6, dims=1, epsilon=0.01)
    assert norm_epsilon(build_norm("ln", 6, dims=1, epsilon=1e-3)) == pytest.approx(1e-3)
    assert norm_epsilon(build_norm("ln", 6, dims=2, epsilon=0.01)) == pytest.approx(0.01)  # GroupNorm: no limit


@pytest.mark.parametrize("data_format", ["NCWH", "", "nchw"])
def test_bad_data_format(data_format):
    with pytest.raises(ValueError, match=f"data_format '{data_format}' does not fit dims=2; use one of NCHW, NHWC"):
        build_norm("gn", 8, groups=2, data_format=data_format)


@pytest.mark.parametrize("num_channels", [0, -3, True, 8.0])
def test_bad_num_channels(num_channels):
    with pytest.raises(ValueError, match="num_channels must be a positive integer"):
        build_norm("bn", num_channels)


def test_state_helpers_read_and_write_the_layer():
    bn = build_norm("bn", 3)
    set_running_stats(bn, np.array([1, 2, 3], "float32"), np.array([4, 5, 6], "float32"))
    mean, variance = running_stats(bn)
    assert mean.numpy().tolist() == [1, 2, 3] and variance.numpy().tolist() == [4, 5, 6]
    assert bn.state_dict()["_mean"].numpy().tolist() == [1, 2, 3]  # the buffers themselves, saved with the model
    assert all(is_norm(build_norm(k, 4, groups=2)) for k in NORM_KINDS if k != "none")
    assert not is_norm(nn.Identity()) and not is_batch_norm(build_norm("gn", 4, groups=2))
    with pytest.raises(TypeError, match="GroupNorm is not a batch norm"):
        running_stats(build_norm("gn", 4, groups=2))


def test_torch_momentum_conversion_gives_the_torch_update():
    torch_momentum = 0.1
    bn = build_norm("bn", 3, dims=1, momentum=momentum_from_torch(torch_momentum))
    x = np.random.randn(16, 3).astype("float32") * 2 + 5
    bn.train()
    bn(paddle.to_tensor(x))
    expected_mean = (1 - torch_momentum) * 0.0 + torch_momentum * x.mean(0)   # PyTorch's formula
    np.testing.assert_allclose(running_stats(bn)[0].numpy(), expected_mean, rtol=1e-5)
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


# every registered kind, so a new one is tested without being named here; SyncBatchNorm has no CPU kernel
RUNNABLE_KINDS = [kind for kind in NORM_KINDS if kind != "sync_bn" or paddle.is_compiled_with_cuda()]


@pytest.mark.parametrize("kind", RUNNABLE_KINDS)
@pytest.mark.parametrize("shape,channels_last", [((3, 8, 4, 4), "NHWC"), ((3, 8, 2, 3, 2), "NDHWC")])
def test_every_kind_gives_the_same_output_channels_last(kind, shape, channels_last):
    x = np.random.randn(*shape).astype("float32") * 2 + 1
    dims = len(shape) - 2
    first = build_norm(kind, 8, dims=dims, groups=4)
    last = build_norm(kind, 8, dims=dims, groups=4, data_format=channels_last)  # both: scale 1, shift 0
    y_first = first(paddle.to_tensor(x)).numpy()
    y_last = last(paddle.to_tensor(np.moveaxis(x, 1, -1))).numpy()
    assert y_first.shape == shape
    np.testing.assert_allclose(np.moveaxis(y_last, -1, 1), y_first, atol=1e-5)
    assert kind == "none" or np.abs(y_first - x).max() > 0.1  # it changed the input


@pytest.mark.parametrize("kind", NORM_KINDS)
def test_every_kind_declares_its_traits_and_drops_its_affine_parameters_on_request(kind):
    layer, bare = build_norm(kind, 6, groups=3), build_norm(kind, 6, groups=3, affine=False)
    assert is_norm(layer) == (kind != "none") and is_norm(bare) == is_norm(layer)
    trainable = [p for p in layer.parameters() if not p.stop_gradient]
    assert [list(p.shape) for p in trainable] == ([] if kind == "none" else [[6], [6]])
    assert [p for p in bare.parameters() if not p.stop_gradient] == []
    assert is_batch_norm(layer) == bool(norm_traits(layer) and norm_traits(layer).batch_stats)
    if is_batch_norm(layer):
        assert [list(t.shape) for t in running_stats(layer)] == [[6], [6]]


@pytest.mark.parametrize("kind", RUNNABLE_KINDS)
def test_every_kind_runs_on_features_and_passes_gradients(kind):
    features = build_norm(kind, 6, dims=1, data_format="NC", groups=3)(paddle.rand([5, 6]))
    assert features.shape == [5, 6]
    x = paddle.to_tensor(np.random.randn(4, 6, 3, 3).astype("float32") * 2 + 1, stop_gradient=False)
    layer = build_norm(kind, 6, groups=3)
    (layer(x) * paddle.rand([4, 6, 3, 3])).sum().backward()
    assert float(x.grad.abs().sum()) > 0
    assert all(float(p.grad.abs().sum()) > 0 for p in layer.parameters() if not p.stop_gradient)


def test_defaults_and_edges_of_build_norm():
    bn = build_norm("bn", 1)  # one channel is a valid layer
    assert bn.weight is not None and bn.bias is not None and bn_momentum(bn) == pytest.approx(0.9)  # affine default
    assert norm_groups(build_norm("gn", 64)) == 32 and norm_epsilon(bn) == pytest.approx(1e-5)
    assert momentum_from_torch(0) == 1.0 and momentum_from_torch(1) == 0.0
    for bad in (-0.01, 1.5):
        with pytest.raises(ValueError, match=rf"^momentum must be in \[0, 1\], got {bad}$"):
            momentum_from_torch(bad)
    with pytest.raises(ValueError, match=r"^momentum must be a number in \[0, 1\] \(Paddle's convention, default "
                                         r"0.9\), got 1.5$"):
        build_norm("bn", 4, momentum=1.5)


def test_group_norm_on_features_normalizes_each_group_of_features():
    x = np.random.randn(5, 6).astype("float32") * 3 + 1
    layer = build_norm("gn", 6, dims=1, data_format="NC", groups=3)
    expected = _numpy_norm(x.reshape(5, 3, 2), axes=2).reshape(5, 6)
    np.testing.assert_allclose(layer(paddle.to_tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("channels,groups,suggested", [(7, 2, 1), (12, 5, 6), (8, 3, 4), (9, 4, 3)])
def test_groups_suggestion_is_the_closest_divisor(channels, groups, suggested):
    with pytest.raises(ValueError, match=rf"use groups={suggested} \(a divisor of {channels}\)$"):
        build_norm("gn", channels, groups=groups)


def test_check_norm_options_copies_and_names_every_error():
    options = {"groups": 8, "epsilon": 1e-3}
    checked = check_norm_options(options)
    assert checked == options and checked is not options and check_norm_options(None) == {}
    cases = [([("groups", 8)], "norm_options must be a mapping of norm options such as {'groups': 8}, "
                               "got [('groups', 8)]"),
             ({"group": 8}, "unknown norm_options key 'group' (did you mean 'groups'?)"),
             ({"momentum": -1}, "norm_options.momentum must be a number in [0, 1] (Paddle's convention, "
                                "default 0.9), got -1")]
    for bad, message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            check_norm_options(bad)
    with pytest.raises(ValueError, match=r"^Arch.norm_options.affine must be true or false, got 1$"):
        check_norm_options({"affine": 1}, where="Arch.norm_options")


def test_set_bn_momentum_changes_the_running_update():
    bn = build_norm("bn", 2, dims=1)
    set_bn_momentum(bn, 0.25)
    x = np.random.randn(8, 2).astype("float32") + 3
    bn.train()
    bn(paddle.to_tensor(x))
    assert bn_momentum(bn) == 0.25
    np.testing.assert_allclose(running_stats(bn)[0].numpy(), 0.75 * x.mean(0), rtol=1e-5)
    with pytest.raises(TypeError, match="^GroupNorm is not a batch norm: it keeps no running statistics$"):
        set_bn_momentum(build_norm("gn", 4, groups=2), 0.5)
