"""The PaddleClas translator's defaults and -o overrides with list indices, value by value: what a key left out
becomes (PaddleClas's default, not ppnorm's), which key wins when two say the same, and how an index override
reaches into transform_ops. A silently different default would train another model than PaddleClas would."""
import copy

import pytest
import yaml

from ppnorm.engine.config import ConfigError
from ppnorm.paddleclas.translator import apply_override, translate
from ppnorm.engine.config.schema import SCHEMA

R50 = "tests/data/paddleclas/ResNet50.yaml"


def raw():
    with open(R50, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _translate(config, *overrides):
    return translate(copy.deepcopy(config), overrides, "test")


# --- -o with list indices ----------------------------------------------------------------------------------------------

def test_an_index_override_changes_that_op_only():
    config = raw()
    apply_override(config, "DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=32")
    apply_override(config, "DataLoader.Eval.dataset.transform_ops.-2.CropImage.size=28")
    apply_override(config, "Metric.Eval.0.TopkAcc.topk=[1, 2]")
    ops = raw()["DataLoader"]["Train"]["dataset"]["transform_ops"]
    ops[1]["RandCropImage"]["size"] = 32
    assert config["DataLoader"]["Train"]["dataset"]["transform_ops"] == ops
    assert config["DataLoader"]["Eval"]["dataset"]["transform_ops"][2] == {"CropImage": {"size": 28}}
    assert config["Metric"]["Eval"] == [{"TopkAcc": {"topk": [1, 2]}}]


def test_index_overrides_reach_the_translated_config():
    out = _translate(raw(), "DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=32",
                     "DataLoader.Eval.dataset.transform_ops.2.CropImage.size=28")
    train = [op for op in raw()["DataLoader"]["Train"]["dataset"]["transform_ops"]]
    train[1] = {"RandCropImage": {"size": 32}}
    assert out["DataLoader"]["Train"]["transforms"] == train
    assert [list(op) for op in out["DataLoader"]["Eval"]["transforms"]] == [
        ["DecodeImage"], ["ResizeImage"], ["CropImage"], ["NormalizeImage"]]
    assert out["DataLoader"]["Eval"]["transforms"][2] == {"CropImage": {"size": 28}}


@pytest.mark.parametrize("override, message", [
    ("Metric.Eval.1.TopkAcc.topk=1", "override 'Metric.Eval.1.TopkAcc.topk=1': Metric.Eval.1: '1' is not an index of "
                                     "the 1-item list Metric.Eval"),
    ("Metric.Eval.-2.TopkAcc.topk=1", "override 'Metric.Eval.-2.TopkAcc.topk=1': Metric.Eval.-2: '-2' is not an index "
                                      "of the 1-item list Metric.Eval"),
    ("Metric.Eval.first.TopkAcc=1", "override 'Metric.Eval.first.TopkAcc=1': Metric.Eval.first: 'first' is not an "
                                    "index of the 1-item list Metric.Eval"),
    ("Metric.Eval.--1.TopkAcc=1", "override 'Metric.Eval.--1.TopkAcc=1': Metric.Eval.--1: '--1' is not an index of "
                                  "the 1-item list Metric.Eval"),
    ("Metric.Eval.\u00b2.TopkAcc=1", "override 'Metric.Eval.\u00b2.TopkAcc=1': Metric.Eval.\u00b2: '\u00b2' is not an "
                                     "index of the 1-item list Metric.Eval"),
    ("Global.epochs.x=1", "override 'Global.epochs.x=1': Global.epochs is a value, not a section"),
])
def test_bad_index_overrides_are_one_line_errors(override, message):
    config = raw()
    with pytest.raises(ConfigError) as error:
        apply_override(config, override)
    assert str(error.value) == message
    assert config == raw()


def test_the_last_index_and_minus_one_are_the_same_item():
    for index in ("0", "-1"):
        config = raw()
        apply_override(config, f"Loss.Train.{index}.CELoss.epsilon=0.1")
        assert config["Loss"]["Train"] == [{"CELoss": {"weight": 1.0, "epsilon": 0.1}}]


def test_missing_or_null_sections_are_created_and_a_list_item_may_be_replaced_whole():
    config = raw()
    apply_override(config, "EMA.decay=0.99")
    apply_override(config, "Global.checkpoints.x=1")  # null in the file: becomes a section
    apply_override(config, "Metric.Train.0={TopkAcc: {topk: 1}}")
    assert config["EMA"] == {"decay": 0.99} and config["Global"]["checkpoints"] == {"x": 1}
    assert config["Metric"]["Train"] == [{"TopkAcc": {"topk": 1}}]


# --- defaults: what a key left out means -------------------------------------------------------------------------------

def test_without_loss_metric_or_optimizer_names_paddleclas_defaults_apply():
    config = raw()
    del config["Metric"]
    config["Optimizer"] = {"lr": {"name": "Cosine", "learning_rate": 0.1}}
    config["Loss"] = {"Train": [{"CELoss": {}}]}
    out = _translate(config)
    assert out["Metric"] == {"topk": [1, 5]} and out["Loss"] == {"name": "CrossEntropy", "label_smoothing": 0.0}
    assert out["Optimizer"] == {"name": "Momentum", "lr": {"name": "Cosine", "learning_rate": 0.1, "warmup_epochs": 0,
                                                            "warmup_start_lr": 0.0}}


def test_a_topk_given_as_one_number_and_train_only_metrics(capsys):
    config = raw()
    config["Metric"] = {"Train": [{"TopkAcc": {"topk": 3}}]}
    assert _translate(config)["Metric"] == {"topk": [3]}
    config["Metric"] = {"Train": [{"TopkAcc": {}}], "Eval": [{"TopkAcc": {"topk": [1, 2]}}]}
    assert _translate(config)["Metric"] == {"topk": [1, 2]}
    assert "Metric.Train[0].TopkAcc.topk = [1, 5]: ppnorm reports Metric.Eval's [1, 2] in training and evaluation" \
        in capsys.readouterr().err


def test_global_defaults_follow_paddleclas(capsys):
    config = raw()
    config["Global"] = {"epochs": 7, "eval_during_train": False, "save_inference_dir": "./inf", "device": "cpu"}
    out = _translate(config)
    assert out["Global"] == {"epochs": 7, "device": "cpu", "pretrained_skip_mismatched": True, "eval_interval": 7}
    assert out["Export"] == {"save_dir": "./inf"}
    config["Global"] = {"eval_during_train": False, "device": "cpu", "pretrained_skip_mismatched": False}
    config["Export"] = {"save_dir": "given"}
    out = _translate(config)
    assert out["Global"]["eval_interval"] == SCHEMA["Global"]["epochs"].default  # ppnorm's default epochs
    assert out["Global"]["pretrained_skip_mismatched"] is False and out["Export"] == {"save_dir": "given"}
    config["Global"] = {"eval_during_train": True, "device": "cpu", "epochs": 0}
    assert "eval_interval" not in _translate(config)["Global"]


def test_an_ema_section_without_decay_is_paddleclas_0_9999():
    config = raw()
    config["EMA"] = {}
    assert _translate(config)["EMA"] == {"decay": 0.9999}
    config["EMA"] = None
    assert "EMA" not in _translate(config)


def test_amp_defaults_are_paddleclas_and_its_level_falls_back_to_o1(capsys):
    config = raw()
    config["Global"]["device"] = "gpu"
    config["AMP"] = {"use_amp": True}
    out = _translate(config)
    assert out["Global"]["amp_level"] == "O1"
    err = capsys.readouterr().err
    assert "AMP.scale_loss = 1.0: ppnorm's GradScaler starts at 2**15 (PaddleClas's default: not in the file)" in err
    assert "AMP.use_dynamic_loss_scaling = False: ppnorm scales the loss dynamically (PaddleClas's default" in err
    assert "AMP.use_promote = False: " in err and "AMP.use_fp16_test" not in err and "is not O1 or O2" not in err
    config["AMP"] = {"level": "O3", "scale_loss": 32768.0, "use_dynamic_loss_scaling": True, "use_promote": True}
    assert _translate(config)["Global"]["amp_level"] == "O1"
    err = capsys.readouterr().err
    assert "[PaddleClas] test: warning (as PaddleClas): AMP.level='O3' is not O1 or O2: set to O1" in err
    assert "AMP.scale_loss" not in err and "AMP.use_promote" not in err
    config["AMP"] = {"level": "O2", "use_amp": True}
    assert _translate(config)["Global"]["amp_level"] == "O2"
    assert "AMP.level = 'O2': PaddleClas evaluates in float16 after O2 training" in capsys.readouterr().err
    for off in ({}, {"use_amp": False, "level": "O2"}):
        config["AMP"] = off
        assert "amp_level" not in _translate(config)["Global"]


def _err(config, *overrides):
    with pytest.raises(ConfigError) as error:
        _translate(config, *overrides)
    return str(error.value)


def test_a_value_holding_an_equals_sign_is_kept_whole():
    config = raw()
    apply_override(config, "Global.output_dir=./out=1")
    assert config["Global"]["output_dir"] == "./out=1"
    apply_override(config, "Global.output_dir=1=2")  # not "1", the number before the second "="
    assert config["Global"]["output_dir"] == "1=2"


def test_an_unsupported_optimizer_lists_the_supported_ones():
    config = raw()
    config["Optimizer"]["name"] = "RMSProp"
    assert _err(config) == "test: Optimizer.name='RMSProp' is not supported; supported: Momentum, SGD, Adam, AdamW"


# --- the optimizer: every key passes, and what a key left out means ------------------------------------------------------

def test_every_optimizer_key_passes_value_for_value(capsys):
    config = raw()
    config["Optimizer"] = {"name": "AdamW", "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.05,
                           "one_dim_param_no_weight_decay": True, "multi_precision": False,
                           "lr": {"name": "Constant", "learning_rate": 0.01, "by_epoch": True}}
    assert _translate(config)["Optimizer"] == {
        "name": "AdamW", "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.05, "no_weight_decay_on_norm_and_bias": True,
        "lr": {"name": "Constant", "learning_rate": 0.01, "warmup_epochs": 0, "warmup_start_lr": 0.0}}
    err = capsys.readouterr().err
    assert ("  Optimizer.multi_precision = False: ppnorm's AMP O2 keeps float32 master weights (paddle.amp.decorate); "
            "O1 and float32 training need none\n") in err
    assert "  Optimizer.lr.by_epoch = True: ppnorm changes the rate every iteration (smoothly within epochs)" in err
    config["Optimizer"] = {"momentum": 0.8, "use_nesterov": True, "regularizer": {"name": "L2"},
                           "one_dim_param_no_weight_decay": False, "multi_precision": True}
    assert _translate(config)["Optimizer"] == {"name": "Momentum", "momentum": 0.8, "nesterov": True,
                                               "weight_decay": 0.0}
    assert "multi_precision" not in capsys.readouterr().err


@pytest.mark.parametrize("section, key, where, allowed", [
    ("Optimizer", "nesterov", "Optimizer", "name, momentum, use_nesterov"),
    ("Loss", "Test", "Loss", "Train, Eval"), ("Metric", "Infer", "Metric", "Train, Eval"),
    ("AMP", "scale", "AMP", "use_amp, level"), ("EMA", "warmup", "EMA", "decay")])
def test_an_unknown_key_names_its_section(section, key, where, allowed):
    config = raw()
    config[section] = dict(config.get(section) or {}, **{key: 1})
    assert _err(config).startswith(f"test: {where}.{key} is not a key the PaddleClas translator knows; supported in "
                                   f"{where}: {allowed}")


@pytest.mark.parametrize("path, key, where", [
    (("Optimizer", "lr"), "step", "Optimizer.lr"), (("Optimizer", "regularizer"), "factor", "Optimizer.regularizer"),
    (("Loss", "Train", 0, "CELoss"), "margin", "Loss.Train[0].CELoss"),
    (("Metric", "Eval", 0, "TopkAcc"), "k", "Metric.Eval[0].TopkAcc")])
def test_an_unknown_key_inside_a_section_names_its_full_path(path, key, where):
    config = raw()
    node = config
    for step in path:
        node = node[step]
    node[key] = 1
    assert _err(config).startswith(f"test: {where}.{key} is not a key the PaddleClas translator knows; ")


def test_loss_and_metric_entries_are_checked_with_their_names():
    config = raw()
    config["Loss"] = {"Train": [{"CELoss": {}}, {"CELoss": {}}]}
    assert _err(config).startswith("test: Loss.Train must be a list of one CELoss entry, got ")
    config["Loss"] = {"Eval": [{"CELoss": {"weight": 0.5}}]}
    assert _err(config) == ("test: Loss.Eval[0].CELoss.weight=0.5: ppnorm trains one CELoss of weight 1.0; scale "
                            "Optimizer.lr.learning_rate instead")
    config = raw()
    config["Metric"] = {"Eval": [{"Topk": {}}]}
    assert _err(config) == "test: Metric.Eval[0]: 'Topk' is not supported; supported: TopkAcc"


def test_an_eval_loss_alone_means_no_smoothing_and_its_epsilon_is_noted(capsys):
    config = raw()
    config["Loss"] = {"Eval": [{"CELoss": {"epsilon": 0.1}}]}
    assert _translate(config)["Loss"] == {"name": "CrossEntropy", "label_smoothing": 0.0}
    assert ("  Loss.Eval[0].CELoss.epsilon = 0.1: ppnorm's eval loss is plain cross entropy (no smoothing)"
            in capsys.readouterr().err)
    config["Loss"] = {"Train": [{"CELoss": {"epsilon": 0.2}}], "Eval": [{"CELoss": {"epsilon": 0.0}}]}
    assert _translate(config)["Loss"]["label_smoothing"] == 0.2
    assert "Loss.Eval" not in capsys.readouterr().err


def test_a_topkacc_without_topk_is_paddleclas_1_5():
    for mode in ("Train", "Eval"):
        config = raw()
        config["Metric"] = {mode: [{"TopkAcc": None}]}
        assert _translate(config)["Metric"] == {"topk": [1, 5]}


# --- the learning rate ---------------------------------------------------------------------------------------------------

def _lr(lr, epochs=10, **global_keys):
    config = raw()
    config["Global"] = dict(config["Global"], epochs=epochs, **global_keys)
    config["Optimizer"] = {"name": "Momentum", "lr": lr}
    return _translate(config)["Optimizer"]["lr"]


@pytest.mark.parametrize("epochs, warmup, capped", [(5, 5, True), (5, 6, True), (5, 4, False), (1, 1, True),
                                                    (0, 0, False), ("many", 1, True)])
def test_a_warmup_as_long_as_the_run_is_capped(capsys, epochs, warmup, capped):
    lr = _lr({"name": "Cosine", "learning_rate": 0.1, "warmup_epoch": warmup}, epochs)
    run = epochs if isinstance(epochs, int) else 1  # a non-integer Global.epochs is refused later; the lr reads 1
    if capped:
        assert lr == {"name": "Constant", "learning_rate": 0.1, "warmup_epochs": run, "warmup_start_lr": 0.0}
        assert (f"warning (as PaddleClas): Optimizer.lr.warmup_epoch={warmup} is not shorter than Global.epochs="
                f"{run}: set to {run}") in capsys.readouterr().err
    else:
        assert lr == {"name": "Cosine", "learning_rate": 0.1, "warmup_epochs": warmup, "warmup_start_lr": 0.0}
        assert "warmup_epoch" not in capsys.readouterr().err


def test_constant_and_cosine_rates_and_their_options():
    assert _lr({"name": "Constant", "learning_rate": 0.3, "warmup_epoch": 2, "warmup_start_lr": 0.01}) == {
        "name": "Constant", "learning_rate": 0.3, "warmup_epochs": 2, "warmup_start_lr": 0.01}
    assert _lr({"name": "Cosine", "learning_rate": 0.3, "eta_min": 0.001}) == {
        "name": "Cosine", "learning_rate": 0.3, "eta_min": 0.001, "warmup_epochs": 0, "warmup_start_lr": 0.0}


def test_piecewise_refusals_name_the_file(capsys):
    config = raw()
    config["Optimizer"]["lr"] = {"name": "Piecewise", "decay_epochs": [3], "values": 0.1}
    assert _err(config) == ("test: Optimizer.lr Piecewise needs learning_rate, or decay_epochs [e1, ...] with one "
                            "more value in values, got [3] and 0.1")
    config["Optimizer"]["lr"] = {"name": "Piecewise", "decay_epochs": 3, "values": [0.1, 0.01]}
    assert _err(config).startswith("test: Optimizer.lr Piecewise needs learning_rate")
    config["Optimizer"]["lr"] = {"name": "Piecewise", "decay_epochs": [3, 6], "values": [0.1, 0.01, 0.005]}
    assert _err(config).startswith("test: Optimizer.lr.values=[0.1, 0.01, 0.005]: ppnorm's Piecewise multiplies ")


@pytest.mark.parametrize("given, noted", [((None, None), False), (([30, 60, 90], [0.1, 0.01, 0.001, 0.0001]), False),
                                          (([30, 60], [0.1, 0.01, 0.001]), True),
                                          (([30, 60, 90], [0.1, 0.01, 0.001, 0.001]), True),
                                          (([30, 60, 90], [0.1, 0.01, 0.001]), True),
                                          (([30, 60, 90], None), True)])
def test_piecewise_with_a_learning_rate_notes_decay_values_it_ignores(capsys, given, noted):
    lr = {"name": "Piecewise", "learning_rate": 0.1}
    lr.update({k: v for k, v in zip(("decay_epochs", "values"), given) if v is not None})
    assert _lr(lr, 120)["decay_epochs"] == [30, 60, 90]
    line = (f"  Optimizer.lr.decay_epochs/values = {list(given)!r}: PaddleClas ignores them when learning_rate is "
            f"set (x0.1 every 30 epochs, Global.epochs=120); ppnorm does the same: decay at epochs [30, 60, 90]")
    assert (line in capsys.readouterr().err) is noted


# --- Global, AMP and EMA notes --------------------------------------------------------------------------------------------

def test_eval_interval_is_at_least_one_and_global_notes_are_word_for_word(capsys):
    config = raw()
    config["Global"] = {"epochs": 1, "eval_during_train": False, "device": "cpu", "to_static": True, "use_dali": True}
    out = _translate(config)
    assert out["Global"]["eval_interval"] == 1 and "Export" not in out
    err = capsys.readouterr().err
    for line in ("  Global.eval_during_train = False: ppnorm still evaluates once, after the last epoch (it picks "
                 "best_model)", "  Global.to_static = True: ppnorm trains in dygraph with its own loader (same math)",
                 "  Global.use_dali = True: ppnorm trains in dygraph with its own loader (same math)"):
        assert line in err.splitlines()
    config["Global"] = {"device": "cpu", "save_inference_dir": "./inf"}
    config["Export"] = {"save_dir": "mine"}
    assert _translate(config)["Export"] == {"save_dir": "mine"}


def test_amp_notes_say_which_values_came_from_the_file(capsys):
    config = raw()
    config["AMP"] = {"use_amp": True, "level": "O1", "scale_loss": 128.0}
    assert _translate(config)["Global"]["amp_level"] == "O1"  # the file says device: gpu
    err = capsys.readouterr().err
    assert "  AMP.scale_loss = 128.0: ppnorm's GradScaler starts at 2**15\n" in err + "\n"
    assert "is not O1 or O2" not in err and "AMP.level" not in err
    config["AMP"] = {"use_amp": True, "level": "O2", "use_fp16_test": True}
    _translate(config)
    assert "AMP.level" not in capsys.readouterr().err
    config["AMP"] = {"use_amp": True, "level": "O2"}
    _translate(config)
    assert ("  AMP.level = 'O2': PaddleClas evaluates in float16 after O2 training (it sets use_fp16_test with a "
            "warning); ppnorm evaluates in float32") in capsys.readouterr().err.splitlines()


def test_amp_without_a_gpu_device_is_refused_naming_the_device():
    config = raw()
    del config["Global"]["device"]
    config["AMP"] = {"use_amp": True}
    assert _err(config) == ("test: AMP.use_amp needs Global.device=gpu (ppnorm's mixed precision is for GPUs), got "
                            f"{SCHEMA['Global']['device'].default!r}; to train in float32: -o AMP.use_amp=False")


def test_the_ema_note_word_for_word(capsys):
    config = raw()
    config["EMA"] = {"decay": 0.999}
    assert _translate(config)["EMA"] == {"decay": 0.999}
    assert ("  EMA.decay = 0.999: ppnorm warms the decay up as min(decay, (1+t)/(10+t)) (PaddleClas: decay from step "
            "1) and evaluates and saves the average itself as best_model/latest (.pdparams; raw weights in "
            ".pdtrain), not as a separate best_model_ema") in capsys.readouterr().err.splitlines()
    config["EMA"] = "0.9"
    assert _err(config) == "test: EMA must be a mapping, got '0.9'"


# --- DataLoader: sampler and loader keys ---------------------------------------------------------------------------------

def test_every_sampler_and_loader_key_passes(capsys):
    config = raw()
    config["DataLoader"]["Train"]["sampler"] = {"batch_size": 8, "drop_last": True, "shuffle": False}  # no name
    config["DataLoader"]["Train"]["loader"] = {"use_shared_memory": False}
    config["DataLoader"]["Eval"]["sampler"] = {"name": "BatchSampler", "batch_size": 4, "shuffle": True}
    out = _translate(config)["DataLoader"]
    assert {k: out["Train"][k] for k in ("batch_size", "drop_last", "shuffle")} == {
        "batch_size": 8, "drop_last": True, "shuffle": False}
    assert "num_workers" not in out["Train"] and out["Eval"]["num_workers"] == 4
    assert {k: out["Eval"][k] for k in ("batch_size", "drop_last", "shuffle")} == {
        "batch_size": 4, "drop_last": False, "shuffle": True}
    assert "  DataLoader.Eval.loader.use_shared_memory = True: ppnorm's loader passes batches its own way (same " \
           "values)" in capsys.readouterr().err.splitlines()
    assert out["Train"]["dataset"] == {"name": "file_list", "list_file": "./dataset/ILSVRC2012/train_list.txt",
                                       "root": "./dataset/ILSVRC2012/"}


@pytest.mark.parametrize("change, message", [
    (lambda d: d["Train"]["sampler"].update(name="RandomSampler"),
     "test: DataLoader.Train.sampler.name='RandomSampler' is not supported; supported: DistributedBatchSampler, "
     "BatchSampler"),
    (lambda d: d["Eval"]["sampler"].pop("batch_size"),
     "test: DataLoader.Eval.sampler.batch_size is missing (samples per device per step)"),
    (lambda d: d["Train"]["sampler"].update(seed=1),
     "test: DataLoader.Train.sampler.seed is not a key the PaddleClas translator knows; supported in "
     "DataLoader.Train.sampler: name, batch_size, drop_last, shuffle"),
    (lambda d: d["Train"]["loader"].update(timeout=1),
     "test: DataLoader.Train.loader.timeout is not a key the PaddleClas translator knows; supported in "
     "DataLoader.Train.loader: num_workers, use_shared_memory"),
    (lambda d: d["Eval"].update(collate_fn=1),
     "test: DataLoader.Eval.collate_fn is not a key the PaddleClas translator knows; supported in DataLoader.Eval: "
     "dataset, sampler, loader"),
    (lambda d: d.update(Test={}),
     "test: DataLoader.Test is not a key the PaddleClas translator knows; supported in DataLoader: Train, Eval"),
    (lambda d: d["Train"]["dataset"].update(name="MultiLabelDataset"),
     "test: DataLoader.Train.dataset.name='MultiLabelDataset' is not supported; supported: ImageNetDataset"),
    (lambda d: d["Train"].update(file_list="x.txt"),
     "test: DataLoader.Train uses PaddleClas's old reader keys (file_list, data_dir, batch_size, ...); write it as "
     "dataset / sampler / loader like ppcls/configs/ImageNet today")])
def test_dataloader_refusals_name_the_key_and_the_file(change, message):
    config = raw()
    change(config["DataLoader"])
    assert _err(config) == message


def test_ops_without_normalize_feed_raw_pixels_with_a_note(capsys):
    config = raw()
    config["DataLoader"]["Train"]["dataset"]["transform_ops"] = [{"DecodeImage": {"to_rgb": True}},
                                                                 {"RandCropImage": {"size": 8}}]
    train = _translate(config)["DataLoader"]["Train"]
    assert train["transforms"][-1] == {"NormalizeImage": {"scale": 1.0, "mean": [0.0] * 3, "std": [1.0] * 3,
                                                          "order": "hwc"}}
    assert ("  DataLoader.Train.dataset.transform_ops = 'no NormalizeImage': PaddleClas feeds 0..255 pixel values; so "
            "does ppnorm (NormalizeImage scale 1, mean 0, std 1 appended)") in capsys.readouterr().err.splitlines()


# --- Piecewise factors, list entries, Arch refusals ---------------------------------------------------------------------

def test_piecewise_values_give_one_factor_within_a_millionth():
    two = _lr({"name": "Piecewise", "decay_epochs": [3], "values": [0.1, 0.01]})
    assert two["decay_epochs"] == [3] and two["gamma"] == pytest.approx(0.1, rel=1e-12)
    close = _lr({"name": "Piecewise", "decay_epochs": [3, 6], "values": [1.0, 0.5, 0.2500001]})
    assert close["gamma"] == 0.5
    config = raw()
    config["Optimizer"]["lr"] = {"name": "Piecewise", "decay_epochs": [3], "values": [0.1, 0.0]}
    assert _err(config).startswith("test: Optimizer.lr.values=[0.1, 0.0]: ppnorm's Piecewise multiplies the rate ")
    config["Optimizer"]["lr"] = {"name": "Piecewise", "decay_epochs": [3, 6], "values": [1.0, 0.5, 0.2501]}
    assert _err(config).startswith("test: Optimizer.lr.values=[1.0, 0.5, 0.2501]: ")


@pytest.mark.parametrize("train, message", [
    ({"CELoss": {}}, "test: Loss.Train must be a list of one CELoss entry, got {'CELoss': {}}"),
    ([{"CELoss": {}, "MixCELoss": {}}], "test: Loss.Train[0] must be one 'Name: {options}' mapping, got "
                                        "{'CELoss': {}, 'MixCELoss': {}}")])
def test_loss_entries_that_are_no_single_mapping_are_named(train, message):
    config = raw()
    config["Loss"] = {"Train": train}
    assert _err(config) == message


@pytest.mark.parametrize("name, why", [
    ("ResNet50", "its first block changes the channel count and needs that shortcut"),
    ("ResNet50_vd", "ppnorm's resnet*_vd always have that shortcut")])
def test_use_first_short_conv_false_says_why_per_model(name, why):
    from ppnorm.models.registry import MODELS
    if name.endswith("_vd") and "resnet50_vd" not in MODELS:
        pytest.skip("resnet*_vd not in the zoo")
    config = raw()
    config["Arch"].update(name=name, use_first_short_conv=False)
    assert _err(config) == (f"test: Arch.use_first_short_conv=False is not supported for {name}: {why}; remove the "
                            f"key")


def test_arch_names_outside_the_table_or_the_zoo_are_refused_with_the_lists(monkeypatch):
    from ppnorm.paddleclas import arch as A
    config = raw()
    config["Arch"]["name"] = "MobileNetV3"
    assert _err(config) == (f"test: Arch.name='MobileNetV3' is not a model ppnorm has; PaddleClas names it translates: "
                            f"{', '.join(A.ARCHS)}")
    assert ", ResNet18, ResNet34, " not in _err(config) and "ResNet152, ResNet18_vd, " in _err(config)

    class Zoo:
        def __contains__(self, name):
            return False

        def names(self):
            return ["mlp", "resnet20"]
    monkeypatch.setattr(A, "MODELS", Zoo())
    assert _err(raw()) == ("test: Arch.name=ResNet50 needs ppnorm's 'resnet50', which this ppnorm's model zoo lacks; "
                           "registered: mlp, resnet20")


def test_arch_pretrained_true_without_the_cached_file_names_where_to_get_it(tmp_path, monkeypatch, capsys):
    from ppnorm.paddleclas import arch as A
    from ppnorm.models import pretrained as pretrained_module
    monkeypatch.setattr(pretrained_module, "PADDLECLAS_CACHE", str(tmp_path))
    for name, url in (("DenseNet121", A.PADDLECLAS_DENSENET_URL), ("ResNet50", pretrained_module.PADDLECLAS_URL)):
        config = raw()
        config["Global"]["pretrained_model"] = None
        config["Arch"].update(name=name, pretrained=True)
        assert _translate(config)["Global"]["pretrained_model"] is None  # random weights, said in the notes
        err = capsys.readouterr().err
        assert f"put {url.format(name)} at {tmp_path}/{name}_pretrained.pdparams (PaddleClas's cache)" in err


# --- detection and the translate() frame -------------------------------------------------------------------------------

PPNORM = {"Global": {"epochs": 3}, "Arch": {"name": "resnet20"}, "Loss": {"name": "CrossEntropy"},
          "Metric": {"topk": [1]}, "DataLoader": {"Train": {"dataset": {"name": "digits"}, "batch_size": 8}}}


@pytest.mark.parametrize("marker", [
    {"TRAIN": {}}, {"Infer": {}}, {"AMP": {}}, {"Loss": {"Train": []}}, {"Loss": {"Eval": []}},
    {"Metric": {"Train": []}}, {"Metric": {"Eval": []}}, {"Arch": {"name": "ResNet50"}},
    {"Arch": {"name": "resnet20", "class_num": 3}}, {"Global": {"epochs": 3, "class_num": 3}},
    {"DataLoader": {"Train": {"dataset": {}, "sampler": {}}}}, {"DataLoader": {"Eval": {"loader": {}}}}])
def test_one_paddleclas_marker_is_enough_and_ppnorms_own_config_has_none(marker):
    from ppnorm.paddleclas.dialect import detect
    assert detect(PPNORM) is False
    config = copy.deepcopy(PPNORM)
    for section, value in marker.items():
        config[section] = value
    assert detect(config) is True


def test_values_that_are_no_mappings_are_no_markers():
    from ppnorm.paddleclas.dialect import detect
    assert detect(["Global"]) is False and detect(None) is False
    assert detect(dict(PPNORM, Arch="ResNet50", Loss=["Train"], Global="class_num")) is False


def test_translate_names_its_source_and_refuses_the_old_layout():
    with pytest.raises(ConfigError) as error:
        translate({"TRAIN": {}, "ARCHITECTURE": {}, "Global": {}})
    assert str(error.value) == ("config: PaddleClas 2.0's old layout (ARCHITECTURE, TRAIN); ppnorm reads today's "
                                "ppcls/configs layout (Global, Arch, Loss, Optimizer, DataLoader, ...)")
    config = raw()
    config["Unknown"] = {}
    assert _err(config).startswith("test: the config.Unknown is not a key the PaddleClas translator knows")


def test_export_passes_and_global_epochs_default_to_ppnorms(capsys):
    config = raw()
    config["Export"] = {"save_dir": "here", "fuse_bn": False}
    del config["Global"]["epochs"]
    config["Optimizer"]["lr"] = {"name": "Cosine", "learning_rate": 0.1, "warmup_epoch": 1000}
    out = _translate(config)
    assert out["Export"] == {"save_dir": "here", "fuse_bn": False}
    epochs = SCHEMA["Global"]["epochs"].default
    assert out["Optimizer"]["lr"]["warmup_epochs"] == epochs  # capped at ppnorm's default run length
    del config["DataLoader"]["Eval"]
    assert "Eval" not in _translate(config)["DataLoader"]


def test_notes_are_printed_once_from_rank_zero_only(capsys, monkeypatch):
    config = raw()
    config["Global"]["to_static"] = True
    monkeypatch.setenv("PADDLE_TRAINER_ID", "1")
    _translate(config)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("PADDLE_TRAINER_ID", "0")
    _translate(config)
    assert "Global.to_static = True" in capsys.readouterr().err
    monkeypatch.delenv("PADDLE_TRAINER_ID")
    _translate(config)
    assert "Global.to_static = True" in capsys.readouterr().err
    quiet = raw()
    del quiet["Infer"]
    quiet["Arch"]["pretrained"] = False
    for mode in ("Train", "Eval"):
        quiet["DataLoader"][mode]["loader"]["use_shared_memory"] = False
    _translate(quiet)
    assert capsys.readouterr().err == ""  # nothing to say: not even an empty line


@pytest.mark.parametrize("change, start", [
    (lambda c: c["Global"].update(bogus=1), "test: Global.bogus is not a key the PaddleClas translator knows"),
    (lambda c: c["Global"].update(image_shape=[224, 224]),
     "test: Global.image_shape must be [channels, height, width], got [224, 224]"),
    (lambda c: c["Infer"].update(bogus=1), "test: Infer.bogus is not a key the PaddleClas translator knows")])
def test_global_image_shape_and_infer_refusals_name_the_file(change, start):
    config = raw()
    change(config)
    assert _err(config).startswith(start)
