"""A norm option the chosen kind does not read (momentum with gn, groups with rms) is said once per process on
stderr, naming the option, the kind and the kinds that read it; a warning, not an error, so switching
``-o Arch.norm=gn`` on a config written for bn keeps working. Options a kind reads are not mentioned."""
import pytest

import ppnorm
from ppnorm.nn import NORM_KINDS, NORM_OPTIONS, build_norm, norm
from ppnorm.nn.layers import NormSpec


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    monkeypatch.setattr(norm, "_WARNED", set())


def _warnings(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: norm_options.")]


@pytest.mark.parametrize("kind, option, value, readers", [
    ("gn", "momentum", 0.5, "bn, sync_bn"), ("rms", "groups", 8, "gn"), ("ln", "use_global_stats", True, "bn, sync_bn"),
    ("none", "epsilon", 1e-3, "bn, sync_bn, gn, ln, in, rms")])
def test_an_option_the_kind_does_not_read_is_said_once_with_the_kinds_that_read_it(capsys, kind, option, value,
                                                                                   readers):
    spec = NormSpec(kind, {option: value})
    for channels in (32, 64, 32):
        spec(channels)
    build_norm(kind, 32, **{option: value})
    lines = _warnings(capsys)
    assert len(lines) == 1
    assert f"norm_options.{option}={value!r} " in lines[0] and f"'{kind}'" in lines[0]
    assert lines[0].endswith(f"read {option}: {readers})")


@pytest.mark.parametrize("kind", [kind for kind in NORM_KINDS if kind != "none"])
def test_options_a_kind_reads_are_not_mentioned(capsys, kind):
    options = {"epsilon": 1e-4, "affine": False}
    if kind == "gn":
        options["groups"] = 4
    if kind in ("bn", "sync_bn"):
        options["momentum"] = 0.5
    build_norm(kind, 8, **options)
    assert _warnings(capsys) == []


def test_every_option_is_read_by_some_kind_and_kinds_read_only_options():
    read = set().union(*norm._READS.values())
    assert read == set(NORM_OPTIONS)
    with pytest.raises(ValueError) as error:
        norm.norm_kind("odd", [], reads=("epsilon", "grups"))
    assert "'grups'" in str(error.value) and "odd" not in norm.NORMS


def test_a_model_with_an_unread_option_builds_and_warns_once(capsys):
    model = ppnorm.build_model("resnet20", num_classes=3, norm="gn", norm_options={"groups": 4, "momentum": 0.5})
    ppnorm.build_model("resnet20", num_classes=3, norm="gn", norm_options={"groups": 4, "momentum": 0.5})
    assert sum(1 for _ in model.sublayers() if type(_).__name__ == "GroupNorm") == 21
    lines = _warnings(capsys)
    assert len(lines) == 1 and "norm_options.momentum=0.5" in lines[0]


def test_a_kind_registered_without_norm_kind_may_read_any_option(capsys, monkeypatch):
    monkeypatch.setitem(norm.NORMS._entries, "plain", (lambda args: norm.nn.Identity(), {}, {}))
    build_norm("plain", 8, groups=8, momentum=0.5)
    assert _warnings(capsys) == []
