"""notebooks/ppnorm_quickstart_cn.ipynb runs top to bottom in quick mode in a kernel whose interpreter is not the
``python`` on PATH, every step producing what it claims; a failing tool stops it at that cell with its error line;
its committed outputs (a full run) carry no machine paths, no Paddle log lines and one CPU name."""
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="the notebook test needs a Python kernel (ipykernel): pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "ppnorm_quickstart_cn.ipynb"
ROW = re.compile(r"^\| (\w+Norm) \([a-z]+[^|]*\| ([\d.]+) \| (\d+) \| [\d.]+（\d+） \| (\d+) \|", re.M)
KERNEL = "ppnorm-test-kernel"
# An absolute path of a machine: a Unix root folder or a Windows drive, at the start of a word
ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])(/(?:work|tmp|root|home|usr|opt|var|mnt|Users|private)/|[A-Za-z]:\\)")
GLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w.]+:\d+\]", re.M)  # I1204 14:44:18.329 23491 x.cc:1]
CPU_LINE = re.compile(r"^CPU: (.+)（lscpu 的型号名）", re.M)
CPU_NAMES = re.compile(r"EPYC|Xeon|Intel|AMD|Ryzen|Core\(TM\)|Apple M\d")


def _texts(cell):
    """Everything a code cell printed or displayed as text (stream, result, markdown and error outputs)."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get("text/markdown", ""), data.get("text/plain", "")]
        if output.get("output_type") == "error":
            parts += [output.get("ename", ""), output.get("evalue", "")]
    return "\n".join(parts)


def _all_texts(notebook):
    return "\n".join(_texts(cell) for cell in notebook.cells if cell.cell_type == "code")


def _source_cell(notebook, needle):
    """The one code cell whose source contains ``needle``."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and needle in c.source]
    assert len(cells) == 1, f"expected one code cell containing {needle!r}, found {len(cells)}"
    return cells[0]


def _lscpu_model():
    """``lscpu``'s Model name on this machine, or None without lscpu."""
    if not shutil.which("lscpu"):
        return None
    text = subprocess.run(["lscpu"], capture_output=True, text=True, env=dict(os.environ, LC_ALL="C")).stdout
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Model name:")]
    return names[0] if names else None


@pytest.fixture(scope="module")
def foreign_kernel(tmp_path_factory):
    """Environment for a kernel that runs this interpreter (a kernelspec in a temporary JUPYTER_PATH) while the
    ``python`` and ``python3`` first on PATH are another one: it writes ``wrong interpreter`` to stderr and to a
    marker file and exits 1, as a Python without Paddle would fail. Yields (env, marker file)."""
    base = tmp_path_factory.mktemp("kernel")
    marker = base / "wrong_interpreter_called"
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for name in ("python", "python3"):
        fake = bin_dir / name
        fake.write_text(f'#!/bin/sh\necho "wrong interpreter: $0 $*" >&2\necho "$0 $*" >> "{marker}"\nexit 1\n')
        fake.chmod(0o755)
    spec = base / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ppnorm test (not the python on PATH)", "language": "python"}))
    env = {"PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
           "JUPYTER_PATH": os.pathsep.join(filter(None, [str(base / "jupyter"), os.environ.get("JUPYTER_PATH")])),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return env, marker


def _execute(notebook, env, timeout):
    """Run ``notebook`` in the test kernel with ``env`` added to the environment (the kernel and the tools it
    starts inherit it); the CPU seconds its processes took."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        assert Path(shutil.which("python")).parent == Path(env["PATH"].split(os.pathsep)[0])  # the fake one
        nbclient.NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL,
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime


@pytest.fixture(scope="module")
def executed(tmp_path_factory, foreign_kernel):
    """The notebook executed by nbclient in quick mode in the foreign kernel, and its output root."""
    env, marker = foreign_kernel
    out = tmp_path_factory.mktemp("notebook") / "out"
    env = dict(env, PPNORM_NOTEBOOK_QUICK="1", PPNORM_NOTEBOOK_OUTPUT=str(out))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    wall = time.time()
    cpu = _execute(notebook, env, timeout=400)
    print(f"[notebook] quick mode: {cpu:.1f} s CPU (kernel and tools), {time.time() - wall:.1f} s wall")
    assert not marker.exists(), f"the notebook ran the python on PATH: {marker.read_text()}"
    return notebook, out


@pytest.mark.slow
@pytest.mark.e2e
def test_no_cell_failed_or_printed_an_error(executed):
    notebook, _ = executed
    for index, cell in enumerate(notebook.cells):
        outputs = cell.get("outputs", [])
        assert not [o for o in outputs if o.output_type == "error"], f"cell {index} raised"
        text = _texts(cell)
        assert "Traceback" not in text and "error:" not in text.lower(), f"cell {index} printed an error:\n{text}"
        assert "wrong interpreter" not in text, f"cell {index} ran the python on PATH:\n{text}"


@pytest.mark.slow
@pytest.mark.e2e
def test_tools_ran_with_the_kernels_interpreter(executed):
    """Every tool cell goes through run(), which starts sys.executable -m ppnorm; none shells out with '!'."""
    notebook, _ = executed
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert not [s for s in code if re.search(r"^\s*!", s, re.M)], "a cell shells out with '!'"
    helper = _source_cell(notebook, "def run(").source
    assert '[sys.executable, "-m", "ppnorm", command' in helper
    assert [s.split("(", 1)[1].split(",")[0] for s in code if s.startswith("run(")] == [
        '"train"', '"experiment"', '"train"', '"export"', '"infer"']


@pytest.mark.slow
@pytest.mark.e2e
def test_both_runs_trained_one_epoch_with_their_norm(executed):
    notebook, out = executed
    for run, norm in [("resnet20_bn", "bn"), ("resnet20_gn", "gn")]:
        config = yaml.safe_load((out / run / "config.yaml").read_text())
        assert (config["Global"]["epochs"], config["Arch"]["norm"]) == (1, norm)
        assert (out / run / "best_model.pdparams").is_file()
    rows = ROW.findall(_texts(_source_cell(notebook, "def summary(run_dir)")))
    assert [name for name, *_ in rows] == ["BatchNorm", "GroupNorm"]
    assert [(int(samples), int(epochs)) for _, _, samples, epochs in rows] == [(360, 1), (360, 1)]
    bn_top1, gn_top1 = (float(top1) for _, top1, *_ in rows)
    assert 0.2 < bn_top1 <= 1.0, f"BN: top1 {bn_top1} after one epoch is no better than chance (0.1)"
    assert 0.0 <= gn_top1 <= 1.0  # GN learns slower here: near chance after one epoch


@pytest.mark.slow
@pytest.mark.e2e
def test_scalars_experiment_chart_export_and_infer(executed):
    notebook, out = executed
    scalars = _texts(_source_cell(notebook, "LogReader"))
    assert "train/loss, train/top1, train/lr, eval/top1" in scalars
    assert re.search(r"eval/top1: \[\(\d+, 0\.\d+\)\]", scalars), scalars
    # digits/resnet20 keeps lr at 0.1: said in one line instead of a flat panel
    assert re.search(r"train/lr: \d+ 个记录都是 0\.1（恒定学习率），不画", scalars), scalars
    chart = [o for o in _source_cell(notebook, "group_sweep.png").outputs if "image/png" in o.get("data", {})]
    assert len(chart) == 1 and (out / "group_sweep" / "claims.csv").is_file()
    export = _texts(_source_cell(notebook, 'run("export"'))
    assert "max abs diff" in export and f"[Export] saved to {out}/inference;" in export
    predictions = re.findall(r"digit_(\d)\.png: (\d) \((0\.\d+)\)", _texts(_source_cell(notebook, 'run("infer"')))
    assert len(predictions) == 1 and 0.1 <= float(predictions[0][2]) <= 1.0, predictions


@pytest.mark.slow
@pytest.mark.e2e
def test_quick_run_prints_no_machine_path_no_paddle_log_and_this_cpu(executed):
    """Apart from the output root the test chose, the tools and the kernel print paths as given and no glog
    lines; the CPU line is this machine's lscpu model name."""
    notebook, out = executed
    text = _all_texts(notebook).replace(str(out), "OUT")
    assert not ABSOLUTE_PATH.findall(text), [line for line in text.splitlines() if ABSOLUTE_PATH.search(line)]
    assert not GLOG_LINE.findall(text), GLOG_LINE.findall(text)
    printed = CPU_LINE.findall(text)
    assert len(printed) == 1, printed
    if _lscpu_model():
        assert printed == [_lscpu_model()]


@pytest.mark.slow
@pytest.mark.e2e
def test_a_failing_tool_stops_the_notebook_at_its_cell_with_its_error_line(foreign_kernel):
    """The notebook's own run() cell, then a train with a config that does not exist, then a cell that must not
    run: execution stops at the second cell with ToolError carrying the tool's error line."""
    env, marker = foreign_kernel
    helper = _source_cell(nbformat.read(NOTEBOOK, as_version=4), "def run(").source
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os\n%cd -q ..\n" + helper),
        nbformat.v4.new_code_cell('run("train", "-c", "no/such_config", "-o", "Global.epochs=1")'),
        nbformat.v4.new_code_cell('print("still running")')])
    with pytest.raises(nbclient.exceptions.CellExecutionError):
        _execute(notebook, env, timeout=120)
    failed = [o for o in notebook.cells[1].outputs if o.output_type == "error"]
    assert [o.ename for o in failed] == ["ToolError"]
    # the exit code and the tool's last line, its one-line error
    assert failed[0].evalue.startswith("ppnorm train 失败，退出码 2：error: config file not found: no/such_config"), \
        failed[0].evalue
    assert "config file not found" in _texts(notebook.cells[1])  # the tool's own output was shown as it ran
    assert notebook.cells[2].outputs == []
    assert not marker.exists()


def test_committed_outputs_are_a_clean_full_run():
    """The committed notebook: every code cell ran (default parameters, not quick mode), no errors, no absolute
    path, no Paddle glog line, no warning, tools called only through run()."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))  # all ran, in order, once
    silent = [c.source[:40] for c in code if not c.outputs]
    assert silent == [_source_cell(notebook, "def run(").source[:40]], silent  # only the helper prints nothing
    assert not [c.source for c in code if re.search(r"^\s*!", c.source, re.M)], "a cell shells out with '!'"
    text = _all_texts(notebook)
    assert "QUICK=False, EPOCHS=5" in text
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not ABSOLUTE_PATH.findall(text), [line for line in text.splitlines() if ABSOLUTE_PATH.search(line)]
    assert not GLOG_LINE.findall(text), GLOG_LINE.findall(text)
    assert "Warning" not in text and "Traceback" not in text
    assert [o.name for c in code for o in c.outputs if o.output_type == "stream"].count("stderr") == 0
    # 5 seeds per group: an interval that says something; the full table is printed
    assert '"params.seeds=5"' in _source_cell(notebook, "EXPERIMENT_OPTIONS =").source
    assert "5 个种子的均值 ± 95% 区间" in _texts(_source_cell(notebook, 'run("experiment"'))
    # the constant lr is one line, not a flat third panel
    scalars = _texts(_source_cell(notebook, "LogReader"))
    assert "（恒定学习率），不画" in scalars and "with 2 Axes>" in scalars, scalars


def test_committed_notebook_names_its_cpu_once_as_printed():
    """The CPU is named by the cell that prints lscpu's model name, the machine the AI Studio page's note about the
    committed run names; no markdown cell types a CPU model (the old intro said AMD EPYC while README_cn said Xeon)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    printed = CPU_LINE.findall(_all_texts(notebook))
    assert len(printed) == 1, printed
    page = (ROOT / "docs" / "zh_CN" / "aistudio.md").read_text(encoding="utf-8")
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert not CPU_NAMES.findall(markdown), CPU_NAMES.findall(markdown)
    notebook_section = page.split("5. Notebook：", 1)[1][:1500]
    assert f"`{printed[0]}`" in notebook_section  # the page's note about the committed run names the same CPU


@pytest.mark.slow
@pytest.mark.e2e
def test_interrupting_run_stops_the_tool(tmp_path):
    """Jupyter's interrupt arrives as KeyboardInterrupt while run() streams a tool's output: the tool is killed,
    not left training in the background, and the interrupt goes on to stop the notebook."""
    import signal
    import types

    started = []

    class Popen(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    def interrupt(*args, **kwargs):  # the first line the tool prints: the user presses "interrupt"
        raise KeyboardInterrupt

    helper = _source_cell(nbformat.read(NOTEBOOK, as_version=4), "def run(").source
    namespace = {"os": os, "print": interrupt}
    exec(compile(helper, "run-cell", "exec"), namespace)
    namespace["subprocess"] = types.SimpleNamespace(Popen=Popen, PIPE=subprocess.PIPE, STDOUT=subprocess.STDOUT)
    with pytest.raises(KeyboardInterrupt):
        namespace["run"]("train", "-c", "digits/resnet20", "-o", "Global.epochs=1",
                         f"Global.output_dir={tmp_path / 'run'}")
    assert len(started) == 1 and started[0].returncode == -signal.SIGKILL
