"""The public API is annotated: every function and class that ``ppnorm.models``, ``ppnorm.nn`` and ``ppnorm.data``
export (and the functions of a module they export), and every public function of ``ppnorm.engine.config``, has type
hints that resolve, so a new unannotated public function fails here. Also: a ``Hooks`` entry naming an unknown hook
is refused with its position and the config file, like the section's other errors."""
import inspect
import typing
from pathlib import Path

import paddle
import pytest
import yaml

import ppnorm.data
import ppnorm.engine.config
import ppnorm.models
import ppnorm.nn
from ppnorm.engine import ConfigError, load_config

DIGITS = str(Path(__file__).resolve().parents[1] / "configs" / "digits" / "resnet20.yaml")
CALLED = ("__call__", "__iter__", "__len__", "__getitem__")  # dunder methods that are part of a class's API


def _exported(package):
    """``(name, function or class)`` for what ``package`` exports, modules' own public functions included."""
    names = getattr(package, "__all__", None) or [n for n in vars(package) if not n.startswith("_")]
    for name in names:
        value = getattr(package, name)
        if inspect.ismodule(value) and value.__name__.startswith("ppnorm."):
            yield from ((n, v) for n, v in _exported(value) if inspect.isfunction(v) and v.__module__ == value.__name__)
        elif inspect.isfunction(value) or inspect.isclass(value):
            yield f"{package.__name__}.{name}", value


def _methods(cls):
    """``(name, function)`` for the class's ``__init__`` and public methods that ppnorm defines (not Paddle or
    Python); the ``__init__`` may be inherited from a ppnorm base class."""
    init = cls.__init__
    if inspect.isfunction(init) and init.__module__.startswith("ppnorm"):
        yield "__init__", init
    for name, value in vars(cls).items():
        if inspect.isfunction(value) and (not name.startswith("_") or name in CALLED):
            yield name, value


def _missing(function, name=""):
    """The parameters (and ``return``, but for ``__init__``) of ``function`` without an annotation."""
    missing = [p.name for p in inspect.signature(function).parameters.values()
               if p.annotation is inspect.Parameter.empty and p.name not in ("self", "cls")]
    return missing + ([] if name == "__init__" or "return" in function.__annotations__ else ["return"])


def _resolve(function):
    """Evaluate the annotations (``paddle`` given for modules that import it only under TYPE_CHECKING)."""
    return typing.get_type_hints(function, localns={"paddle": paddle})


PUBLIC = sorted(dict([*_exported(ppnorm.models), *_exported(ppnorm.nn), *_exported(ppnorm.data),
                      *((n, v) for n, v in _exported(ppnorm.engine.config)
                        if inspect.isfunction(v) and v.__module__.startswith("ppnorm.engine.config"))]).items())


def test_the_checked_api_is_the_whole_public_api():
    names = [name for name, _ in PUBLIC]
    assert len(names) >= 75
    assert {"ppnorm.models.build_model", "ppnorm.models.ResNet", "ppnorm.nn.build_norm", "ppnorm.data.BatchLoader",
            "ppnorm.nn.functional.batch_norm", "ppnorm.engine.config.load_config"} <= set(names)
    methods = dict(_methods(ppnorm.models.ResNet))
    assert {"__init__", "forward_features"} <= set(methods) and "forward" not in methods  # ConvClassifier's
    assert dict(_methods(ppnorm.data.DataError)) == {}  # a class that keeps Python's __init__


@pytest.mark.parametrize("name, value", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_every_public_function_and_class_is_annotated(name, value):
    functions = [(f"{name}.{method}", method, function) for method, function in _methods(value)] \
        if inspect.isclass(value) else [(name, "", value)]
    for where, method, function in functions:
        assert _missing(function, method) == [], where
        assert _resolve(function), where


def test_an_unannotated_function_is_found():
    def plain(x, y: int = 0):
        return x

    def typed(x: int) -> int:
        return x

    class Layer:
        def __init__(self, size: int) -> None:
            self.size = size

        def forward(self, x):
            return x

    assert _missing(plain) == ["x", "return"] and _missing(typed) == [] and _missing(Layer.__init__, "__init__") == []
    assert [(name, _missing(function, name)) for name, function in _methods(Layer)] == [("forward", ["x", "return"])]


def test_an_unknown_hook_is_refused_with_its_position_and_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"_base_": DIGITS, "Global": {"output_dir": str(tmp_path / "out")},
                                    "Hooks": [{"name": "TrainLog"}, {"name": "NoSuchHook"}]}))
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: Hooks[1]: unknown hook 'NoSuchHook'") and "\n" not in message
