"""The PaddleClas adapter (ppnorm/paddleclas/) is registered at three extension points, lazily: the config loader's
dialects, the transforms and the weight converters; the core packages never import it."""
import subprocess
import sys
import types

import pytest

from ppnorm.data.transforms import PADDLECLAS_OPS, TRANSFORMS
from ppnorm.engine.config import load_config, load_raw
from ppnorm.engine.config.dialects import DIALECTS, find_dialect
from ppnorm.models.convert import CONVERTERS, to_ppnorm
from ppnorm.paddleclas import dialect, ops, weights

R50 = "tests/data/paddleclas/ResNet50.yaml"


def test_the_three_registries_name_the_adapters_modules():
    assert DIALECTS.get_target("paddleclas") is dialect
    assert CONVERTERS.get_target("PaddleClas") is weights
    assert PADDLECLAS_OPS == tuple(op.__name__ for op in ops.OPS)
    assert [TRANSFORMS.get_target(name) for name in PADDLECLAS_OPS] == list(ops.OPS)


def test_the_loader_asks_the_dialects_and_a_new_one_is_one_registration(tmp_path, monkeypatch, capsys):
    assert find_dialect({"Global": {"epochs": 3}}) is None and find_dialect({"Infer": {}}) is dialect
    monkeypatch.setattr(DIALECTS, "_entries", dict(DIALECTS._entries))  # undone after the test
    seen = []

    def translate(raw, overrides, source):
        seen.append((raw, list(overrides), source))
        config = load_raw("configs/digits/resnet20.yaml")
        config["Global"]["epochs"] = raw["Other"]["rounds"]
        return config
    DIALECTS.register("other", types.SimpleNamespace(detect=lambda raw: "Other" in raw, translate=translate))
    path = tmp_path / "other.yaml"
    path.write_text("Other: {rounds: 2}\n")
    config = load_config(str(path), ["Other.rounds=5"])
    assert config["Global"]["epochs"] == 2 and seen == [({"Other": {"rounds": 2}}, ["Other.rounds=5"],
                                                         f"{path} with -o overrides")]
    assert load_config(R50)["Arch"]["name"] == "resnet50"  # the PaddleClas dialect still comes first
    assert "[PaddleClas]" in capsys.readouterr().err


def test_the_weight_converters_are_asked_in_order_and_label_the_source(monkeypatch):
    names, source = to_ppnorm({"stem.0.conv.weight": 1, "blocks.0.conv0.conv.weight": 2})
    assert source == "PaddleClas ResNet" and names == {"conv1.weight": 1, "layer1.0.conv1.weight": 2}
    monkeypatch.setattr(CONVERTERS, "_entries", dict(CONVERTERS._entries))
    CONVERTERS.register("Other", types.SimpleNamespace(detect=lambda sd: "w" in sd and "Net",
                                                       convert=lambda sd: ({"fc.weight": sd["w"]}, "Net")))
    assert to_ppnorm({"w": 3}) == ({"fc.weight": 3}, "Other Net")
    assert to_ppnorm({"fc.weight": 4}) == ({"fc.weight": 4}, "ppnorm/paddle.vision names")


@pytest.mark.parametrize("package", ["ppnorm", "ppnorm.models", "ppnorm.data", "ppnorm.engine.config"])
def test_importing_a_core_package_does_not_import_the_adapter(package):
    code = f"import sys, {package}; print(sorted(m for m in sys.modules if m.startswith('ppnorm.paddleclas')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]"
