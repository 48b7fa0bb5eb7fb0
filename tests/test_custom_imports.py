"""Global.custom_imports: the loader imports the config's own modules and .py files before it validates, so a config
may name the hooks, models, norms, transforms and losses they register; each problem is one line naming the entry."""
import sys
import textwrap

import pytest

from ppnorm.data.transforms import TRANSFORMS
from ppnorm.engine.config import ConfigError, load_config, save_config
from ppnorm.engine.config.imports import import_custom
from ppnorm.engine.hook_api import HOOKS
from ppnorm.engine.loss import LOSSES
from ppnorm.models.registry import MODELS
from ppnorm.nn.norm import NORMS

BASE = "digits/resnet20"
HOOK = """
from ppnorm.engine.hook_api import HOOKS, HookBase
COUNT = [0]
COUNT[0] += 1

@HOOKS.register("{name}")
class Custom(HookBase):
    def __init__(self, text="x"):
        self.text = text
"""


@pytest.fixture(autouse=True)
def registries(monkeypatch):
    """Whatever a test registers is gone afterwards (other tests list the registries' names)."""
    for registry in (HOOKS, MODELS, NORMS, TRANSFORMS, LOSSES):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    modules = set(sys.modules)
    yield
    for name in set(sys.modules) - modules:
        if name.startswith("ppnorm_custom_") or name.startswith("my_own_"):
            del sys.modules[name]


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _config(folder, imports, hook="MyHook", extra=""):
    hooks = f"Hooks:\n  - {{name: {hook}, text: hi}}\n" if hook else ""
    return _write(folder / "run.yaml", f"_base_: {BASE}\nGlobal:\n  custom_imports: {imports}\n{hooks}{extra}")


def _error(path, *overrides):
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), list(overrides))
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_py_file_next_to_the_config_registers_a_hook_the_config_names(tmp_path):
    _write(tmp_path / "conf" / "hooks.py", HOOK.format(name="MyHook"))
    config = load_config(str(_config(tmp_path / "conf", "[hooks.py]")))
    assert config["Global"]["custom_imports"] == [str(tmp_path / "conf" / "hooks.py")]  # absolute, for the run
    assert config["Hooks"] == [{"name": "MyHook", "text": "hi"}] and "MyHook" in HOOKS
    assert HOOKS.build("MyHook", text="t").text == "t"


def test_without_the_import_the_hook_is_unknown(tmp_path):
    _write(tmp_path / "hooks.py", HOOK.format(name="MyHook"))
    message = _error(_config(tmp_path, "[]"))
    assert "unknown hook 'MyHook'" in message


def test_a_file_entry_is_relative_to_the_file_that_gives_it(tmp_path):
    _write(tmp_path / "shared" / "hooks.py", HOOK.format(name="SharedHook"))
    base = _write(tmp_path / "shared" / "base.yaml", f"_base_: {BASE}\nGlobal:\n  custom_imports: [hooks.py]\n")
    child = _write(tmp_path / "runs" / "child.yaml", f"_base_: {base}\nHooks:\n  - {{name: SharedHook}}\n")
    config = load_config(str(child))
    assert config["Global"]["custom_imports"] == [str(tmp_path / "shared" / "hooks.py")]


def test_an_override_entry_is_relative_to_the_config_and_home_is_expanded(tmp_path, monkeypatch):
    _write(tmp_path / "conf" / "hooks.py", HOOK.format(name="OverHook"))
    _write(tmp_path / "home" / "mine.py", HOOK.format(name="HomeHook"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path / "conf", "[]", hook="OverHook")
    config = load_config(str(path), ["Global.custom_imports=[hooks.py, ~/mine.py]"])
    expected = [str(tmp_path / "conf" / "hooks.py"), str(tmp_path / "home" / "mine.py")]
    assert config["Global"]["custom_imports"] == expected
    assert "HomeHook" in HOOKS


def test_a_module_name_is_imported_from_the_working_directory(tmp_path, monkeypatch):
    _write(tmp_path / "my_own_pkg" / "__init__.py", "")
    _write(tmp_path / "my_own_pkg" / "hooks.py", HOOK.format(name="PkgHook"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    config = load_config(str(_config(tmp_path, "[my_own_pkg.hooks]", hook="PkgHook")))
    assert config["Global"]["custom_imports"] == ["my_own_pkg.hooks"] and "PkgHook" in HOOKS
    assert str(tmp_path) not in sys.path  # only while importing


def test_each_file_is_imported_once_per_process(tmp_path):
    _write(tmp_path / "hooks.py", HOOK.format(name="OnceHook"))
    path = _config(tmp_path, "[hooks.py]", hook="OnceHook")
    first, = import_custom(load_config(str(path)), "x")
    load_config(str(path))
    assert first.COUNT == [1]


def test_the_saved_run_config_imports_the_same_file_from_anywhere(tmp_path, monkeypatch):
    _write(tmp_path / "conf" / "hooks.py", HOOK.format(name="RunHook"))
    config = load_config(str(_config(tmp_path / "conf", "[hooks.py]", hook="RunHook")))
    saved = save_config(config, str(tmp_path / "out"))
    monkeypatch.chdir(tmp_path / "out")
    assert load_config(saved) == config


def test_models_norms_transforms_and_losses_registered_there_are_accepted(tmp_path):
    _write(tmp_path / "mine.py", """
        import paddle.nn as nn
        from ppnorm.data.transforms import TRANSFORMS
        from ppnorm.engine.loss import LOSSES, CrossEntropy
        from ppnorm.models import register_model
        from ppnorm.nn.norm import NORMS

        class Net(nn.Layer):
            def __init__(self, num_classes=10, in_channels=3, norm="bn", width=4):
                super().__init__()

        register_model("my_net", Net)
        NORMS.register("my_norm", lambda args: nn.BatchNorm2D(args.num_channels))
        TRANSFORMS.register("MyShift", lambda amount=0.0: (lambda image: image + amount))
        LOSSES.register("MyLoss", CrossEntropy)
    """)
    extra = ("Arch: {_delete_: true, name: my_net, norm: my_norm, width: 8}\nLoss: {name: MyLoss}\n"
             "DataLoader:\n  Train:\n    transforms: [{MyShift: {amount: 0.5}}]\n")
    config = load_config(str(_config(tmp_path, "[mine.py]", hook=None, extra=extra)))
    assert config["Arch"] == {"name": "my_net", "norm": "my_norm", "width": 8}
    assert config["Loss"]["name"] == "MyLoss"
    assert config["DataLoader"]["Train"]["transforms"] == [{"MyShift": {"amount": 0.5}}]


@pytest.mark.parametrize("entries, expected", [
    ("[3]", ["Global.custom_imports[0]", "must be a string", "3"]),
    ("hooks.py", ["Global.custom_imports", "must be a list"]),
    ("[missing.py]", ["Global.custom_imports[0]", "no such file", "missing.py"]),
    ("[my_own_nothing.hooks]", ["Global.custom_imports[0]", "no module 'my_own_nothing'", "PYTHONPATH"]),
    ("[hooks/mine]", ["Global.custom_imports[0]", "'hooks/mine'", "a path ending in .py"]),
    ("['~nobody_here_xyz/h.py']", ["Global.custom_imports[0]", "no user 'nobody_here_xyz'"]),
])
def test_a_bad_entry_is_one_line_naming_the_key_and_the_config(tmp_path, entries, expected):
    message = _error(_config(tmp_path, entries))
    assert message.startswith(str(tmp_path / "run.yaml")), message
    for part in expected:
        assert part in message, message


def test_a_file_that_raises_names_the_error_and_the_line(tmp_path):
    bad = _write(tmp_path / "bad.py", "x = 1\nraise RuntimeError('boom in bad')\n")
    message = _error(_config(tmp_path, "[bad.py]"))
    assert "Global.custom_imports[0]" in message and "RuntimeError: boom in bad" in message
    assert f"{bad}:2" in message
    _write(tmp_path / "bad.py", HOOK.format(name="MyHook"))  # fixed: the next load imports it afresh
    assert load_config(str(tmp_path / "run.yaml"))["Hooks"][0]["name"] == "MyHook"


def test_a_file_with_a_syntax_error_names_its_line(tmp_path):
    bad = _write(tmp_path / "bad.py", "x = 1\ndef f(:\n")
    message = _error(_config(tmp_path, "[bad.py]"))
    assert "SyntaxError" in message and f"{bad}:2" in message


def test_a_module_that_imports_a_missing_module_is_not_reported_missing_itself(tmp_path, monkeypatch):
    _write(tmp_path / "my_own_mod.py", "import my_own_absent_dependency\n")
    monkeypatch.chdir(tmp_path)
    message = _error(_config(tmp_path, "[my_own_mod]"))
    assert "ModuleNotFoundError" in message and "my_own_absent_dependency" in message
    assert f"{tmp_path / 'my_own_mod.py'}:1" in message


def test_a_name_registered_twice_is_the_registry_error_at_the_users_line(tmp_path):
    _write(tmp_path / "a.py", HOOK.format(name="TwiceHook"))
    b = _write(tmp_path / "b.py", HOOK.format(name="TwiceHook"))
    message = _error(_config(tmp_path, "[a.py, b.py]", hook="TwiceHook"))
    assert "Global.custom_imports[1]" in message and "hook 'TwiceHook' is registered twice" in message
    assert f"{b}:" in message


def test_the_key_is_described_for_help_config():
    from ppnorm.engine.config import SCHEMA, describe_schema
    line, = [line for line in describe_schema(SCHEMA) if line.startswith("Global.custom_imports ")]
    assert "list, default []" in line and "runs their code" in line
