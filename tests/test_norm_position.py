"""The norm_position switch (conv/linear -> norm -> act vs -> act -> norm): values against numpy, the
default unchanged, and the switch through tools/train.py."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from helpers import error_line, run_tool

import ppnorm

EPS = 1e-5


def _bn(x, gamma, beta, axes):
    """Training-mode BatchNorm by hand: batch mean and biased variance over ``axes``."""
    shape = [1] * x.ndim
    shape[1] = -1
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * gamma.reshape(shape) + beta.reshape(shape)


def _relu(x):
    return np.maximum(x, 0.0)


def _randomize_norms(model, seed=1):
    """Non-trivial scale/shift in every norm (and conv/linear bias), so a wrong order cannot pass by accident."""
    rng = np.random.default_rng(seed)
    for name, param in model.named_parameters():
        if param.ndim == 1:
            param.set_value(rng.normal(0.5, 0.5, size=param.shape).astype("float32"))


def _mlp_by_hand(model, x, position, act):
    h = x.reshape(len(x), -1)
    for layer in model.layers:
        h = h @ layer.linear.weight.numpy() + (layer.linear.bias.numpy() if layer.linear.bias is not None else 0)
        gamma, beta = layer.norm.weight.numpy(), layer.norm.bias.numpy()
        h = act(_bn(h, gamma, beta, 0)) if position == "before_act" else _bn(act(h), gamma, beta, 0)
    return h @ model.fc.weight.numpy() + model.fc.bias.numpy()


@pytest.mark.parametrize("position", ["before_act", "after_act"])
@pytest.mark.parametrize("act_name, act", [("relu", _relu), ("sigmoid", lambda v: 1 / (1 + np.exp(-v)))])
def test_mlp_forward_equals_numpy(position, act_name, act):
    model = ppnorm.build_model("mlp", in_features=8, hidden=[7, 5], num_classes=3, norm="bn", act=act_name, norm_position=position)
    _randomize_norms(model)
    x = np.random.default_rng(0).normal(size=(16, 1, 2, 4)).astype("float32")
    model.train()
    got = model(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(got, _mlp_by_hand(model, x, position, act), rtol=1e-4, atol=1e-5)
    # a bias on the linear layer exactly when no norm follows it directly
    assert (model.layers[0].linear.bias is not None) == (position == "after_act")


def _conv(x, conv):
    """``conv`` applied with plain paddle ops (no Layer), its bias included when it has one."""
    out = F.conv2d(paddle.to_tensor(x), conv.weight, bias=conv.bias, stride=conv._stride, padding=conv._padding)
    return out.numpy()


def test_resnet_basic_block_after_act_equals_an_independent_computation():
    """after_act: conv1 (+bias) -> relu -> bn1, conv2 -> bn2, add the shortcut, relu: bn2 stays before the add."""
    model = ppnorm.build_model("resnet20", num_classes=4, in_channels=2, norm_position="after_act")
    _randomize_norms(model)
    block = model.layer2[0]  # stride 2 with a projection shortcut
    x = np.random.default_rng(0).normal(size=(4, 16, 8, 8)).astype("float32")
    block.train()
    got = block(paddle.to_tensor(x)).numpy()
    w = {name: p.numpy() for name, p in block.named_parameters()}
    out = _bn(_relu(_conv(x, block.conv1)), w["bn1.weight"], w["bn1.bias"], (0, 2, 3))
    out = _bn(_conv(out, block.conv2), w["bn2.weight"], w["bn2.bias"], (0, 2, 3))
    shortcut = _bn(_conv(x, block.downsample[0]), w["downsample.1.weight"], w["downsample.1.bias"], (0, 2, 3))
    np.testing.assert_allclose(got, _relu(out + shortcut), rtol=1e-4, atol=1e-4)
    assert block.conv1.bias is not None and block.conv2.bias is None and model.conv1.bias is not None


@pytest.mark.slow
def test_resnet_bottleneck_and_stem_follow_the_switch():
    """Bottleneck after_act: conv1/conv2 -> act -> norm, conv3 -> bn3 before the add; the stem conv -> act -> bn1."""
    model = ppnorm.build_model("resnet50", num_classes=3, norm_position="after_act")
    _randomize_norms(model)
    block = model.layer1[1]  # identity shortcut
    x = np.random.default_rng(0).normal(size=(2, 256, 4, 4)).astype("float32")
    block.train()
    w = {name: p.numpy() for name, p in block.named_parameters()}
    out = _bn(_relu(_conv(x, block.conv1)), w["bn1.weight"], w["bn1.bias"], (0, 2, 3))
    out = _bn(_relu(_conv(out, block.conv2)), w["bn2.weight"], w["bn2.bias"], (0, 2, 3))
    out = _bn(_conv(out, block.conv3), w["bn3.weight"], w["bn3.bias"], (0, 2, 3))
    np.testing.assert_allclose(block(paddle.to_tensor(x)).numpy(), _relu(out + x), rtol=1e-4, atol=1e-4)
    image = np.random.default_rng(1).normal(size=(2, 3, 16, 16)).astype("float32")
    model.train()
    stem = _bn(_relu(_conv(image, model.conv1)), model.bn1.weight.numpy(), model.bn1.bias.numpy(), (0, 2, 3))
    got = model.bn1(model.act(model.conv1(paddle.to_tensor(image)))).numpy()
    np.testing.assert_allclose(got, stem, rtol=1e-4, atol=1e-4)


def test_simple_cnn_after_act_orders_each_conv_unit():
    model = ppnorm.build_model("simple_cnn", widths=[3], convs_per_stage=1, in_channels=2, num_classes=2,
                               act="sigmoid", norm_position="after_act")
    _randomize_norms(model)
    unit = model.features[0]
    assert [name for name, _ in unit.named_children()] == ["conv", "act", "norm"]
    x = np.random.default_rng(0).normal(size=(5, 2, 6, 6)).astype("float32")
    unit.train()
    expected = _bn(1 / (1 + np.exp(-_conv(x, unit.conv))), unit.norm.weight.numpy(), unit.norm.bias.numpy(), (0, 2, 3))
    np.testing.assert_allclose(unit(paddle.to_tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_the_default_is_unchanged_and_still_loads_paddle_vision(name):
    """Default = before_act: no new parameters, same keys as the explicit value, and paddle.vision's logits."""
    paddle.seed(0)
    default = ppnorm.build_model(name, num_classes=10)
    explicit = ppnorm.build_model(name, num_classes=10, norm_position="before_act")
    assert list(default.state_dict()) == list(explicit.state_dict())
    assert not any(key.endswith("conv1.bias") or key.endswith("conv2.bias") for key in default.state_dict())
    reference = getattr(paddle.vision.models, name)(num_classes=10)
    default.set_state_dict(ppnorm.models.from_paddle_vision(reference.state_dict()))
    default.eval(), reference.eval()
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=(1, 3, 32, 32)).astype("float32"))
    np.testing.assert_allclose(default(x).numpy(), reference(x).numpy(), rtol=1e-4, atol=1e-4)


def test_after_act_keeps_names_and_adds_only_the_moved_biases():
    before = ppnorm.build_model("resnet20", norm_position="before_act").state_dict()
    after = ppnorm.build_model("resnet20", norm_position="after_act").state_dict()
    assert set(before) <= set(after)
    added = sorted(set(after) - set(before))
    assert added == ["conv1.bias"] + [f"layer{s}.{b}.conv1.bias" for s in (1, 2, 3) for b in range(3)]


def test_bad_positions_are_one_line_errors():
    with pytest.raises(ValueError, match=r"^norm_position must be one of before_act, after_act, got 'after' "
                                         r"\(did you mean 'after_act'\?\)$"):
        ppnorm.build_model("resnet20", norm_position="after")
    with pytest.raises(ValueError, match="not implemented for DenseNet"):
        ppnorm.build_model("densenet_small", norm_position="after_act")


def _train(*overrides, timeout=240):
    return run_tool("train", "-c", "configs/digits/resnet20.yaml", *[arg for o in overrides for arg in ("-o", o)],
                    timeout=timeout)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_bad_position_through_tools_train_is_one_error_line():
    line = error_line(_train("Arch.norm_position=after", timeout=120))
    assert line.endswith("Arch.norm_position must be one of before_act, after_act, got 'after' "
                             "(did you mean 'after_act'?)")


@pytest.mark.slow
@pytest.mark.e2e
def test_one_epoch_through_tools_train_with_after_act(tmp_path):
    run = _train("Arch.norm_position=after_act", "Global.epochs=1", f"Global.output_dir={tmp_path}",
                 "Global.use_visualdl=false", "Global.cpu_threads=1", "Global.print_batch_step=100")
    assert run.returncode == 0, run.stderr
    assert "norm_position: after_act" in (tmp_path / "config.yaml").read_text()
    state = paddle.load(str(tmp_path / "latest.pdparams"))
    assert "layer1.0.conv1.bias" in state and "layer1.0.conv2.bias" not in state  # the after_act model was trained
    top1 = float(run.stdout.split("[Done] top1 ")[1].split()[0])
    assert top1 > 0.3  # one epoch of digits is well above 10% chance
