"""The experiment framework: the module contract, config errors, the CLI, the Context; each experiment has its own test file."""
import ast
import importlib
import os

import pytest

import ppnorm
from ppnorm.engine.config import ConfigError
from ppnorm.experiments import NAMES, experiments
from ppnorm.experiments.cli import experiment_main
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.runner import Context

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)


def test_every_experiment_has_a_config_and_the_module_contract():
    for name, module in experiments().items():
        assert os.path.isfile(f"configs/experiments/{name}.yaml")
        assert module.QUESTION.endswith("?") and set(module.QUICK) <= set(module.DEFAULTS) and callable(module.run)
        assert module.QUESTION_ZH.endswith("？"), name
    assert len(NAMES) >= 22  # every module declaring an experiment is registered: tests/test_registry.py


@pytest.mark.slow
def test_experiment_config_errors_and_cli(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown key 'params.epoch' for precise_bn.*did you mean 'epochs'"):
        load_experiment_config("configs/experiments/precise_bn.yaml", ["params.epoch=3"], experiments())
    with pytest.raises(ConfigError, match="params.epochs must be like its default 4"):
        load_experiment_config("configs/experiments/precise_bn.yaml", ["params.epochs=many"], experiments())
    with pytest.raises(ConfigError, match="experiment must be one of"):
        load_experiment_config("configs/experiments/precise_bn.yaml", ["experiment=precise"], experiments())
    assert experiment_main(["--list"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(NAMES)
    assert experiment_main(["--list", "--lang", "zh"]) == 0
    listed = capsys.readouterr().out.strip().splitlines()
    assert listed[0].startswith("batchnorm_basics") and all(line.rstrip().endswith("？") for line in listed)
    code = experiment_main(["-c", "configs/experiments/norm_axes.yaml", "-o", f"output_dir={tmp_path}", "quick=true"])
    assert code == 0 and os.path.isfile(tmp_path / "norm_axes.png")
    assert experiment_main(["-c", "configs/experiments/norm_axes.yaml", "-o", "params.groups=x"]) == 2
    assert "params.groups must be like its default" in capsys.readouterr().err


def test_bad_experiment_params_are_one_line_errors(tmp_path, capsys):
    cases = [("batch_size_sweep", "params.norms=[xx]", "unknown norm kind 'xx'; valid kinds: bn, sync_bn"),
             ("group_sweep", "params.groups=[3]", "params.groups [3] do not divide params.channels=32"),
             ("norm_axes", "params.shape=[1,2]", "params.shape must be [N, C, H, W]")]
    for name, override, message in cases:
        code = experiment_main(["-c", f"configs/experiments/{name}.yaml", "-o", override, "quick=true",
                                f"output_dir={tmp_path / name}"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and message in err, err


def test_context_seeds_and_curve(tmp_path):
    settings = {"seed": 7, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False}
    ctx = Context("x", None, settings, {}, log=lambda *a: None)
    recorded = []
    ctx.scalar = lambda tag, value, step: recorded.append((tag, value, step))
    assert list(ctx.seeds(3)) == [7, 8, 9] and list(ctx.seeds(0)) == []
    ctx.curve("a/top1", [10, 20, 30], [0.5, 0.75])  # pairs only: the extra step has no value
    assert recorded == [("a/top1", 0.5, 10), ("a/top1", 0.75, 20)]


def test_experiment_functions_are_short():
    """The standard of the package: every function of an experiment module fits in 50 lines."""
    folder = os.path.dirname(ppnorm.experiments.__file__)
    long = []
    for file in sorted(os.listdir(folder)):
        if file.endswith(".py"):
            with open(os.path.join(folder, file), encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            long += [f"{file}:{node.name}" for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and node.end_lineno - node.lineno + 1 > 50]
    assert long == []


class _SeedProbe:
    """A stand-in experiment: per seed, one draw from each generator right after ``ctx.seed_everything(seed)``."""
    QUESTION, DEFAULTS = "Which seed does each run use?", {}

    @staticmethod
    def run(ctx):
        import random

        import numpy as np
        import paddle
        for seed in ctx.seeds(3):
            ctx.seed_everything(seed)
            ctx.run_done(f"seed={seed}", "", seed=seed, numpy=float(np.random.rand()), stdlib=random.random(),
                         paddle=float(paddle.rand([1]).item()))
        return "done"


def test_runs_csv_names_the_seed_paddle_numpy_and_random_were_given(tmp_path):
    """With ``seed: 100`` the runs are seeds 100, 101, 102, and each run's draws are those of the seed runs.csv
    names (a seed offset added twice, as ``seed_everything`` once did, would give the draws of 200, 201, 202)."""
    import csv
    import random

    import numpy as np
    import paddle

    from ppnorm.experiments.runner import run_experiment
    settings = {"seed": 100, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False}
    run_experiment("probe", _SeedProbe, settings, {}, log=lambda *a: None)
    with open(tmp_path / "runs.csv", newline="") as handle:
        runs = list(csv.DictReader(handle))
    assert [int(r["seed"]) for r in runs] == [100, 101, 102]
    for run in runs:
        seed = int(run["seed"])
        paddle.seed(seed)
        assert float(run["paddle"]) == pytest.approx(paddle.rand([1]).item(), abs=1e-7)
        assert float(run["numpy"]) == pytest.approx(np.random.RandomState(seed).rand(), abs=1e-12)
        assert float(run["stdlib"]) == pytest.approx(random.Random(seed).random(), abs=1e-12)


@pytest.mark.slow
def test_a_real_experiment_records_the_seeds_it_gave_paddle(tmp_path, monkeypatch):
    """group_sweep's quick preset run with ``-o seed=100``: every seed in runs.csv was given to paddle.seed, and
    they are 100 and 101 (not 0, 1 nor 200, 201)."""
    import csv

    import paddle

    from ppnorm.experiments import context
    given, original = [], paddle.seed
    monkeypatch.setattr(context.paddle, "seed", lambda seed: given.append(seed) or original(seed))
    code = experiment_main(["-c", "configs/experiments/group_sweep.yaml", "-o", f"output_dir={tmp_path}", "quick=true",
                            "seed=100", "use_visualdl=false"])
    assert code == 0
    with open(tmp_path / "runs.csv", newline="") as handle:
        seeds = [int(row["seed"]) for row in csv.DictReader(handle)]
    assert sorted(set(seeds)) == [100, 101]
    assert set(seeds) <= set(given) and not {200, 201} & set(given)


def _claims_file(root, experiment, rows):
    """A claims.csv of interval claims ``(claim, verdict, deciding)``; p = 0.001 for a decisive verdict, else 0.3."""
    import csv

    from ppnorm.experiments.runner import CLAIM_COLUMNS
    (root / experiment).mkdir(parents=True)
    with open(root / experiment / "claims.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CLAIM_COLUMNS)
        writer.writeheader()
        for claim, verdict, deciding in rows:
            p = 0.3 if verdict == "inconclusive" else 0.001
            writer.writerow({"experiment": experiment, "claim_en": claim, "claim_zh": claim + "（中）", "kind": "interval",
                             "verdict": verdict, "raw_verdict": verdict, "deciding": deciding, "mean": 0.1, "low": -0.2,
                             "high": 0.4, "n": 5, "side": "greater", "margin": 0.0, "p": p, "p_holm": p})


def test_verdicts_table_from_claims_files(tmp_path, capsys):
    _claims_file(tmp_path, "norm_axes", [("BN averages over N,H,W", "inconclusive", "0.1 ± 0.3")])
    assert experiment_main(["--verdicts", str(tmp_path), "--lang", "zh"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| 说法 | 判定 | 决定性的数字（95% 区间） | n | 95% 区间 | p | Holm 校正 p | BH 校正 p | 实验 |"
    assert lines[2] == ("| BN averages over N,H,W（中） | 不确定 | 0.1 ± 0.3 | 5 | [-0.2, 0.4] | 0.3 | 0.3 | 0.3 "
                        "| `norm_axes` |")
    assert lines[-1].startswith("(not run yet: batchnorm_basics, dropout_modes")
    assert experiment_main(["--verdicts", str(tmp_path)]) == 0
    assert "| BN averages over N,H,W | inconclusive | 0.1 ± 0.3 | 5 |" in capsys.readouterr().out
    assert experiment_main(["--verdicts", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.startswith("error: no claims.csv under ")


def test_the_table_adjusts_across_experiments_with_benjamini_hochberg(tmp_path, capsys):
    """A claim confirmed within its experiment (Holm p 0.02) is inconclusive in a table where BH over 3 claims
    raises its p to 0.06."""
    _claims_file(tmp_path, "norm_axes", [("A", "confirmed", "1 ± 0.9")])
    _claims_file(tmp_path, "group_sweep", [("B", "inconclusive", "0 ± 1"), ("C", "inconclusive", "0 ± 2")])
    path = tmp_path / "norm_axes" / "claims.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",0.001,0.001,", ",0.02,0.02,"), encoding="utf-8")
    assert experiment_main(["--verdicts", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "| A | inconclusive | 1 ± 0.9 | 5 | [-0.2, 0.4] | 0.02 | 0.02 | 0.06 | `norm_axes` |" in table


def test_verdicts_against_a_second_run_list_differing_verdicts_first(tmp_path, capsys):
    amd, intel = tmp_path / "amd", tmp_path / "intel"
    _claims_file(amd, "norm_axes", [("A", "confirmed", "1 ± 0.5"), ("B", "confirmed", "2 ± 1.5")])
    _claims_file(amd, "group_sweep", [("C", "refuted", "-3 ± 1"), ("only here", "confirmed", "9")])
    _claims_file(intel, "norm_axes", [("A", "confirmed", "1.1 ± 0.5"), ("B", "inconclusive", "1 ± 1.5")])
    _claims_file(intel, "group_sweep", [("C", "refuted", "-2 ± 1")])
    assert experiment_main(["--verdicts", str(amd), "--against", str(intel), "--lang", "zh"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("| 说法 | 判定 (amd) | 判定 (intel) | 决定性的数字（95% 区间） (amd) | "
                        "决定性的数字（95% 区间） (intel) | 实验 |")
    assert lines[2:5] == ["| B（中） | 成立 | 不确定 | 2 ± 1.5 | 1 ± 1.5 | `norm_axes` |",  # the one that differs first
                          "| A（中） | 成立 | 成立 | 1 ± 0.5 | 1.1 ± 0.5 | `norm_axes` |",
                          "| C（中） | 不成立 | 不成立 | -3 ± 1 | -2 ± 1 | `group_sweep` |"]
    assert lines[-1] == f"2 of 3 claims have the same verdict in {amd} and {intel}; 1 differ (listed first)"
    assert experiment_main(["--verdicts", str(amd), "--against", str(tmp_path / "none")]) == 2
    assert "no claim was run under both" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        experiment_main(["--against", str(intel)])
    assert "--against DIR2 compares with --verdicts DIR: give both" in capsys.readouterr().err


@pytest.mark.parametrize("name", NAMES)
def test_every_experiment_has_a_larger_full_preset_that_validates(name):
    """Each experiment's ``<name>_full.yaml`` (the GPU preset each experiment's page documents) loads, writes apart
    from the default run, and changes at least one parameter (more seeds wherever the experiment has seeds)."""
    module = importlib.import_module(f"ppnorm.experiments.{name}")
    _, settings, params = load_experiment_config(f"configs/experiments/{name}_full.yaml", [], experiments())
    assert settings["output_dir"] == f"output/experiments/{name}_full"
    assert params != {**module.DEFAULTS}
    if "seeds" in module.DEFAULTS:
        assert params["seeds"] > module.DEFAULTS["seeds"]


def test_committed_claims_files_are_well_formed_and_the_docs_show_their_verdict_table(capsys):
    """Every ``claims.csv`` under docs/ parses into the runner's columns (a hand edit that breaks CSV quoting
    fails here), and the experiments page's verdict table (docs/zh_CN/experiments/index.md, which README_cn links)
    is exactly what ``--verdicts docs/experiments --lang zh`` prints."""
    import csv
    import glob

    from ppnorm.experiments.runner import CLAIM_COLUMNS
    from ppnorm.experiments.stats import CHECK_RESULTS, VERDICTS, Estimate, decision
    paths = sorted(glob.glob("docs/experiments/*/claims.csv") + glob.glob("docs/reruns/*/*/claims.csv"))
    assert len(paths) >= len(NAMES)
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == CLAIM_COLUMNS, path
        for row in rows[1:]:
            assert len(row) == len(CLAIM_COLUMNS), (path, row[:2])
            record = dict(zip(CLAIM_COLUMNS, row))
            assert record["experiment"] == os.path.basename(os.path.dirname(path)), path
            words = CHECK_RESULTS if record["kind"] == "check" else VERDICTS
            assert record["verdict"] in words, (path, record["claim_en"])
            if record["kind"] == "interval":  # the stored p-values are those of the stored interval
                estimate = Estimate(float(record["mean"]), (float(record["high"]) - float(record["low"])) / 2,
                                    int(record["n"]))
                if int(record["n"]) >= 2 and estimate.half_width > 0:
                    sesoi = float(record["sesoi"]) if record["sesoi"] else None
                    p = decision(estimate, record["side"], float(record["margin"] or 0), sesoi)[1]
                    assert float(record["p"]) == pytest.approx(p, rel=1e-6), (path, record["claim_en"])
    assert experiment_main(["--verdicts", "docs/experiments", "--lang", "zh"]) == 0
    table = capsys.readouterr().out.strip()
    assert "(not run yet" not in table
    with open("docs/zh_CN/experiments/index.md", encoding="utf-8") as handle:
        assert table in handle.read()


def test_a_stopped_experiment_keeps_the_runs_that_finished(tmp_path):
    import csv
    import signal
    import types

    from ppnorm.experiments.runner import run_experiment
    from ppnorm.signals import Stopped

    def run(ctx):
        for seed in ctx.seeds(3):
            ctx.run_done(f"seed={seed}", "done", seed=seed, error=float(seed))
            if seed == 1:
                raise Stopped(signal.SIGTERM)  # as the handler raises it, after two runs finished

    module = types.SimpleNamespace(run=run, QUESTION="q", QUESTION_ZH="q")
    settings = {"seed": 0, "quick": True, "output_dir": str(tmp_path), "use_visualdl": False}
    with pytest.raises(Stopped) as stopped:
        run_experiment("toy", module, settings, {"seeds": 3}, log=lambda *a, **k: None)
    assert stopped.value.signum == signal.SIGTERM
    assert stopped.value.note.startswith(f"the 2 run(s) that finished are kept in {tmp_path / 'runs.partial.csv'}")
    with open(tmp_path / "runs.partial.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["seed"], r["error"]) for r in rows] == [("0", "0.0"), ("1", "1.0")]
    assert not (tmp_path / "runs.csv").exists() and not (tmp_path / "runs.partial.csv.tmp").exists()
