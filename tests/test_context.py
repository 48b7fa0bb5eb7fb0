"""The experiments' Context on its own: every run's seed distinct and the one recorded, the progress lines and
their eta (fake clock), tables, notes, checks and claims with their Holm adjustment, VisualDL tags (fake writer)
and the folders a refused run leaves. No training."""
import math
import random

import numpy as np
import paddle
import pytest

from ppnorm.experiments import context as C
from ppnorm.experiments.stats import Estimate, decision


def _ctx(tmp_path, lines=None, seed=7, lang="en", visualdl=False, **extra):
    settings = {"seed": seed, "quick": True, "output_dir": str(tmp_path / "exp" / "out"), "use_visualdl": visualdl,
                "lang": lang, **extra}
    return C.Context("toy", "module", settings, {"p": 1}, log=(lines if lines is not None else []).append)


def _draws():
    return np.random.rand(), random.random(), paddle.rand([1]).item()


def test_settings_become_the_contexts_fields_and_the_output_dir_is_made(tmp_path):
    ctx = C.Context("toy", "mod", {"seed": 3, "quick": False, "output_dir": str(tmp_path / "a" / "b"),
                                   "use_visualdl": True, "claims": None}, {"k": 2})
    assert (ctx.name, ctx.module, ctx.seed, ctx.quick, ctx.params, ctx.lang) == ("toy", "mod", 3, False, {"k": 2}, "en")
    assert ctx.claim_overrides == {} and ctx.data_spec is None and ctx.use_visualdl is True and ctx.log is print
    assert ctx.created_dirs == [str(tmp_path / "a" / "b"), str(tmp_path / "a")] and (tmp_path / "a" / "b").is_dir()
    assert ctx.tables == {} and ctx.charts == [] and ctx.claims == [] and ctx.notes == [] and ctx.runs == []
    again = C.Context("toy", "mod", {"seed": 3, "quick": True, "output_dir": str(tmp_path / "a" / "b"),
                                     "use_visualdl": False, "claims": {"c1": {"margin": 1}}, "data": {"name": "x"}},
                      {})
    assert again.created_dirs == [] and again.claim_overrides == {"c1": {"margin": 1}}
    assert again.data_spec == {"name": "x"}


def test_every_seed_of_a_block_is_distinct_absolute_and_seeds_all_three_generators(tmp_path):
    ctx = _ctx(tmp_path, seed=40)
    assert list(ctx.seeds(4)) == [40, 41, 42, 43] and list(ctx.seeds(0)) == []
    draws = {}
    for seed in ctx.seeds(3):
        assert ctx.seed_everything(seed) == seed
        draws[seed] = _draws()
    assert len(set(draws.values())) == 3  # each run its own randomness
    for seed in (41, "42"):  # the same seed: the same draws (a seed given as text counts too)
        assert ctx.seed_everything(seed) == int(seed)
        assert _draws() == draws[int(seed)]
    assert ctx.seed_everything() == 40 and _draws() == draws[40]


def test_run_done_records_the_values_and_prints_progress_with_an_eta(tmp_path, monkeypatch):
    clock = iter([100.0, 110.0, 125.0, 200.0])
    monkeypatch.setattr(C.time, "perf_counter", lambda: next(clock))
    lines = []
    ctx = _ctx(tmp_path, lines)  # the clock's first reading is the start
    ctx.plan(4)  # restarts at 110
    ctx.run_done("bn seed=7", "error 1.5", norm="bn", seed=7, error=1.5)
    ctx.run_done("ln seed=7", "error 2.0")  # without values: no runs.csv row
    assert lines == ["[toy] run 1/4 bn seed=7: error 1.5 | elapsed 0:00:15, eta 0:00:45",
                     "[toy] run 2/4 ln seed=7: error 2.0 | elapsed 0:01:30, eta 0:01:30"]
    assert ctx.runs == [{"norm": "bn", "seed": 7, "error": 1.5}]


def test_more_runs_than_planned_count_up_with_no_eta(tmp_path, monkeypatch):
    monkeypatch.setattr(C.time, "perf_counter", lambda: 50.0)
    lines = []
    ctx = _ctx(tmp_path, lines)
    for _ in range(2):
        ctx.run_done("x", "ok")
    assert lines == ["[toy] run 1/1 x: ok | elapsed 0:00:00, eta 0:00:00", "[toy] run 2/2 x: ok | elapsed 0:00:00, "
                                                                             "eta 0:00:00"]


def test_run_values_picks_a_key_of_the_matching_runs_in_order(tmp_path):
    ctx = _ctx(tmp_path)
    for norm, seed, error in (("bn", 1, 0.5), ("ln", 1, 0.7), ("bn", 2, 0.25)):
        ctx.run_done("r", "ok", norm=norm, seed=seed, error=error)
    assert ctx.run_values("error", norm="bn") == [0.5, 0.25]
    assert ctx.run_values("seed") == [1, 1, 2] and ctx.run_values("error", norm="bn", seed=2) == [0.25]
    assert ctx.run_values("error", norm="gn") == []


def test_tables_and_notes_are_recorded_and_printed(tmp_path):
    lines = []
    ctx = _ctx(tmp_path, lines)
    rows = [{"norm": "bn", "error": 1.5}, {"norm": "ln", "error": 2.0}]
    assert ctx.table("errors", rows) is rows
    assert ctx.tables["errors"] == {"rows": rows, "columns": ["norm", "error"], "title": "errors"}
    ctx.table("two", rows, columns=("error",), title="Errors only")
    assert ctx.tables["two"]["columns"] == ["error"] and ctx.tables["two"]["title"] == "Errors only"
    assert lines[0].startswith("\n[toy] errors\n| norm | error |") and lines[1].startswith("\n[toy] Errors only\n| ")
    ctx.note("BN wins")
    assert ctx.notes == ["BN wins"] and lines[-1] == "[toy] BN wins"


def test_tr_and_chart_text_follow_the_language_and_the_font(tmp_path, monkeypatch):
    en = _ctx(tmp_path)
    assert en.tr("a", "甲") == "a" and en.chart_text("a", "甲") == "a" and en.chinese_charts is False
    monkeypatch.setattr(C, "use_chinese_font", lambda: True)
    zh = _ctx(tmp_path, lang="zh")
    assert zh.tr("a", "甲") == "甲" and zh.chart_text("a", "甲") == "甲"
    assert _ctx(tmp_path).chinese_charts is False  # English reports never ask for the font
    monkeypatch.setattr(C, "use_chinese_font", lambda: False)
    boxes = _ctx(tmp_path, lang="zh")
    assert boxes.tr("a", "甲") == "甲" and boxes.chart_text("a", "甲") == "a"


# --- checks and claims ----------------------------------------------------------------------------------------------

def test_a_check_passes_up_to_its_tolerance(tmp_path):
    lines = []
    ctx = _ctx(tmp_path, lines)
    assert ctx.check("identity", 0.5, 0.5, evidence="e") == "passed"
    assert ctx.check(("identity", "恒等"), 0.51, 0.5) == "failed"
    first, second = ctx.claims
    assert {k: first[k] for k in ("claim", "claim_en", "claim_zh", "kind", "verdict", "raw_verdict", "deciding",
                                  "n", "evidence", "p", "p_holm")} == {
        "claim": "identity", "claim_en": "identity", "claim_zh": "identity", "kind": "check", "verdict": "passed",
        "raw_verdict": "passed", "deciding": "0.5 (tolerance 0.5)", "n": 0, "evidence": "e", "p": "", "p_holm": ""}
    assert math.isnan(first["mean"]) and math.isnan(first["low"]) and math.isnan(first["high"])
    assert second["claim_zh"] == "恒等" and second["deciding"] == "0.51 (tolerance 0.5)"
    assert lines == ["[toy] passed: identity (0.5 (tolerance 0.5))", "[toy] failed: identity (0.51 (tolerance 0.5))"]
    zh_lines = []
    _ctx(tmp_path, zh_lines, lang="zh").check(("identity", "恒等"), 0.0, 1e-3)
    assert zh_lines == ["[toy] 通过: 恒等 (0（容差 0.001）)"]


@pytest.mark.parametrize("side, margin, bound", [("greater", 0.0, "> 0 points"), ("less", 1.5, "< 1.5 points"),
                                                 ("within", 2.0, "within ±2 points")])
def test_a_claim_records_its_estimate_bound_and_decision(tmp_path, side, margin, bound):
    lines = []
    ctx = _ctx(tmp_path, lines)
    estimate = Estimate(1.25, 0.5, 6)
    sesoi = None if side == "within" else 0.25
    verdict, p = decision(estimate, side, margin, sesoi)
    assert ctx.compare("BN helps", estimate, side, margin, unit=" pts", evidence="runs.csv", sesoi=sesoi,
                       failed=2) == verdict
    [row] = ctx.claims
    assert {k: row[k] for k in ("kind", "verdict", "raw_verdict", "mean", "low", "high", "n", "failed", "side",
                                "margin", "sesoi", "p", "evidence")} == {
        "kind": "interval", "verdict": verdict, "raw_verdict": verdict, "mean": 1.25, "low": 0.75, "high": 1.75,
        "n": 6, "failed": 2, "side": side, "margin": margin, "sesoi": "" if sesoi is None else 0.25, "p": p,
        "evidence": "runs.csv"}
    assert row["deciding"] == f"1.25 ± 0.50 points (claim: {bound}, n=6, 2 failed)"
    assert lines == [f"[toy] {verdict}, p={p:.2g}: BN helps ({row['deciding']})"]


def test_a_claim_without_runs_or_sesoi_and_in_chinese(tmp_path):
    lines = []
    ctx = _ctx(tmp_path, lines, lang="zh")
    ctx.compare(("a", "甲"), Estimate(float("nan"), float("nan"), 0), "within", 1.0, digits=1)
    [row] = ctx.claims
    deciding = "无有效值（说法：在 ±1 之内，n=0）"
    assert row["deciding"] == deciding and row["sesoi"] == "" and row["failed"] == 0
    assert row["verdict"] == "inconclusive" and lines == [f"[toy] 不确定: 甲 ({deciding})"]
    ctx.compare("b", Estimate(2.0, 1.0, 3), "greater", 0.5, digits=1, failed=1)
    assert ctx.claims[-1]["deciding"] == "2.0 ± 1.0（说法：> 0.5，n=3，另有 1 次失败）"
    with pytest.raises(ValueError) as error:
        ctx.compare("c", Estimate(1.0, 1.0, 3), "above")
    assert str(error.value) == "side must be one of ('greater', 'less', 'within'), got 'above'"


def test_finish_claims_adjusts_the_p_values_of_the_statistical_claims_only(tmp_path):
    lines = []
    ctx = _ctx(tmp_path, lines)
    ctx.check("identity", 0.0, 1.0)
    verdicts = [ctx.compare(name, Estimate(mean, 0.5, 10), "greater") for name, mean in
                (("strong", 5.0), ("weak", 0.51), ("weaker", 0.5))]
    assert verdicts == ["confirmed"] * 3
    p_strong, p_weak, p_weaker = (claim["p"] for claim in ctx.claims[1:])
    assert p_weaker <= C.ALPHA < 2 * p_weak and p_weak < p_weaker  # each confirmed alone, not after Holm
    del lines[:]
    claims = ctx.finish_claims()
    assert claims is ctx.claims and claims[0]["p_holm"] == "" and claims[0]["verdict"] == "passed"
    assert [c["p_holm"] for c in claims[1:]] == pytest.approx([3 * p_strong, 2 * p_weak, 2 * p_weak])
    assert [c["verdict"] for c in claims] == ["passed", "confirmed", "inconclusive", "inconclusive"]
    assert [c["raw_verdict"] for c in claims[1:]] == ["confirmed"] * 3
    assert lines == [f"[toy] Holm over 3 claims: confirmed -> inconclusive (p={p:.2g}, adjusted {2 * p_weak:.2g}): "
                     f"{name}" for name, p in (("weak", p_weak), ("weaker", p_weaker))]
    assert [(c["claim"], p) for c, p in C.holm_over(claims)] == [
        ("strong", pytest.approx(3 * p_strong)), ("weak", pytest.approx(2 * p_weak)),
        ("weaker", pytest.approx(2 * p_weak))]


# --- VisualDL and charts ---------------------------------------------------------------------------------------------

class _Writer:
    made = []

    def __init__(self, logdir):
        self.logdir, self.calls, self.closed = logdir, [], False
        _Writer.made.append(self)

    def add_scalar(self, *args):
        self.calls.append(("scalar", *args))

    def add_histogram(self, tag, values, step, buckets):
        self.calls.append(("histogram", tag, values.dtype.name, values.tolist(), step, buckets))

    def close(self):
        self.closed = True


def test_visualdl_gets_clean_tags_numbers_and_one_writer(tmp_path, monkeypatch):
    import ppnorm.engine.logger as logger
    monkeypatch.setattr(logger, "log_writer_class", lambda: _Writer)
    _Writer.made = []
    ctx = _ctx(tmp_path, visualdl=True)
    ctx.curve("bn loss", [1, 2], [np.float64(0.5), 0.25])
    ctx.scalar("top-1 % | a", np.float32(3), 4.0)
    ctx.histogram("w", np.array([[1, 2], [3, 4]]), 2, buckets=5)
    ctx.histogram("w", [1.5], 3)
    [writer] = _Writer.made
    assert writer.logdir == str(tmp_path / "exp" / "out" / "vdl")
    assert writer.calls == [("scalar", "bn_loss", 0.5, 1), ("scalar", "bn_loss", 0.25, 2),
                            ("scalar", "top-1_pct_a", 3.0, 4),
                            ("histogram", "w", "float32", [1.0, 2.0, 3.0, 4.0], 2, 5),
                            ("histogram", "w", "float32", [1.5], 3, 30)]
    assert all(type(call[2]) is float and type(call[3]) is int for call in writer.calls[:3])
    ctx.close()
    assert writer.closed and ctx._writer is None
    ctx.close()  # twice: nothing to close


def test_without_visualdl_nothing_is_written(tmp_path, monkeypatch):
    import ppnorm.engine.logger as logger
    monkeypatch.setattr(logger, "log_writer_class", lambda: pytest.fail("a writer was made"))
    ctx = _ctx(tmp_path)
    ctx.curve("a", [1], [1.0])
    ctx.histogram("h", [1.0], 1)
    assert ctx.writer is None
    ctx.close()


@pytest.mark.parametrize("text, tag", [("a b", "a_b"), ("x%", "xpct"), ("| a |", "a"),
                                       ("bn/seed_3/loss", "bn/seed_3/loss"), ("lr=0.1 (x^2*y+z)", "lr=0.1_(x^2*y+z)"),
                                       ("a-b.c", "a-b.c"), ("é,ü", "")])
def test_tags_keep_visualdl_safe_characters_only(text, tag):
    assert C._tag(text) == tag


def test_a_saved_figure_is_a_png_in_the_output_dir_and_listed_with_its_caption(tmp_path):
    ctx = _ctx(tmp_path)
    fig, axes = ctx.figure(ncols=2, width=2.0, height=1.5)
    assert axes.shape == (1, 2) and tuple(fig.get_size_inches()) == (4.0, 1.5)
    axes[0, 0].plot([0, 1], [1, 0])
    path = ctx.save_figure(fig, "curve", "a caption")
    assert path == str(tmp_path / "exp" / "out" / "curve.png") and ctx.charts == [("curve.png", "a caption")]
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    fig, axes = ctx.figure(nrows=2, projection="polar")
    assert axes.shape == (2, 1) and axes[0, 0].name == "polar"
    ctx.save_figure(fig, "polar")
    assert ctx.charts[-1] == ("polar.png", "")


# --- kills of the first mutation run --------------------------------------------------------------------------------

def test_tags_keep_capitals_and_strip_only_underscores():
    assert C._tag("BN loss") == "BN_loss" and C._tag("_X_") == "X" and C._tag("top-1 %") == "top-1_pct"


def test_a_new_context_knows_no_claim_ids_and_counts_from_zero(tmp_path):
    ctx = _ctx(tmp_path)
    assert ctx.claim_ids == {} and ctx._runs == 0 and ctx._finished == 0 and ctx._writer is None


def test_data_and_data_info_read_the_configs_data_set(tmp_path, monkeypatch):
    from ppnorm.experiments import data
    calls = []
    monkeypatch.setattr(data, "load", lambda *args: calls.append(("load", *args)) or "arrays")
    monkeypatch.setattr(data, "info", lambda *args: calls.append(("info", *args)) or "information")
    ctx = _ctx(tmp_path, data={"name": "cifar10"})
    assert ctx.data("train") == "arrays" and ctx.data("test", normalize=False) == "arrays"
    assert ctx.data_info == "information"
    assert calls == [("load", {"name": "cifar10"}, "train", True), ("load", {"name": "cifar10"}, "test", False),
                     ("info", {"name": "cifar10"})]


def test_a_table_takes_its_columns_from_the_first_row_and_its_headers_in_the_reports_language(tmp_path):
    lines = []
    ctx = _ctx(tmp_path, lines, lang="zh")
    ctx.table("t", [{"seed": 1}])
    ctx.table("u", [{"seed": 1, "norm": "bn"}, {"seed": 2}])
    assert ctx.tables["t"]["columns"] == ["seed"] and ctx.tables["u"]["columns"] == ["seed", "norm"]
    assert lines[0].startswith("\n[toy] t\n| 种子 |") and lines[1].startswith("\n[toy] u\n| 种子 | 归一化 |")


def test_every_row_has_every_field_whatever_its_kind(tmp_path):
    ctx = _ctx(tmp_path, lang="zh")
    ctx.check(("identity", "恒等"), 0.0, 1.0)
    ctx.compare(("claim", "说法"), Estimate(1.0, 0.5, 4), "greater")
    check, claim = ctx.claims
    assert {k: check[k] for k in ("claim", "failed", "side", "margin", "sesoi", "evidence")} == {
        "claim": "恒等", "failed": "", "side": "", "margin": "", "sesoi": "", "evidence": ""}
    assert claim["claim"] == "说法" and claim["evidence"] == "" and claim["failed"] == 0


def test_a_sesoi_lets_a_claim_be_no_effect_and_units_and_no_value_follow_the_language(tmp_path):
    ctx = _ctx(tmp_path)
    assert ctx.compare("a", Estimate(0.0, 0.1, 10), "greater", sesoi=0.5) == "no effect"
    assert ctx.compare("b", Estimate(0.0, 0.1, 10), "greater") == "inconclusive"
    ctx.compare("c", Estimate(float("nan"), float("nan"), 0), "less", 1.0, unit=" pts")
    assert ctx.claims[-1]["deciding"] == "no value (claim: < 1 points, n=0)"
    zh = _ctx(tmp_path, lang="zh")
    zh.compare("d", Estimate(2.0, 0.5, 4), "greater", 1.0, unit=" pts", digits=1)
    assert zh.claims[-1]["deciding"] == "2.0 ± 0.5 个百分点（说法：> 1 个百分点，n=4）"


def test_figure_sizes_and_the_saved_pixels(tmp_path):
    import matplotlib.pyplot as plt
    ctx = _ctx(tmp_path)
    fig, _ = ctx.figure()
    assert tuple(fig.get_size_inches()) == (5.0, 3.6)
    tall, _ = ctx.figure(nrows=2, width=2.0, height=1.5)
    assert tuple(tall.get_size_inches()) == (2.0, 3.0)
    other, _ = ctx.figure()
    path = ctx.save_figure(tall, "tall")
    with open(path, "rb") as handle:
        header = handle.read(24)
    assert (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")) == (220, 330)  # 110 dpi
    open_figures = plt.get_fignums()
    assert tall.number not in open_figures and other.number in open_figures  # the saved one is closed, not another
    plt.close("all")
