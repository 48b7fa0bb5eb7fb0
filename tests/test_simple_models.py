"""simple_cnn's downsampling switch computes what its name says, checked against numpy."""
import numpy as np
import paddle
import pytest

import ppnorm

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)


def _downsampling_layer(kind):
    model = ppnorm.build_model("simple_cnn", widths=[3, 4], convs_per_stage=1, in_channels=1, num_classes=5,
                               norm="none", downsample=kind)
    model.eval()
    return model, model.features[1]


@pytest.mark.parametrize("kind", ["max", "avg", "conv"])
def test_downsample_kinds_against_numpy(kind):
    model, layer = _downsampling_layer(kind)
    x = np.random.default_rng(0).normal(size=(2, 3, 6, 6)).astype("float32")
    y = layer(paddle.to_tensor(x)).numpy()
    windows = x.reshape(2, 3, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 3, 4)  # 2x2 blocks
    if kind == "max":
        expected = windows.max(-1)
    elif kind == "avg":
        expected = windows.mean(-1)
    else:
        weight, bias = layer.weight.numpy().reshape(3, 3, 4), layer.bias.numpy()  # [out, in, 2*2]
        expected = np.einsum("nchwk,ock->nohw", windows, weight) + bias[None, :, None, None]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert model(paddle.to_tensor(np.zeros((1, 1, 8, 8), "float32"))).shape == [1, 5]


def test_conv_downsampling_is_learned_and_unknown_kinds_are_refused():
    _, conv = _downsampling_layer("conv")
    assert isinstance(conv, paddle.nn.Conv2D) and conv._stride == [2, 2] and conv.weight.shape == [3, 3, 2, 2]
    assert not conv.weight.stop_gradient
    with pytest.raises(ValueError, match="downsample must be one of max, avg, conv, got 'min'"):
        ppnorm.build_model("simple_cnn", in_channels=1, num_classes=10, downsample="min")
