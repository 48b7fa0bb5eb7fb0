import numpy as np
import paddle
import paddle.nn as nn
import pytest

import ppnorm
from ppnorm.models import from_paddle_vision, list_models, model_options
from ppnorm.models.pretrained import weight_urls
from ppnorm.nn import bn_momentum, is_batch_norm, is_norm, norm_epsilon, norm_groups, running_stats, set_running_stats

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)


def _n_params(model):
    return sum(int(p.numel()) for p in model.parameters() if not p.stop_gradient)


def _randomize_norm_stats(model):
    """Give every BN layer non-trivial running stats so that loading them is really tested."""
    for layer in model.sublayers():
        if is_batch_norm(layer):
            c = running_stats(layer)[0].shape[0]
            set_running_stats(layer, np.random.randn(c).astype("float32") * 0.1,
                              np.random.uniform(0.5, 1.5, c).astype("float32"))
            layer.weight.set_value(np.random.uniform(0.5, 1.5, c).astype("float32"))
            layer.bias.set_value(np.random.randn(c).astype("float32") * 0.1)


def _example_input(model):
    """A batch of 2 of what ``model`` takes, read from its first layer: [N, K] features (Linear), [N, C, 16]
    sequences (Conv1D) or [N, C, 32, 32] images (Conv2D)."""
    first = next(layer for layer in model.sublayers() if isinstance(layer, (nn.Linear, nn.Conv1D, nn.Conv2D)))
    if isinstance(first, nn.Linear):
        return paddle.rand([2, first.weight.shape[0]])
    return paddle.rand([2, first.weight.shape[1]] + ([16] if isinstance(first, nn.Conv1D) else [32, 32]))


# every registered model, so a new one is tested without being named here; those with ImageNet weights
# (ImageNet-sized, seconds to build each) are slow
EVERY_MODEL = [pytest.param(name, marks=pytest.mark.slow) if name in weight_urls() else name for name in list_models()]


@pytest.mark.parametrize("name", EVERY_MODEL)
def test_every_registered_model_runs_backward_and_switches_its_norm(name):
    assert "norm" in model_options(name)
    for norm in ("bn", "none"):
        model = ppnorm.build_model(name, num_classes=3, norm=norm)
        out = model(_example_input(model))
        assert out.shape == [2, 3]
        norms = [layer for layer in model.sublayers() if is_norm(layer)]
        assert (norms and all(is_batch_norm(layer) for layer in norms)) if norm == "bn" else norms == []
        (out * paddle.rand(out.shape)).sum().backward()
        assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.parameters()
                   if not p.stop_gradient), norm


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "densenet121"])
def test_paddle_vision_weights_load_and_give_the_same_logits(name):
    reference = getattr(paddle.vision.models, name)()
    _randomize_norm_stats(reference)
    ours = ppnorm.build_model(name)
    assert _n_params(ours) == _n_params(reference)
    state = from_paddle_vision(reference.state_dict())
    assert sorted(state) == sorted(ours.state_dict())
    ours.set_state_dict(state)
    reference.eval(), ours.eval()
    x = paddle.rand([2, 3, 64, 64])
    diff = float((ours(x) - reference(x)).abs().max())
    assert diff < 1e-5


EXPECTED_PARAMS = {  # trainable parameters with num_classes=10; resnet20: He et al. report 0.27M
    "resnet20": 272_474, "resnet32": 466_906, "resnet44": 661_338, "resnet56": 855_770, "resnet110": 1_730_714,
}


@pytest.mark.parametrize("name,expected", EXPECTED_PARAMS.items())
def test_cifar_resnet_sizes(name, expected):
    model = ppnorm.build_model(name, num_classes=10)
    assert _n_params(model) == expected
    assert model(paddle.rand([2, 3, 32, 32])).shape == [2, 10]


@pytest.mark.parametrize("norm", ["bn", "gn", "ln", "in", "none"])
@pytest.mark.parametrize("name", ["resnet20", "densenet_small"])
def test_every_norm_trains_on_small_images(name, norm):
    model = ppnorm.build_model(name, num_classes=10, in_channels=1, norm=norm, norm_options={"groups": 8})
    x = paddle.rand([4, 1, 16, 16])  # densenet_small ends at 2x2: instance norm of a 1x1 map is constant
    weights = paddle.rand([4, 10])
    loss = (model(x) * weights).sum()
    loss.backward()
    trainable = [p for p in model.parameters() if not p.stop_gradient]
    assert all(p.grad is not None for p in trainable)  # every weight is reached by the loss
    # a small step against the gradient lowers the loss by step * |grad|^2 (first order): the gradients
    # are the loss's true gradients, not merely non-zero
    squared = sum(float((p.grad ** 2).sum()) for p in trainable)
    step = 0.01 / squared
    with paddle.no_grad():
        for p in trainable:
            p.set_value(p - step * p.grad)
    decrease = float(loss) - float((model(x) * weights).sum())
    assert decrease == pytest.approx(step * squared, rel=0.05)


def test_nhwc_gives_the_same_output_as_nchw():
    for name in ("resnet20", "densenet_small"):
        nchw = ppnorm.build_model(name, num_classes=5)
        nhwc = ppnorm.build_model(name, num_classes=5, data_format="NHWC")
        _randomize_norm_stats(nchw)
        nhwc.set_state_dict(nchw.state_dict())
        nchw.eval(), nhwc.eval()
        x = paddle.rand([2, 3, 16, 16])
        diff = float((nhwc(x.transpose([0, 2, 3, 1])) - nchw(x)).abs().max())
        assert diff < 1e-4


@pytest.mark.slow
def test_sync_bn_converts_every_batch_norm():
    plain = ppnorm.build_model("resnet50")
    synced = ppnorm.build_model("resnet50", norm="sync_bn")
    n_bn = sum(isinstance(l, nn.BatchNorm2D) for l in plain.sublayers())
    assert n_bn == 53
    assert sum(isinstance(l, nn.SyncBatchNorm) for l in synced.sublayers()) == n_bn
    assert not any(isinstance(l, nn.BatchNorm2D) for l in synced.sublayers())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(plain)
    assert sum(isinstance(l, nn.SyncBatchNorm) for l in converted.sublayers()) == n_bn


@pytest.mark.slow
def test_with_pool_false_returns_the_feature_map():
    assert ppnorm.build_model("resnet18", with_pool=False)(paddle.rand([1, 3, 64, 64])).shape == [1, 512, 2, 2]
    full = ppnorm.build_model("resnet20", num_classes=10)
    features = ppnorm.build_model("resnet20", with_pool=False)
    features.set_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("fc.")})
    full.eval(), features.eval()
    x = paddle.rand([2, 3, 32, 32])
    feature_map = features(x)
    assert feature_map.shape == [2, 64, 8, 8]
    # the map is what the classifier pools: its spatial mean through fc gives the full model's logits
    np.testing.assert_allclose(full.fc(feature_map.mean(axis=[2, 3])).numpy(), full(x).numpy(), rtol=1e-5, atol=1e-5)
    pooled = ppnorm.build_model("densenet_small", num_classes=0)(paddle.rand([1, 3, 32, 32]))
    assert pooled.shape == [1, 248]


def test_options_reach_the_layers():
    model = ppnorm.build_model("resnet20", act="tanh", dropout=0.3, dropout_mode="downscale_in_infer",
                               norm="gn", norm_options={"groups": 4, "epsilon": 1e-3})
    assert any(isinstance(l, nn.Tanh) for l in model.sublayers()) and not any(isinstance(l, nn.ReLU)
                                                                               for l in model.sublayers())
    assert isinstance(model.dropout, nn.Dropout) and model.dropout.p == 0.3 and model.dropout.mode == "downscale_in_infer"
    groups = {norm_groups(l) for l in model.sublayers() if isinstance(l, nn.GroupNorm)}
    assert groups == {4}


@pytest.mark.slow
def test_zero_init_residual_zeros_the_last_norm_of_each_block():
    model = ppnorm.build_model("resnet50", zero_init_residual=True)
    last = [block.bn3.weight for stage in (model.layer1, model.layer2, model.layer3, model.layer4) for block in stage]
    assert len(last) == 16 and all(float(w.abs().sum()) == 0 for w in last)
    assert float(model.layer1[0].bn1.weight.sum()) == 64
    with pytest.raises(ValueError, match="does not apply to DenseNet"):
        ppnorm.build_model("densenet_small", zero_init_residual=True)


@pytest.mark.parametrize("init,expected_std", [("kaiming", lambda fan_in, fan_out: np.sqrt(2 / fan_in)),
                                               ("xavier", lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out))),
                                               ("normal", lambda fan_in, fan_out: 0.05)])
def test_init_schemes(init, expected_std):
    model = ppnorm.build_model("resnet20", init=init, init_std=0.05)
    weight = model.layer3[1].conv1.weight.numpy()  # [64, 64, 3, 3]
    fan_in, fan_out = 64 * 9, 64 * 9
    assert weight.std() == pytest.approx(expected_std(fan_in, fan_out), rel=0.05)


def test_registry_errors_are_one_line_and_helpful():
    with pytest.raises(ValueError, match=r"unknown model 'resnet19' \(did you mean 'resnet18'\?\)"):
        ppnorm.build_model("resnet19")
    with pytest.raises(ValueError, match=r"unknown option 'num_class' for model 'resnet20' \(did you mean 'num_classes'"):
        ppnorm.build_model("resnet20", num_class=10)
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        ppnorm.build_model("resnet20", act="rleu")
    with pytest.raises(ValueError, match="num_channels=16 is not divisible by groups=32; use groups=16"):
        ppnorm.build_model("resnet20", norm="gn")
    with pytest.raises(ValueError, match="stem"):
        ppnorm.build_model("resnet18", stem="tiny")


def test_stem_kind_is_the_string_and_stem_the_layers():
    """``stem_kind`` names the stem in every model; DenseNet's ``stem`` is its layers, ResNet has none by that name."""
    resnet, cifar_resnet = ppnorm.build_model("resnet18"), ppnorm.build_model("resnet20")
    densenet = ppnorm.build_model("densenet_small", stem="imagenet")
    assert (resnet.stem_kind, cifar_resnet.stem_kind, densenet.stem_kind) == ("imagenet", "cifar", "imagenet")
    assert not hasattr(resnet, "stem") and isinstance(densenet.stem, paddle.nn.Sequential)
    assert resnet.conv1.weight.shape[2:] == [7, 7] and cifar_resnet.conv1.weight.shape[2:] == [3, 3]
    assert densenet.stem.conv_norm_act.conv.weight.shape[2:] == [7, 7]


def test_build_from_config_dict_and_options_listing():
    model = ppnorm.build_model({"name": "resnet20", "num_classes": 3, "norm": "gn", "norm_options": {"groups": 4}},
                               in_channels=1)
    assert model(paddle.rand([2, 1, 8, 8])).shape == [2, 3]
    assert {"num_classes", "norm", "stem", "widths"} <= set(model_options("resnet18"))
    assert "stem" not in model_options("resnet20")  # fixed by the CIFAR definition
    assert "stem" in model_options("densenet_small")
    assert set(ppnorm.list_models()) >= {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet20",
                                         "resnet32", "resnet44", "resnet56", "resnet110", "densenet121",
                                         "densenet161", "densenet169", "densenet201", "densenet264", "densenet_small"}


def test_paddle_hub_loads_from_the_repository():
    import os
    repo_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert "resnet18" in paddle.hub.list(repo_dir, source="local", force_reload=True)
    model = paddle.hub.load(repo_dir, "resnet18", source="local", num_classes=10)
    assert model.fc.weight.shape == [512, 10]


@pytest.mark.slow
def test_import_does_not_pull_in_the_engine_or_plotting():
    import subprocess
    import sys
    code = ("import sys, ppnorm; bad = [m for m in ('visualdl', 'matplotlib', 'ppnorm.engine', 'sklearn') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_plain_resnet_has_the_same_layers_without_shortcuts():
    residual = ppnorm.build_model("resnet20", num_classes=10)
    plain = ppnorm.build_model("resnet20", num_classes=10, residual=False)
    shortcut_params = sum(int(p.numel()) for name, p in residual.named_parameters() if "downsample" in name)
    assert _n_params(plain) == _n_params(residual) - sum(
        int(p.numel()) for name, p in residual.named_parameters() if "downsample" in name and not p.stop_gradient)
    assert shortcut_params > 0 and not [n for n, _ in plain.named_parameters() if "downsample" in n]
    plain.set_state_dict({k: v for k, v in residual.state_dict().items() if "downsample" not in k})
    block = plain.layer1[0]
    x = paddle.randn([2, 16, 8, 8])
    block.eval()
    expected = block.act(block.bn2(block.conv2(block.act(block.bn1(block.conv1(x))))))
    np.testing.assert_allclose(block(x).numpy(), expected.numpy(), rtol=1e-6)  # no identity added
    with pytest.raises(ValueError, match="plain network"):
        ppnorm.build_model("resnet20", residual=False, zero_init_residual=True)


def test_experiment_models_mlp_and_simple_cnn():
    mlp = ppnorm.build_model("mlp", hidden=[20, 30], norm="bn", act="tanh", dropout=0.5)
    kinds = [type(layer).__name__ for layer in mlp.layers[0].children()]
    assert kinds == ["Linear", "BatchNorm1D", "Tanh", "Dropout"]
    assert mlp.layers[0].linear.bias is None and ppnorm.build_model("mlp").layers[0].linear.bias is not None
    assert mlp(paddle.randn([4, 1, 8, 8])).shape == [4, 10]
    cnn = ppnorm.build_model("simple_cnn", in_channels=1, num_classes=10, norm="gn", norm_options={"groups": 8})
    assert sum(isinstance(layer, nn.GroupNorm) for layer in cnn.sublayers()) == 4
    assert cnn(paddle.randn([2, 1, 8, 8])).shape == [2, 10]


@pytest.mark.slow
def test_group_norm_options_are_checked_per_layer_with_its_channels():
    model = ppnorm.build_model("resnet50", norm="gn", norm_options={"groups": 64})  # every width divides by 64
    group_norms = [layer for layer in model.sublayers() if isinstance(layer, nn.GroupNorm)]
    assert len(group_norms) == 53 and {norm_groups(layer) for layer in group_norms} == {64}
    with pytest.raises(ValueError, match=r"num_channels=64 is not divisible by groups=48; use groups=64"):
        ppnorm.build_model("resnet50", norm="gn", norm_options={"groups": 48})
    with pytest.raises(ValueError, match=r"num_channels=96 is not divisible by groups=64; use groups=48"):
        ppnorm.build_model("densenet_small", norm="gn", norm_options={"groups": 64})  # 64 -> 96 -> 128 channels


def test_norm_options_reach_every_norm_layer():
    model = ppnorm.build_model("resnet20", norm_options={"momentum": 0.8, "epsilon": 1e-3, "affine": False})
    bns = [layer for layer in model.sublayers() if is_batch_norm(layer)]
    assert len(bns) == 21 and {(bn_momentum(bn), norm_epsilon(bn)) for bn in bns} == {(0.8, 1e-3)}
    vectors = [name for name, p in model.named_parameters() if not p.stop_gradient and len(p.shape) == 1]
    assert vectors == ["fc.bias"]  # affine=False: no trainable norm scale or shift
    mlp = ppnorm.build_model("mlp", hidden=[5, 7], norm="bn", norm_options={"momentum": 0.6, "epsilon": 1e-2})
    assert [(bn_momentum(l.norm), norm_epsilon(l.norm)) for l in mlp.layers] == [(0.6, 1e-2)] * 2
    frozen = ppnorm.build_model("resnet20", norm_options={"use_global_stats": True})
    frozen.train()
    frozen(paddle.rand([2, 3, 8, 8]))
    assert float(running_stats(frozen.bn1)[0].abs().sum()) == 0  # running statistics used, not updated


@pytest.mark.parametrize("name", ["resnet20", "mlp"])
@pytest.mark.parametrize("options,message", [
    ([("groups", 4)], r"norm_options must be a mapping of norm options such as \{'groups': 8\}, "
                      r"got \[\('groups', 4\)\]"),
    ({"gruops": 4}, r"unknown norm_options key 'gruops' \(did you mean 'groups'\?\); valid: momentum, epsilon, affine"),
    ({"data_format": "NHWC"}, r"unknown norm_options key 'data_format'"),
    ({"momentum": 1.1}, r"norm_options.momentum must be a number in \[0, 1\]"),
    ({"epsilon": 0}, r"norm_options.epsilon must be a positive number"),
    ({"affine": "false"}, r"norm_options.affine must be true or false, got 'false'"),
    ({"groups": -2}, r"norm_options.groups must be a positive integer, got -2"),
])
def test_bad_norm_options_are_refused_before_building(name, options, message):
    with pytest.raises(ValueError, match=message) as err:
        ppnorm.build_model(name, norm="bn", norm_options=options)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name,kwargs,message", [
    ("resnet20", {"in_channels": 0}, r"in_channels must be an integer >= 1, got 0"),
    ("densenet_small", {"in_channels": -1}, r"in_channels must be an integer >= 1, got -1"),
    ("simple_cnn", {"in_channels": 2.0}, r"in_channels must be an integer >= 1, got 2.0"),
    ("resnet20", {"num_classes": -1}, r"num_classes must be an integer >= 0 \(0 leaves the fc layer out\), got -1"),
    ("resnet20", {"num_classes": True}, r"num_classes must be an integer >= 0"),
    ("mlp", {"num_classes": 0}, r"num_classes must be an integer >= 1, got 0"),
    ("mlp", {"in_features": 0}, r"in_features must be an integer >= 1, got 0"),
    ("resnet20", {"data_format": "NCWH"}, r"data_format must be one of NCHW, NHWC, got 'NCWH'"),
    ("mlp", {"norm": "batchnorm"}, r"unknown norm kind 'batchnorm'; valid kinds: bn, sync_bn, gn, ln, in, none, rms"),
    ("mlp", {"act": "rleu"}, r"unknown activation 'rleu' \(did you mean 'relu'\?\)"),
])
def test_bad_model_arguments_are_one_line_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message) as err:
        ppnorm.build_model(name, **kwargs)
    assert "\n" not in str(err.value)
