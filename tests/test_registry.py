"""The one Registry behind every extension point, and the registries built on it."""
import importlib
import pkgutil
import sys
from pathlib import Path

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

import ppnorm
from ppnorm.engine.loss import LOSSES, build_loss
from ppnorm.engine.optim import OPTIMIZERS, SCHEDULES, build_lr_scheduler, build_optimizer
from ppnorm.experiments import EXPERIMENTS, NAMES, declared_experiments, experiments
from ppnorm.nn import ACTIVATIONS, NORM_KINDS, NORMS, build_act, build_norm, norm_epsilon
from ppnorm.registry import Registry, did_you_mean, import_submodules, unknown_message


def test_did_you_mean_and_unknown_message_text():
    assert did_you_mean("gropus", ["momentum", "groups"]) == " (did you mean 'groups'?)"
    assert did_you_mean("zzz", ["momentum", "groups"]) == ""
    assert unknown_message("norm kind", "bnn", ["bn", "gn"], "valid kinds") == \
        "unknown norm kind 'bnn' (did you mean 'bn'?); valid kinds: bn, gn"


def test_decorator_and_call_forms_register_and_build():
    things = Registry("thing")

    @things.register("scaled", defaults={"scale": 2}, offset=1)
    def scaled(value, scale, offset):
        return value * scale + offset

    assert scaled(1, 3, 0) == 3  # the decorator returns the function itself
    assert things.build("scaled", value=5) == 11 and things.build("scaled", value=5, scale=10) == 51
    assert things.register("plain", dict) is dict and things.build("plain") == {}
    assert things.options("scaled") == ["value", "scale"]  # offset is fixed for "scaled"
    assert things.names() == ["plain", "scaled"] and list(things) == ["scaled", "plain"]
    assert things["plain"] is dict and "plain" in things and ["plain"] not in things
    with pytest.raises(KeyError):
        things["missing"]


def test_errors_name_the_registry_the_closest_name_and_the_valid_ones():
    things = Registry("thing", ordered=True)
    things.register("alpha", lambda size=1: size)
    with pytest.raises(ValueError, match=r"^thing 'alpha' is registered twice$"):
        things.register("alpha", dict)
    with pytest.raises(ValueError, match=r"^unknown thing 'alpah' \(did you mean 'alpha'\?\); valid: alpha$"):
        things.build("alpah")
    with pytest.raises(ValueError, match=r"^unknown option 'sise' for thing 'alpha' \(did you mean 'size'\?\); "
                                         r"valid: size$"):
        things.build("alpha", sise=3)


def test_lazy_entries_import_their_module_on_first_lookup(tmp_path, monkeypatch):
    (tmp_path / "ppnorm_lazy_probe.py").write_text("ANSWER = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    things = Registry("experiment")
    things.register_lazy("probe", "ppnorm_lazy_probe")
    assert "probe" in things and "ppnorm_lazy_probe" not in sys.modules
    assert things["probe"].ANSWER == 42 and "ppnorm_lazy_probe" in sys.modules
    monkeypatch.delitem(sys.modules, "ppnorm_lazy_probe")


def test_a_lazy_entry_may_name_an_attribute_of_its_module(tmp_path, monkeypatch):
    (tmp_path / "ppnorm_lazy_attr.py").write_text("def scale(size=2):\n    return size * 10\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    things = Registry("thing")
    things.register_lazy("scale", "ppnorm_lazy_attr", "scale")
    assert "ppnorm_lazy_attr" not in sys.modules and things.options("scale") == ["size"]
    assert things.build("scale", size=3) == 30 and things.get_target("scale").__name__ == "scale"
    monkeypatch.delitem(sys.modules, "ppnorm_lazy_attr")


def test_a_package_imports_every_module_but_its_scripts(tmp_path, monkeypatch):
    package = tmp_path / "probe_pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from ppnorm.registry import Registry, import_submodules\n"
                                         "THINGS = Registry('thing')\nimport_submodules(__name__, __path__)\n")
    (package / "zeta.py").write_text("from . import THINGS\nTHINGS.register('zeta', dict)\n")
    (package / "tool.py").write_text("raise RuntimeError('imported')\n\nif __name__ == '__main__':\n    pass\n")
    (package / "sub" / "__init__.py").write_text("from .. import THINGS\nTHINGS.register('sub', list)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = importlib.import_module("probe_pkg")
    assert probe.THINGS.names() == ["sub", "zeta"] and "probe_pkg.tool" not in sys.modules
    for name in [m for m in sys.modules if m.startswith("probe_pkg")]:
        monkeypatch.delitem(sys.modules, name)
    assert import_submodules("ppnorm.models", ppnorm.models.__path__) is None  # imported already: nothing changes


@pytest.mark.parametrize("package", ["ppnorm.models", "ppnorm.data"])
def test_the_model_and_data_packages_import_all_their_modules(package):
    module = importlib.import_module(package)
    names = [info.name for info in pkgutil.iter_modules(module.__path__)]
    scripts = [name for name in names if "__main__" in Path(module.__path__[0], f"{name}.py").read_text()]
    assert scripts == (["example_images"] if package == "ppnorm.data" else [])
    assert all(f"{package}.{name}" in sys.modules for name in names if name not in scripts)


def test_experiments_are_the_modules_that_declare_an_order_in_its_order(tmp_path):
    for name, text in [("b", "ORDER = 20\n"), ("a", "ORDER = 30  # last\n"), ("c", "x = 1\n"),
                       ("d", '"""Say\nORDER = 5 in a module."""\n'), ("e", "ORDER = 10\nQUESTION = 'e?'\n")]:
        (tmp_path / f"{name}.py").write_text(text)
    assert declared_experiments(tmp_path) == ["e", "b", "a"]
    (tmp_path / "f.py").write_text("ORDER = 20\n")
    with pytest.raises(ValueError, match="experiments b and f both declare ORDER = 20; give each its own place"):
        declared_experiments(tmp_path)


def test_every_module_with_an_experiment_is_registered_by_its_order():
    package = importlib.import_module("ppnorm.experiments")
    modules = [importlib.import_module(f"{package.__name__}.{info.name}")
               for info in pkgutil.iter_modules(package.__path__)]
    declaring = sorted((m for m in modules if any(hasattr(m, name) for name in ("EXPERIMENT", "QUESTION", "run"))),
                       key=lambda m: m.ORDER)  # a module with an experiment but no ORDER fails here
    assert [m.__name__.rsplit(".", 1)[1] for m in declaring] == list(NAMES)


def test_experiments_are_a_lazy_registry_with_the_old_names():
    assert experiments() is EXPERIMENTS and list(NAMES) == EXPERIMENTS.names()
    assert list(NAMES)[:3] == ["batchnorm_basics", "norm_axes", "dropout_modes"] and len(NAMES) >= 22
    assert EXPERIMENTS["norm_axes"].__name__ == "ppnorm.experiments.norm_axes"
    with pytest.raises(ValueError, match=r"unknown experiment 'norm_axis' \(did you mean 'norm_axes'\?\)"):
        EXPERIMENTS.lookup("norm_axis")


def test_a_new_norm_is_one_decorated_function_and_reaches_models(monkeypatch):
    monkeypatch.setattr(NORMS, "_entries", dict(NORMS._entries))  # undone after the test

    @NORMS.register("scaled_bn")
    def _scaled_bn(args):
        return nn.BatchNorm2D(args.num_channels, momentum=args.momentum, epsilon=args.epsilon)

    assert list(NORM_KINDS)[-1] == "scaled_bn"  # the exported view follows the registry
    model = ppnorm.build_model("resnet20", norm="scaled_bn", norm_options={"epsilon": 0.25})
    assert type(model.bn1) is nn.BatchNorm2D and norm_epsilon(model.bn1) == 0.25
    with pytest.raises(ValueError, match="norm kind 'bn' is registered twice"):
        NORMS.register("bn", _scaled_bn)


def test_activations_registry_is_the_old_mapping():
    assert ACTIVATIONS["relu"] is nn.ReLU and list(ACTIVATIONS)[:3] == ["relu", "sigmoid", "tanh"]
    x = paddle.to_tensor([-1.0, 2.0])
    assert build_act("leaky_relu")(x).numpy().tolist() == pytest.approx([-0.01, 2.0])
    assert build_act("identity")(x).numpy().tolist() == [-1.0, 2.0]
    with pytest.raises(ValueError, match=r"^unknown activation 'tahn' \(did you mean 'tanh'\?\); valid: relu, "):
        build_act("tahn")


def _opt_config(name, **lr):
    return {"name": name, "momentum": 0.8, "nesterov": True, "beta1": 0.7, "beta2": 0.95, "weight_decay": 0.01,
            "no_weight_decay_on_norm_and_bias": False, "grad_clip": None,
            "lr": {"name": "Constant", "learning_rate": 0.5, "warmup_epochs": 0, "warmup_start_lr": 0.0,
                   "decay_epochs": [], "gamma": 0.1, "eta_min": 0.0, **lr}}


@pytest.mark.parametrize("name,paddle_class", [("SGD", paddle.optimizer.SGD), ("Momentum", paddle.optimizer.Momentum),
                                               ("Adam", paddle.optimizer.Adam), ("AdamW", paddle.optimizer.AdamW)])
def test_optimizers_registry_builds_the_same_paddle_optimizers(name, paddle_class):
    optimizer, scheduler = build_optimizer(_opt_config(name), nn.Linear(2, 2), 2, 3)
    assert type(optimizer) is paddle_class and optimizer.get_lr() == 0.5
    if name == "Momentum":
        assert optimizer._momentum == 0.8 and optimizer._use_nesterov
    if name in ("Adam", "AdamW"):
        assert (optimizer._beta1, optimizer._beta2) == (0.7, 0.95)
    assert list(OPTIMIZERS) == ["SGD", "Momentum", "Adam", "AdamW"]


def _lrs(scheduler, steps):
    values = []
    for _ in range(steps):
        values.append(scheduler.get_lr() if isinstance(scheduler, paddle.optimizer.lr.LRScheduler) else scheduler)
        scheduler.step()
    return values


def test_schedules_registry_gives_the_documented_learning_rates():
    config = _opt_config("SGD")["lr"]
    assert _lrs(build_lr_scheduler(config, 2, 2), 4) == [0.5] * 4
    piecewise = build_lr_scheduler({**config, "name": "Piecewise", "decay_epochs": [1, 2]}, 3, 2)
    assert _lrs(piecewise, 6) == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005, 0.005])
    warm = build_lr_scheduler({**config, "name": "Cosine", "warmup_epochs": 1}, 3, 2)
    cosine = [0.25 * (1 + np.cos(np.pi * k / 4)) for k in range(4)]
    assert _lrs(warm, 6) == pytest.approx([0.0, 0.25] + cosine)
    one_cycle = build_lr_scheduler({**config, "name": "OneCycle"}, 2, 5)
    assert max(_lrs(one_cycle, 10)) == pytest.approx(0.5, rel=1e-3)
    assert list(SCHEDULES) == ["Constant", "Piecewise", "Cosine", "OneCycle"]
    with pytest.raises(ValueError, match=r"unknown learning-rate schedule 'Cosin' \(did you mean 'Cosine'\?\)"):
        build_lr_scheduler({**config, "name": "Cosin"}, 2, 2)
    with pytest.raises(ValueError, match=r"decay_epochs must be a non-empty increasing list for Piecewise, got \[\]"):
        build_lr_scheduler({**config, "name": "Piecewise"}, 2, 2)


def test_unknown_optimizer_is_refused_instead_of_becoming_adamw():
    with pytest.raises(ValueError, match=r"^unknown optimizer 'Adm' \(did you mean 'Adam'\?\); valid: SGD, Momentum"):
        build_optimizer(_opt_config("Adm"), nn.Linear(2, 2), 2, 3)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_loss_is_paddle_s(smoothing):
    logits = paddle.to_tensor(np.random.RandomState(3).randn(6, 4).astype("float32"))
    labels = paddle.to_tensor([0, 3, 1, 2, 3, 0])
    loss = build_loss({"name": "CrossEntropy", "label_smoothing": smoothing})(logits, labels)
    expected = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    assert float(loss) == float(expected) and float(loss) > 0
    plain = build_loss({"name": "CrossEntropy"})(logits, labels)
    assert (float(plain) == float(loss)) == (smoothing == 0.0)
    assert list(LOSSES) == ["CrossEntropy"]


@pytest.mark.parametrize("config,message", [
    ({"name": "CrossEntropy", "label_smoothing": 1.0}, r"Loss.label_smoothing must be a number in \[0, 1\), got 1.0"),
    ({"name": "CrossEntropy", "label_smoothing": -0.1}, r"Loss.label_smoothing must be a number in \[0, 1\)"),
    ({"name": "CrossEntropy", "label_smoothing": True}, r"Loss.label_smoothing must be a number in \[0, 1\)"),
    ({"name": "CrossEntropyy"}, r"unknown loss 'CrossEntropyy' \(did you mean 'CrossEntropy'\?\)"),
    ({"name": "CrossEntropy", "smoothing": 0.1}, r"unknown option 'smoothing' for Loss 'CrossEntropy' "
                                                 r"\(did you mean 'label_smoothing'\?\)"),
])
def test_bad_loss_configs_are_one_line_errors(config, message):
    with pytest.raises(ValueError, match=message):
        build_loss(config)


def test_build_norm_still_builds_the_documented_layers_for_every_registered_kind():
    kinds = {kind: type(build_norm(kind, 8, groups=4)).__name__ for kind in NORM_KINDS}
    assert kinds == {"bn": "BatchNorm2D", "sync_bn": "SyncBatchNorm", "gn": "GroupNorm", "ln": "GroupNorm",
                     "in": "InstanceNorm2D", "none": "Identity", "rms": "RMSNorm"}
