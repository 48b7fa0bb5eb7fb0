"""The six tools' shared flags and error policy: user errors are one line (exit 2), bugs one line and a log."""
import os
import signal
import tempfile

import paddle
import pytest
from helpers import start_tool

import ppnorm.deploy.cli as deploy_cli
import ppnorm.engine.cli as engine_cli
import ppnorm.experiments.cli as experiment_cli
from ppnorm.benchmark.cli import benchmark_main
from ppnorm.benchmark.cli import parse_args as benchmark_args
from ppnorm.engine.threads import resolve_cpu_threads

DIGITS = "configs/digits/resnet20.yaml"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("train", "eval", "export", "infer", "experiment", "benchmark")


def _error_lines(err):
    """The stderr lines a user reads (Paddle's own import-time warnings left out)."""
    return [line for line in err.splitlines() if line.startswith("error:")]


def _user_error_cases(tmp_path):
    binary = tmp_path / "weights.pdparams"
    binary.write_bytes(bytes(range(256)))
    return {
        "train": (["-c", DIGITS, "-o", "Optimizer.lr.name=Piecewise", "-o", "Optimizer.lr.decay_epochs=[]"],
                  "Optimizer.lr.decay_epochs must be a non-empty, strictly increasing list"),
        "eval": (["-c", str(binary)], "not a text (UTF-8) YAML file"),
        "export": (["-c", DIGITS, "-o", "Global.output_dir=!!python/object/apply:os.getcwd []"], "plain data only"),
        "infer": (["--model_dir", str(tmp_path), "--input", str(binary)], "no exported model"),
        "experiment": (["-c", "configs/experiments/norm_axes.yaml", "-o", "params.groups=x"],
                       "params.groups must be like its default 3"),
        "benchmark": (["--loader_config", str(tmp_path / "missing.yaml")], "config file not found"),
    }


def _assert_one_error_line(tool, code, err, expected):
    lines = _error_lines(err)
    assert code == 2, (tool, err)
    assert len(lines) == 1 and expected in lines[0], (tool, err)
    assert err.rstrip().endswith(lines[0]) and "Traceback" not in err, (tool, err)


@pytest.mark.slow
@pytest.mark.e2e
def test_user_errors_are_one_line_through_the_real_tools(tmp_path):
    """Two tools as a user runs them (a paddle import each: seconds); the other four in-process below."""
    cases = _user_error_cases(tmp_path)
    runs = {tool: start_tool(tool, *cases[tool][0]) for tool in ("train", "infer")}
    for tool, run in runs.items():
        _, err = run.communicate(timeout=120)
        _assert_one_error_line(tool, run.returncode, err, cases[tool][1])


def test_user_errors_are_one_line_in_every_tool(tmp_path, capsys):
    mains = {"train": engine_cli.train_main, "eval": engine_cli.eval_main, "export": deploy_cli.export_main,
             "infer": deploy_cli.infer_main, "experiment": experiment_cli.experiment_main,
             "benchmark": benchmark_main}
    cases = _user_error_cases(tmp_path)
    assert set(mains) == set(cases) == set(TOOLS)
    for tool, (argv, expected) in cases.items():
        code = mains[tool](argv)
        _assert_one_error_line(tool, code, capsys.readouterr().err, expected)


class _Boom:
    def __init__(self, config, verbose=False):
        raise RuntimeError("boom\nsecond line")


def test_unexpected_exception_is_one_line_naming_tool_versions_and_log(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(engine_cli, "Trainer", _Boom)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert engine_cli.train_main(["-c", DIGITS]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    line = err.strip()
    assert line.startswith("error: unexpected RuntimeError in tools/train.py: boom (ppnorm 0.1.0, Paddle ")
    assert f"Paddle {paddle.__version__})" in line and "report it" in line and "issue tracker" in line
    log = line.split("traceback in ")[1].split(" to ")[0]
    assert os.path.dirname(log) == str(tmp_path)
    text = open(log).read()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom" in text and "test_cli.py" in text


def test_verbose_prints_the_traceback_before_the_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(engine_cli, "Trainer", _Boom)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert engine_cli.train_main(["-c", DIGITS, "-v"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "Traceback (most recent call last):" and err[-1].startswith("error: unexpected RuntimeError")


@pytest.mark.parametrize("error,code,line", [
    (ValueError("a builder refused: channels=0"), 2, "error: a builder refused: channels=0"),
    (KeyboardInterrupt(), 130, "error: tools/eval.py interrupted (Ctrl-C)"),
])
def test_builder_value_errors_and_ctrl_c(monkeypatch, capsys, error, code, line):
    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr(engine_cli, "setup_device", fail)
    assert engine_cli.eval_main(["-c", DIGITS, "-o", "Global.pretrained_model=x"]) == code
    assert capsys.readouterr().err.splitlines() == [line]


def _capture_trainer(monkeypatch):
    seen = {}

    class Capture:
        def __init__(self, config, verbose=False):
            seen.update(config)
            self.epoch, self.states, self.output_dir = 0, {"step": 1}, config["Global"]["output_dir"]

        def train(self):
            self.outcome, self.stop_signal = "interrupted", signal.SIGINT  # as after Ctrl-C: 'latest' saved
            return None

    monkeypatch.setattr(engine_cli, "Trainer", Capture)
    return seen


def test_runtime_flags_map_onto_the_config(monkeypatch, tmp_path):
    seen = _capture_trainer(monkeypatch)
    code = engine_cli.train_main(["-c", DIGITS, "-o", "Global.cpu_threads=5", "--cpu_threads", "2", "--device", "cpu",
                                  "--output_dir", str(tmp_path / "run=1")], omp_num_threads="3")
    assert code == 130  # Ctrl-C inside the trainer
    assert (seen["Global"]["cpu_threads"], seen["Global"]["device"]) == (2, "cpu")  # the flag beats -o
    assert seen["Global"]["output_dir"] == str(tmp_path / "run=1")


@pytest.mark.parametrize("overrides,omp,threads", [
    ([], "3", 3),  # OMP_NUM_THREADS (read by the tool before paddle) fills an unset Global.cpu_threads
    (["-o", "Global.cpu_threads=4"], "3", 4),  # the config beats the environment
    ([], None, None), ([], "0", None), ([], "x", None),  # unset or invalid: all cores, decided at setup
])
def test_thread_setting_is_passed_explicitly(monkeypatch, overrides, omp, threads):
    seen = _capture_trainer(monkeypatch)
    engine_cli.train_main(["-c", DIGITS, *overrides], omp_num_threads=omp)
    assert seen["Global"]["cpu_threads"] == threads


def test_threads_default_to_all_cores_and_the_tools_read_omp_before_paddle(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what importing paddle leaves behind: never read
    monkeypatch.setenv("PADDLE_LOCAL_SIZE", "1")
    assert resolve_cpu_threads(None)[0] == len(os.sched_getaffinity(0))
    assert resolve_cpu_threads(None, 6) == (6, "OMP_NUM_THREADS")
    for tool in TOOLS:
        text = open(os.path.join(ROOT, "tools", f"{tool}.py")).read()
        assert text.index('os.environ.pop("OMP_NUM_THREADS", None)') < text.index("from ppnorm")
        assert "omp_num_threads=OMP_NUM_THREADS" in text


def test_export_output_dir_is_the_save_dir(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(deploy_cli, "export_model", seen.update)
    code = deploy_cli.export_main(["-c", DIGITS, "-o", "Global.pretrained_model=w", "--output_dir", str(tmp_path)])
    assert code == 0 and seen["Export"]["save_dir"] == str(tmp_path)


def test_experiment_takes_the_shared_flags(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(experiment_cli, "run_experiment", lambda name, module, settings, params, command:
                        seen.update(settings=settings, params=params))
    code = experiment_cli.experiment_main(["-c", "configs/experiments/norm_axes.yaml", "-o", "quick=true",
                                           "params.groups=2", "--output_dir", str(tmp_path), "--cpu_threads", "1",
                                           "--device", "cpu"])
    assert code == 0 and seen["settings"]["output_dir"] == str(tmp_path) and seen["params"]["groups"] == 2


def test_benchmark_flags(capsys, tmp_path):
    assert benchmark_args(["--output", "old"]).output_dir == "old"  # the former name still works
    assert benchmark_args(["--output_dir", "new"]).output_dir == "new"
    assert benchmark_args([]).output_dir == "output/benchmark"
    assert benchmark_main(["--device", "gpu", "--output_dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: tools/benchmark.py times Paddle's CPU kernels only; "
                                                    "use --device cpu"]


@pytest.mark.parametrize("argv", [["--cpu_threads", "0"], ["--device", "tpu"]])
def test_bad_flags_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        engine_cli.train_main(["-c", DIGITS, *argv])
    assert stop.value.code == 2 and "error: argument" in capsys.readouterr().err


def test_help_config_lists_every_key_with_its_help(capsys):
    with pytest.raises(SystemExit) as stop:
        engine_cli.train_main(["--help-config"])
    out = capsys.readouterr().out.splitlines()
    assert stop.value.code == 0
    by_key = {line.split()[0]: line for line in out}
    assert "int >= 1, default 30" in by_key["Global.epochs"]
    assert "float >= 0.0 < 1.0, default 0.999" in by_key["Optimizer.beta2"]
    assert "checkpoints, logs and the resolved config go here" in by_key["Global.output_dir"]
    assert "already holds another run's latest/best_model" in by_key["Global.overwrite"]
    assert len(out) == 55 and {"Export.format", "Export.tolerance", "Global.class_names", "Global.custom_imports",
                               "Hooks"} <= set(by_key)
    assert "0: off" in by_key["EMA.decay"] and "float >= 0.0 < 1.0, default 0.0" in by_key["EMA.decay"]
    assert "DataLoader.Eval.num_workers" in by_key


@pytest.mark.parametrize("code, fix", [("ENOSPC", "free space"), ("EDQUOT", "free space"),
                                       ("EROFS", "writable location"), ("EACCES", "permissions"),
                                       ("EPERM", "permissions")])
def test_a_disk_that_says_no_is_one_user_error_line_not_a_bug(code, fix, capsys):
    import errno

    from ppnorm.cli import run_tool

    def write():
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)), "/data/run/config.yaml")

    assert run_tool("train", write) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "/data/run/config.yaml" in err[0]
    assert os.strerror(getattr(errno, code)) in err[0] and fix in err[0] and "bug" not in err[0]


def test_other_os_errors_are_still_reported_as_bugs(capsys):
    import errno

    from ppnorm.cli import run_tool

    def fail():
        raise OSError(errno.EBADF, "Bad file descriptor")

    assert run_tool("train", fail) == 1
    assert "this is a bug" in capsys.readouterr().err


def test_a_stop_during_the_final_evaluation_is_reported_not_exit_0(monkeypatch, tmp_path, capsys):
    class FinishedThenStopped:
        def __init__(self, config, verbose=False):
            self.output_dir = config["Global"]["output_dir"]

        def train(self):  # the signal arrived after the last step: the loop finished, the request stayed
            self.outcome, self.stop_requested, self.stop_signal = "finished", True, signal.SIGTERM

    monkeypatch.setattr(engine_cli, "Trainer", FinishedThenStopped)
    assert engine_cli.train_main(["-c", DIGITS, "--output_dir", str(tmp_path / "run")]) == 143
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: tools/train.py interrupted (SIGTERM); it came after the last step: training had finished and every "
        "checkpoint is complete; nothing to resume")
