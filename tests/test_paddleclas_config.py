"""PaddleClas configs: detection, the translation key by key, the notes block, one-line refusals."""
import copy
import math

import paddle
import pytest
import yaml

from ppnorm.engine.config import ConfigError, load_config, validate
from ppnorm.paddleclas.dialect import detect
from ppnorm.paddleclas.names import ARCHS
from ppnorm.paddleclas.translator import translate
from ppnorm.engine.optim import build_lr_scheduler
from ppnorm.models import pretrained as pretrained_module
from ppnorm.models.registry import MODELS

HERE = "tests/data/paddleclas"
R50, DENSE, VD = f"{HERE}/ResNet50.yaml", f"{HERE}/DenseNet121.yaml", f"{HERE}/ResNet50_vd.yaml"
NO_VD = "resnet50_vd" not in MODELS
SKIP_VD = pytest.mark.skipif(NO_VD, reason="resnet*_vd not in the zoo yet")


@pytest.fixture(autouse=True)
def empty_paddleclas_cache(tmp_path, monkeypatch):
    """Arch.pretrained: True reads PaddleClas's download cache; the tests' is an empty folder."""
    monkeypatch.setattr(pretrained_module, "PADDLECLAS_CACHE", str(tmp_path / "paddleclas_weights"))
    return tmp_path / "paddleclas_weights"


def raw(path=R50):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def run(config, *overrides):
    """Translate and validate a PaddleClas mapping (as load_config does)."""
    return validate(translate(copy.deepcopy(config), overrides, "test"), "test")


def test_detects_paddleclas_files_and_not_ppnorms():
    assert all(detect(raw(path)) for path in (R50, DENSE, VD))
    assert not detect(raw("configs/digits/resnet20.yaml"))
    assert not detect(raw("configs/imagenet/resnet50.yaml"))


def test_resnet50_file_translates_key_by_key(capsys):
    config = load_config(R50)
    g = config["Global"]
    assert (g["device"], g["epochs"], g["save_interval"], g["eval_interval"], g["print_batch_step"]) == \
        ("gpu", 120, 1, 1, 10)
    assert (g["output_dir"], g["use_visualdl"]) == ("./output/", False)
    assert (g["checkpoints"], g["pretrained_model"]) == (None, None)
    assert config["Export"]["save_dir"] == "./inference"
    assert config["Arch"] == {"name": "resnet50", "num_classes": 1000}
    assert config["Loss"] == {"name": "CrossEntropy", "label_smoothing": 0.0}
    opt = config["Optimizer"]
    assert (opt["name"], opt["momentum"], opt["weight_decay"]) == ("Momentum", 0.9, 0.0001)
    assert opt["lr"]["name"] == "Piecewise" and opt["lr"]["decay_epochs"] == [30, 60, 90]
    assert opt["lr"]["learning_rate"] == 0.1 and opt["lr"]["gamma"] == pytest.approx(0.1)
    assert config["Metric"] == {"topk": [1, 5]}
    train, val = config["DataLoader"]["Train"], config["DataLoader"]["Eval"]
    assert train["dataset"] == {"name": "file_list", "list_file": "./dataset/ILSVRC2012/train_list.txt",
                                "root": "./dataset/ILSVRC2012/"}
    assert [next(iter(op)) for op in train["transforms"]] == ["DecodeImage", "RandCropImage", "RandFlipImage",
                                                              "NormalizeImage"]
    assert train["transforms"][1] == {"RandCropImage": {"size": 224}}
    assert (train["batch_size"], train["shuffle"], train["drop_last"], train["num_workers"]) == (64, True, False, 4)
    assert (val["batch_size"], val["shuffle"], val["drop_last"]) == (64, False, False)
    assert val["transforms"][1:3] == [{"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}}]
    err = capsys.readouterr().err
    assert err.count("[PaddleClas]") == 1  # one block
    assert "Arch.pretrained = True" in err and "DataLoader.Train.loader.use_shared_memory" in err
    assert "Infer.transforms are equal to DataLoader.Eval's" in err
    assert "Optimizer.lr" not in err  # 120 epochs: PaddleClas's own rule gives the file's decay_epochs/values


def test_densenet121_file():
    config = load_config(DENSE)
    assert config["Arch"] == {"name": "densenet121", "num_classes": 1000}
    assert config["Optimizer"]["lr"]["decay_epochs"] == [30, 60, 90]


@pytest.mark.skipif(not NO_VD, reason="resnet50_vd is registered")
def test_quick_start_vd_file_names_the_missing_model():
    with pytest.raises(ConfigError, match="Arch.name=ResNet50_vd needs ppnorm's 'resnet50_vd'"):
        load_config(VD)


@SKIP_VD
def test_quick_start_vd_file():
    config = load_config(VD)
    assert config["Arch"] == {"name": "resnet50_vd", "num_classes": 102}
    lr = config["Optimizer"]["lr"]
    assert (lr["name"], lr["learning_rate"], lr["warmup_epochs"]) == ("Cosine", 0.0125, 5)
    assert config["Optimizer"]["weight_decay"] == pytest.approx(1e-5) and config["Global"]["epochs"] == 20


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_arch_names(name):
    target = name.lower()
    if target not in MODELS:
        pytest.skip("resnet*_vd not in the zoo yet")
    projection = {"first_projection": True} if name in ("ResNet18", "ResNet34") else {}
    assert run(raw(), f"Arch.name={name}", "Arch.class_num=7")["Arch"] == {"name": target, "num_classes": 7,
                                                                          **projection,
                                                                          **({} if "pretrained" not in
                                                                             MODELS.options(target) else
                                                                             {"pretrained": True})}


# Trainable parameters of PaddleClas 2.6.0's ResNet18 / ResNet34 (class_num=1000; see test_models_vd.py)
PADDLECLAS_BASIC_PARAMS = {"ResNet18": 11_693_736, "ResNet34": 21_801_896}


@pytest.mark.parametrize("name", sorted(PADDLECLAS_BASIC_PARAMS))
def test_basic_resnets_get_paddleclas_first_block_shortcut(name):
    arch = run(raw(), f"Arch.name={name}")["Arch"]
    with paddle.LazyGuard():
        model = MODELS.build(arch["name"], **{k: v for k, v in arch.items() if k != "name"})
    trainable = sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)
    assert trainable == PADDLECLAS_BASIC_PARAMS[name]
    assert run(raw(), f"Arch.name={name}", "Arch.use_first_short_conv=False")["Arch"]["first_projection"] is False


def test_use_first_short_conv_false_is_refused_where_paddleclas_needs_the_shortcut():
    with pytest.raises(ConfigError, match="Arch.use_first_short_conv=False is not supported for ResNet50"):
        run(raw(), "Arch.use_first_short_conv=False")
    assert "first_projection" not in run(raw(), "Arch.use_first_short_conv=True")["Arch"]  # ResNet50 has it anyway


def test_unknown_arch_is_one_line():
    with pytest.raises(ConfigError, match=r"Arch.name='MobileNetV3_large_x1_0' is not a model ppnorm has; .*ResNet50"
                                          r".*DenseNet121") as error:
        run(raw(), "Arch.name=MobileNetV3_large_x1_0")
    assert "\n" not in str(error.value)


LEGACY = f"{HERE}/ResNet18_legacy.yaml"  # PaddleClas 2.2's layout: Global.class_num, no Arch.class_num
AS_PADDLECLAS = "[PaddleClas] test: warning (as PaddleClas): Global.class_num is deprecated, use Arch.class_num; "


def test_arch_class_num_wins_over_global_class_num_with_one_warning(capsys):
    assert run(raw(LEGACY), "Arch.class_num=2")["Arch"]["num_classes"] == 2
    err = capsys.readouterr().err
    assert err.count(AS_PADDLECLAS) == 1
    assert f"{AS_PADDLECLAS}Global.class_num=1000 is ignored, Arch.class_num=2 is used\n" in err


def test_topk_above_class_num_is_warned_as_paddleclas_does(capsys):
    assert run(raw(LEGACY), "Arch.class_num=2")["Metric"]["topk"] == [1, 5]
    assert "warning (as PaddleClas): Metric TopkAcc topk [5] is more than Arch.class_num=2" in capsys.readouterr().err
    run(raw(LEGACY), "Arch.class_num=5")
    assert "Metric TopkAcc" not in capsys.readouterr().err


def test_global_class_num_fills_a_missing_arch_class_num_with_one_warning(capsys):
    assert run(raw(LEGACY), "Global.class_num=5")["Arch"]["num_classes"] == 5
    err = capsys.readouterr().err
    assert err.count(AS_PADDLECLAS) == 1 and f"{AS_PADDLECLAS}Arch.class_num is set to 5\n" in err


def test_no_class_num_anywhere_is_paddleclas_default_1000(capsys):
    config = raw()
    del config["Arch"]["class_num"]
    assert run(config)["Arch"]["num_classes"] == 1000  # PaddleClas's ResNet50(class_num=1000), not the data's
    assert "warning (as PaddleClas)" not in capsys.readouterr().err


def test_overrides_read_python_literals_as_paddleclas_does():
    config = run(raw(), "Optimizer.regularizer.coeff=1e-4", "Global.pretrained_model=None",
                 "Metric.Eval.0.TopkAcc.topk=(1, 3)")
    assert config["Optimizer"]["weight_decay"] == 1e-4  # YAML would read '1e-4' as a string
    assert config["Global"]["pretrained_model"] is None  # YAML would read 'None' as a file name
    assert config["Metric"]["topk"] == [1, 3]
    assert run(raw(), "Arch.name=ResNet18")["Arch"]["name"] == "resnet18"  # other text: read as before (YAML)


def test_pretrained_tensors_of_another_shape_are_skipped_as_paddleclas_loads():
    assert run(raw())["Global"]["pretrained_skip_mismatched"] is True  # PaddleClas: Layer.set_dict skips them
    assert load_config("configs/digits/resnet20.yaml")["Global"]["pretrained_skip_mismatched"] is False


def test_sampler_without_shuffle_or_drop_last_keeps_paddles_defaults():
    config = raw()
    for key in ("shuffle", "drop_last"):
        del config["DataLoader"]["Train"]["sampler"][key]
    train = run(config)["DataLoader"]["Train"]
    assert (train["shuffle"], train["drop_last"]) == (False, False)  # ppnorm's own Train default is (True, True)


def test_arch_use_sync_bn_is_global_sync_bn_on_gpu_and_ignored_elsewhere(capsys):
    assert run(raw(), "Arch.use_sync_bn=True")["Global"]["sync_bn"] is True  # the file says device: gpu
    assert "Arch.use_sync_bn is ignored" not in capsys.readouterr().err
    config = run(raw(), "Arch.use_sync_bn=True", "Global.device=cpu")
    assert config["Global"]["sync_bn"] is False and "use_sync_bn" not in config["Arch"]
    assert "warning (as PaddleClas): Arch.use_sync_bn is ignored on device 'cpu'" in capsys.readouterr().err


def test_arch_options_pass_to_ppnorms_model():
    assert run(raw(), "Arch.norm=gn")["Arch"]["norm"] == "gn"


@pytest.mark.skipif("pretrained" in MODELS.options("resnet50"), reason="the zoo takes pretrained= itself")
def test_arch_pretrained_path_loads_like_pretrained_model(capsys):
    assert run(raw(), "Arch.pretrained=weights/ResNet50_pretrained")["Global"]["pretrained_model"] == \
        "weights/ResNet50_pretrained"
    assert "Arch.pretrained" not in capsys.readouterr().err
    assert run(raw(), "Arch.pretrained=False")["Arch"] == {"name": "resnet50", "num_classes": 1000}


def test_arch_pretrained_true_uses_paddleclas_cache_or_says_where_to_put_the_file(empty_paddleclas_cache, capsys):
    cached = empty_paddleclas_cache / "ResNet50_pretrained.pdparams"
    assert run(raw())["Global"]["pretrained_model"] is None
    assert (f"Arch.pretrained = True: not downloaded (ppnorm never downloads); the model starts from random weights: "
            f"put https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/ResNet50_pretrained."
            f"pdparams at {cached} (PaddleClas's cache)") in capsys.readouterr().err
    empty_paddleclas_cache.mkdir()
    cached.write_bytes(b"")
    assert run(raw())["Global"]["pretrained_model"] == str(cached)  # where PaddleClas would have downloaded it
    assert "Arch.pretrained" not in capsys.readouterr().err
    assert run(raw(), "Global.pretrained_model=mine")["Global"]["pretrained_model"] == "mine"  # loaded last: wins


def test_eval_during_train_false_evaluates_only_at_the_end(capsys):
    config = run(raw(), "Global.eval_during_train=False", "Global.epochs=7")
    assert config["Global"]["eval_interval"] == 7
    assert "Global.eval_during_train = False" in capsys.readouterr().err


def test_to_static_image_shape_and_paths(capsys):
    config = run(raw(), "Global.to_static=True", "Global.image_shape=[3,192,192]", "Global.save_inference_dir=inf",
                 "Global.checkpoints=out/latest", "Global.pretrained_model=w/best_model")
    err = capsys.readouterr().err
    assert "Global.to_static = True" in err and "Global.image_shape = [3, 192, 192]" in err and "224x224" in err
    assert config["Export"]["save_dir"] == "inf"
    assert (config["Global"]["checkpoints"], config["Global"]["pretrained_model"]) == ("out/latest", "w/best_model")
    with pytest.raises(ConfigError, match=r"Global.image_shape must be \[channels, height, width\]"):
        run(raw(), "Global.image_shape=[224,224]")


def test_unknown_keys_are_refused_by_name():
    with pytest.raises(ConfigError, match="Global.use_multilabel is not a key .*supported in Global: .*class_num"):
        run(raw(), "Global.use_multilabel=True")
    with pytest.raises(ConfigError, match="the config.Slim is not a key"):  # PaddleClas's quantization section
        run(raw(), "Slim.quant.name=pact")


def test_celoss_epsilon_is_label_smoothing(capsys):
    config = raw()
    config["Loss"]["Train"][0]["CELoss"]["epsilon"] = 0.1
    assert run(config)["Loss"] == {"name": "CrossEntropy", "label_smoothing": 0.1}
    config["Loss"]["Eval"][0]["CELoss"]["epsilon"] = 0.1
    run(config)
    assert "plain cross entropy" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="CELoss.weight=2.0"):
        run(raw(), "Loss.Train.0.CELoss.weight=2.0")
    config["Loss"]["Train"] = [{"MixCELoss": {}}]
    with pytest.raises(ConfigError, match="'MixCELoss' is not supported; supported: CELoss"):
        run(config)


def lr_section(**lr):
    config = raw()
    config["Optimizer"]["lr"] = lr
    return config


def test_piecewise_values_give_gamma_and_warmup_shifts_milestones():
    lr = run(lr_section(name="Piecewise", decay_epochs=[3, 6], values=[0.2, 0.02, 0.002], warmup_epoch=2),
             "Global.epochs=9")["Optimizer"]["lr"]
    assert (lr["learning_rate"], lr["decay_epochs"], lr["warmup_epochs"]) == (0.2, [5, 8], 2)
    assert lr["gamma"] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="fall by one factor"):
        run(lr_section(name="Piecewise", decay_epochs=[3, 6], values=[0.2, 0.1, 0.001]), "Global.epochs=9")


def test_piecewise_with_learning_rate_follows_paddleclas_rule(capsys):
    assert run(raw(), "Global.epochs=100")["Optimizer"]["lr"]["decay_epochs"] == [30, 60, 90]
    lr = run(raw(), "Global.epochs=20")["Optimizer"]["lr"]
    assert lr.pop("gamma") == pytest.approx(0.1)  # a quotient of two YAML floats; the rest are copied values
    assert lr == {"name": "Constant", "learning_rate": 0.1, "warmup_epochs": 0.0, "warmup_start_lr": 0.0,
                  "decay_epochs": [], "eta_min": 0.0}
    assert "decay at epochs []" in capsys.readouterr().err


def rates(lr, epochs, steps):
    scheduler = build_lr_scheduler(lr, epochs, steps)
    out = []
    for _ in range(epochs * steps):
        out.append(scheduler.get_lr())
        scheduler.step()
    return out


def test_cosine_with_warmup_gives_paddleclas_rates():
    lr = run(lr_section(name="Cosine", learning_rate=0.4, warmup_epoch=1, eta_min=0.01),
             "Global.epochs=4")["Optimizer"]["lr"]
    steps, warm = 5, 5  # PaddleClas: LinearWarmup(5 steps from 0) then cosine over (4 - 1) * 5 steps
    expected = [0.4 * s / warm for s in range(warm)]
    expected += [0.01 + 0.5 * (0.4 - 0.01) * (1 + math.cos(math.pi * s / 15)) for s in range(15)]
    assert rates(lr, 4, steps) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["Cosine", "Piecewise"])
def test_warmup_longer_than_the_run_is_capped_as_paddleclas_does(name, capsys):
    section = lr_section(name=name, learning_rate=0.1, warmup_epoch=5, warmup_start_lr=0.02)
    lr = run(section, "Global.epochs=2")["Optimizer"]["lr"]
    assert "warning (as PaddleClas): Optimizer.lr.warmup_epoch=5 is not shorter than Global.epochs=2: set to 2" in \
        capsys.readouterr().err
    steps = 3  # PaddleClas: LinearWarmup over all 2 * 3 steps from warmup_start_lr to learning_rate
    assert rates(lr, 2, steps) == pytest.approx([0.02 + (0.1 - 0.02) * s / 6 for s in range(6)])


def test_whole_run_warmup_is_only_for_a_constant_rate_in_ppnorms_own_configs():
    whole = ["Global.epochs=2", "Optimizer.lr.warmup_epochs=2"]
    with pytest.raises(ConfigError, match=r"warmup_epochs=2.0 covers the whole run \(Global.epochs=2\)"):
        load_config("configs/digits/resnet20.yaml", whole + ["Optimizer.lr.name=Cosine"])
    assert load_config("configs/digits/resnet20.yaml", whole + ["Optimizer.lr.name=Constant"])["Optimizer"]["lr"][
        "warmup_epochs"] == 2


def test_unsupported_schedule_and_regularizer():
    with pytest.raises(ConfigError, match="lr.name='MultiStepDecay' is not supported"):
        run(lr_section(name="MultiStepDecay", learning_rate=0.1))
    with pytest.raises(ConfigError, match="regularizer.name='L1' is not supported; supported: L2"):
        run(raw(), "Optimizer.regularizer.name=L1")
    assert run(raw(), "Optimizer.use_nesterov=True")["Optimizer"]["nesterov"] is True


def test_metric_topk(capsys):
    config = run(raw(), "Metric.Eval.0.TopkAcc.topk=[1,3]")
    assert config["Metric"]["topk"] == [1, 3]
    assert "ppnorm reports Metric.Eval's [1, 3]" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="'Recallk' is not supported; supported: TopkAcc"):
        run(raw(), "Metric.Eval.0={Recallk: {topk: [1]}}")


def test_amp(capsys):
    with pytest.raises(ConfigError, match=r"AMP.use_amp needs Global.device=gpu .*-o AMP.use_amp=False$"):
        run(raw(), "AMP.use_amp=True", "Global.device=cpu")
    capsys.readouterr()
    assert run(raw())["Global"]["amp_level"] is None
    assert "AMP." not in capsys.readouterr().err  # AMP off: its other keys change nothing
    config = run(raw(), "AMP.use_amp=True", "AMP.level=O2", "Optimizer.multi_precision=False")
    assert config["Global"]["amp_level"] == "O2"
    err = capsys.readouterr().err
    assert "AMP.scale_loss = 128.0: ppnorm's GradScaler starts at 2**15" in err and "AMP.use_promote = False" in err
    assert "Optimizer.multi_precision = False" in err and "use_dynamic_loss_scaling" not in err
    assert "AMP.level = 'O2': PaddleClas evaluates in float16" in err


def test_amp_section_follows_paddleclas_defaults(capsys):
    config = raw()
    config["AMP"] = {"level": "O3"}  # no use_amp: PaddleClas turns AMP on; an unknown level becomes O1
    assert run(config)["Global"]["amp_level"] == "O1"
    err = capsys.readouterr().err
    assert "warning (as PaddleClas): AMP.level='O3' is not O1 or O2: set to O1" in err
    assert "AMP.scale_loss = 1.0: ppnorm's GradScaler starts at 2**15 (PaddleClas's default: not in the file)" in err
    assert "AMP.use_dynamic_loss_scaling = False" in err and "AMP.use_promote = False" in err
    config["AMP"] = {}
    assert run(config)["Global"]["amp_level"] is None  # an empty section is off


def test_ema_section_gives_ema_decay_and_says_how_it_differs(capsys):
    assert run(raw())["EMA"]["decay"] == 0.0  # no EMA section: off, as in PaddleClas
    assert run(raw(), "EMA={decay: 0.999}")["EMA"]["decay"] == 0.999
    assert "EMA.decay = 0.999: ppnorm warms the decay up as min(decay, (1+t)/(10+t))" in capsys.readouterr().err
    assert run(raw(), "EMA={}")["EMA"]["decay"] == 0.9999  # PaddleClas's ExponentialMovingAverage default
    with pytest.raises(ConfigError, match=r"EMA.ema_warmup is not a key .*supported in EMA: decay"):
        run(raw(), "EMA={decay: 0.9, ema_warmup: 5}")


def test_four_channel_nhwc_arch_keys():
    config = run(raw(), "Arch.input_image_channel=4", "Arch.data_format=NHWC", "Global.image_channel=4")
    assert config["Arch"] == {"name": "resnet50", "num_classes": 1000, "in_channels": 4, "data_format": "NHWC"}


def test_infer_transforms_that_differ_are_said(capsys):
    run(raw(), "Infer.transforms.2.CropImage.size=200")
    assert "Infer.transforms are DIFFERENT from DataLoader.Eval's" in capsys.readouterr().err
