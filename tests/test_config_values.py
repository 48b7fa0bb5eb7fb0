"""Every value check of the training config: bounds, types, list items and values checked together.

Each case fails if its check is removed (or its comparison moved by one); a guard test makes sure
every bounded key of the schema has a case.
"""
import re

import pytest

from ppnorm.engine.config import SCHEMA, ConfigError, load_config

DIGITS = "configs/digits/resnet20.yaml"


# Every range check, with the value just outside (refused) and the limit itself (accepted):
# each case fails if its check is removed or its comparison is off by one.
BOUNDS = [
    ("Global.epochs", 0, 1, ">= 1"), ("Global.seed", -1, 0, ">= 0"),
    ("Global.seed", 2 ** 32, 2 ** 32 - 1, "<= 4294967295"), ("Global.save_interval", -1, 0, ">= 0"),
    ("Global.eval_interval", 0, 1, ">= 1"), ("Global.print_batch_step", 0, 1, ">= 1"),
    ("Global.cpu_threads", 0, 1, ">= 1"),
    ("Loss.label_smoothing", -0.1, 0.0, ">= 0.0"), ("Loss.label_smoothing", 1.0, 0.99, "< 1.0"),
    ("Optimizer.momentum", -0.1, 0.0, ">= 0.0"),
    ("Optimizer.beta1", -0.1, 0.0, ">= 0.0"), ("Optimizer.beta1", 1.0, 0.99, "< 1.0"),
    ("Optimizer.beta2", -0.1, 0.0, ">= 0.0"), ("Optimizer.beta2", 1.5, 0.999, "< 1.0"),
    ("Optimizer.weight_decay", -0.1, 0.0, ">= 0.0"), ("Optimizer.grad_clip", -1.0, 0.0, ">= 0.0"),
    ("Optimizer.lr.learning_rate", -0.1, 0.0, ">= 0.0"), ("Optimizer.lr.warmup_epochs", -1, 0, ">= 0.0"),
    ("Optimizer.lr.warmup_start_lr", -0.1, 0.0, ">= 0.0"), ("Optimizer.lr.gamma", -0.1, 0.0, ">= 0.0"),
    ("Optimizer.lr.eta_min", -0.1, 0.0, ">= 0.0"),
    ("DataLoader.Train.batch_size", 0, 1, ">= 1"), ("DataLoader.Eval.batch_size", 0, 1, ">= 1"),
    ("DataLoader.Train.num_workers", -1, 0, ">= 0"), ("DataLoader.Eval.num_workers", -1, 0, ">= 0"),
    ("Export.tolerance", -0.1, 0.0, ">= 0.0"), ("EMA.decay", -0.1, 0.0, ">= 0.0"), ("EMA.decay", 1.0, 0.999, "< 1.0"),
]


def _get(config, dotted):
    for key in dotted.split("."):
        config = config[key]
    return config


@pytest.mark.parametrize("key,bad,good,limit", BOUNDS)
def test_every_bound_refuses_the_value_outside_and_accepts_the_limit(key, bad, good, limit):
    with pytest.raises(ConfigError, match=re.escape(f"{key} must be {limit}, got ")):
        load_config(DIGITS, [f"{key}={bad}"])
    assert _get(load_config(DIGITS, [f"{key}={good}"]), key) == good


def test_every_bounded_key_has_a_bound_test():
    bounded = {dotted for dotted, key in _leaves(SCHEMA)
               if key.minimum is not None or key.maximum is not None or key.below is not None}
    assert bounded == {key for key, *_ in BOUNDS}


def _leaves(schema, prefix=""):
    for name, spec in schema.items():
        dotted = f"{prefix}.{name}" if prefix else name
        if isinstance(spec, dict):
            yield from _leaves(spec, dotted)
        else:
            yield dotted, spec


@pytest.mark.parametrize("override,message", [
    ("Global.epochs=true", "Global.epochs must be an integer, got True (bool)"),
    ("DataLoader.Train.batch_size=2.5", "DataLoader.Train.batch_size must be an integer, got 2.5 (float)"),
    ("Global.use_visualdl=1", "Global.use_visualdl must be true or false, got 1 (int)"),
    ("DataLoader.Eval.shuffle=0", "DataLoader.Eval.shuffle must be true or false, got 0"),
    ("Optimizer.lr.learning_rate=fast", "Optimizer.lr.learning_rate must be a number, got 'fast'"),
    ("Optimizer.momentum=true", "Optimizer.momentum must be a number, got True (bool)"),
    ("Global.output_dir=[a]", "Global.output_dir must be a string, got ['a'] (list)"),
    ("Metric.topk=3", "Metric.topk must be a list, got 3 (int)"),
    ("Metric.topk=[]", "Metric.topk must not be empty"),
    ("Metric.topk=[1, 0]", "Metric.topk[1] must be >= 1, got 0"),
    ("Metric.topk=[1, true]", "Metric.topk[1] must be an integer, got True (bool)"),
    ("Global.pretrained_skip=[fc, 1]", "Global.pretrained_skip[1] must be a string, got 1 (int)"),
    ("Optimizer.lr.decay_epochs=[a]", "Optimizer.lr.decay_epochs[0] must be a number, got 'a'"),
    ("Optimizer.lr.decay_epochs=[-1]", "Optimizer.lr.decay_epochs[0] must be >= 0, got -1"),
    ("Global.device=tpu", "Global.device must be one of cpu, gpu, got 'tpu'"),
    ("Loss.name=Focal", "Loss.name must be one of CrossEntropy, got 'Focal'"),
    ("Optimizer.lr.name=Step", "Optimizer.lr.name must be one of Constant, Piecewise, Cosine, OneCycle, got 'Step'"),
    ("Global.amp_level=O3", "Global.amp_level must be one of O1, O2, got 'O3'"),
    ("Arch=3", "Arch needs a 'name'"),
    ("Global=3", "Global must be a section (a mapping), got 3"),
])
def test_type_choice_and_item_checks(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(DIGITS, [override])


@pytest.mark.parametrize("overrides,message", [
    (["Global.epochs=3", "Optimizer.lr.warmup_epochs=3", "Optimizer.lr.name=Cosine"],
     "warmup_epochs=3.0 covers the whole run (Global.epochs=3)"),  # a Constant rate may ramp up for the whole run
    (["Global.epochs=3", "Optimizer.lr.warmup_epochs=3.5"], "warmup_epochs=3.5 covers the whole run (Global.epochs=3)"),
    (["Optimizer.lr.name=OneCycle", "Optimizer.lr.warmup_epochs=1"], "does not combine with OneCycle"),
    (["Optimizer.lr.name=Piecewise"], "decay_epochs must be a non-empty, strictly increasing list"),
    (["Optimizer.lr.name=Piecewise", "Optimizer.lr.decay_epochs=[20, 10]"], "strictly increasing list of epochs"),
    (["Optimizer.lr.name=Piecewise", "Optimizer.lr.decay_epochs=[10, 10]"], "strictly increasing list of epochs"),
])
def test_values_checked_together_at_load_time(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(DIGITS, overrides)


def test_values_checked_together_accept_the_valid_neighbours():
    config = load_config(DIGITS, ["Global.epochs=3", "Optimizer.lr.warmup_epochs=2.5", "Optimizer.lr.name=Piecewise",
                                  "Optimizer.lr.decay_epochs=[1, 2]"])
    assert config["Optimizer"]["lr"]["decay_epochs"] == [1, 2] and config["Optimizer"]["lr"]["warmup_epochs"] == 2.5
    assert isinstance(config["Optimizer"]["lr"]["decay_epochs"][0], int)  # kept as written in config.yaml
