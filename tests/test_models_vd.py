"""The ResNet-D (``_vd``) models, PaddleClas's first-block projection and per-stage learning rates."""
import math

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import ppnorm
from ppnorm.models import BasicBlock

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

# Trainable parameters of PaddleClas 2.6.0's own networks (class_num=1000), measured with
#   sys.path += [<site-packages>/paddleclas]; ppcls.utils.logger.init_logger()
#   m = ppcls.arch.backbone.legendary_models.resnet.ResNet50_vd()
#   sum(int(p.numel()) for p in m.parameters() if not p.stop_gradient)
# test_pretrained.py checks the same against the installed package when it is there.
PADDLECLAS_PARAMS = {"resnet18_vd": 11_712_968, "resnet34_vd": 21_821_128, "resnet50_vd": 25_576_264,
                     "resnet101_vd": 44_568_392, "resnet152_vd": 60_212_040}


def n_params(model):
    return sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)


def lazy(name, **kwargs):
    """The model's layers without initializing the weights (counting ResNet-152 then takes 0.5 s, not 10 s)."""
    with paddle.LazyGuard():
        return ppnorm.build_model(name, **kwargs)


@pytest.mark.parametrize("name", sorted(PADDLECLAS_PARAMS))
def test_vd_parameter_counts_equal_paddleclas(name):
    assert n_params(lazy(name)) == PADDLECLAS_PARAMS[name]


def test_first_projection_gives_paddleclas_resnet18_and_adds_one_1x1_conv():
    plain, projected = lazy("resnet18"), lazy("resnet18", first_projection=True)
    assert plain.layer1[0].downsample is None
    assert n_params(projected) - n_params(plain) == 64 * 64 + 2 * 64  # 1x1 conv + norm scale and shift
    assert n_params(projected) == 11_693_736  # PaddleClas 2.6.0 ResNet18, measured as above


def test_vd_stem_and_shortcuts_have_the_resnet_d_layout():
    model = lazy("resnet50_vd", num_classes=10)
    assert model.stem_kind == "deep"
    convs = [model.conv1[0].conv, model.conv1[1].conv, model.conv1[2]]
    assert [(c.weight.shape[0], c._kernel_size[0], c._stride[0]) for c in convs] == [(32, 3, 2), (32, 3, 1), (64, 3, 1)]
    first = model.layer1[0].downsample  # first stage: stride 1, no pool
    assert "pool" not in dict(first.named_children()) and first[0]._stride == [1, 1]
    for name in ("layer2", "layer3", "layer4"):
        shortcut = getattr(model, name)[0].downsample
        assert list(dict(shortcut.named_children())) == ["pool", "0", "1"]
        assert shortcut[1]._stride == [1, 1] and shortcut[1]._kernel_size == [1, 1]


@pytest.mark.parametrize("size", [8, 7])
def test_vd_shortcut_is_average_pool_then_conv(size):
    """Computed by hand: 2x2 mean (ceil mode: an odd border averages what it has), 1x1 conv, BN in eval."""
    model = ppnorm.build_model("resnet18_vd", num_classes=10)
    shortcut = model.layer2[0].downsample
    shortcut.eval()
    x = np.random.rand(2, 64, size, size).astype("float32")
    padded = np.pad(x, [(0, 0), (0, 0), (0, size % 2), (0, size % 2)], constant_values=np.nan)
    blocks = padded.reshape(2, 64, (size + 1) // 2, 2, (size + 1) // 2, 2)
    pooled = np.nanmean(blocks, axis=(3, 5))
    conv = np.einsum("oc,nchw->nohw", shortcut[1].weight.numpy()[:, :, 0, 0], pooled)
    norm = shortcut[2]
    expected = (conv - norm._mean.numpy()[:, None, None]) / np.sqrt(norm._variance.numpy()[:, None, None] + 1e-5)
    expected = expected * norm.weight.numpy()[:, None, None] + norm.bias.numpy()[:, None, None]
    np.testing.assert_allclose(shortcut(paddle.to_tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_vd_takes_every_switch():
    x = paddle.rand([2, 3, 17, 17])
    nchw = ppnorm.build_model("resnet18_vd", num_classes=4, norm="gn", norm_options={"groups": 8}, act="gelu",
                              dropout=0.5, dropout_mode="downscale_in_infer")
    nhwc = ppnorm.build_model("resnet18_vd", num_classes=4, norm="gn", norm_options={"groups": 8}, act="gelu",
                              dropout=0.5, dropout_mode="downscale_in_infer", data_format="NHWC")
    norm = nchw.layer3[0].downsample[2]
    assert isinstance(norm, paddle.nn.GroupNorm) and norm._num_groups == 8
    nhwc.set_state_dict(nchw.state_dict())
    nchw.eval(), nhwc.eval()
    np.testing.assert_allclose(nhwc(x.transpose([0, 2, 3, 1])).numpy(), nchw(x).numpy(), rtol=1e-4, atol=1e-5)


def test_vd_zero_init_residual_makes_each_block_relu_of_its_shortcut():
    model = ppnorm.build_model("resnet18_vd", num_classes=4, zero_init_residual=True)
    model.eval()
    block = model.layer2[0]
    assert isinstance(block, BasicBlock) and float(block.bn2.weight.abs().sum()) == 0.0
    x = paddle.rand([2, 64, 8, 8])
    np.testing.assert_allclose(block(x).numpy(), F.relu(block.downsample(x)).numpy(), rtol=1e-6, atol=1e-6)


def test_lr_mult_list_scales_each_stage_step():
    model = ppnorm.build_model("resnet18_vd", num_classes=3, lr_mult_list=[0.0, 0.5, 1.0, 1.0, 2.0])
    before = {n: p.numpy().copy() for n, p in model.named_parameters()}
    sgd = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    model(paddle.rand([2, 3, 32, 32])).sum().backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters() if not p.stop_gradient}
    sgd.step()
    after = dict(model.named_parameters())
    for name, mult in [("conv1.0.conv.weight", 0.0), ("layer1.0.conv1.weight", 0.5), ("layer4.1.bn2.weight", 2.0),
                       ("fc.weight", 1.0)]:
        np.testing.assert_allclose(after[name].numpy(), before[name] - 0.1 * mult * grads[name], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("value", [[1.0, 1.0], [1, 1, 1, 1, -1], [1, 1, 1, 1, "x"], 0.1])
def test_bad_lr_mult_list_is_one_line(value):
    with pytest.raises(ValueError, match=r"^lr_mult_list needs 5 numbers >= 0 \(the stem, then each stage\)"):
        ppnorm.build_model("resnet18_vd", lr_mult_list=value)


def test_vd_names_are_listed_and_fixed():
    assert {"resnet18_vd", "resnet34_vd", "resnet50_vd", "resnet101_vd", "resnet152_vd"} <= set(ppnorm.list_models())
    assert "stem" not in ppnorm.models.model_options("resnet50_vd")
    with pytest.raises(ValueError, match="unknown option 'avg_down' for model 'resnet50_vd'"):
        ppnorm.build_model("resnet50_vd", avg_down=False)
