"""notebooks/ppnorm_quickstart_cn.ipynb runs top to bottom in quick mode, every step producing what it claims."""
import os
import re
import resource
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


def _texts(cell):
    """Everything a code cell printed or displayed as text (stream, result and markdown outputs)."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get("text/markdown", ""), data.get("text/plain", "")]
    return "\n".join(parts)


def _source_cell(notebook, needle):
    """The one code cell whose source contains ``needle``."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and needle in c.source]
    assert len(cells) == 1, f"expected one code cell containing {needle!r}, found {len(cells)}"
    return cells[0]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook executed by nbclient in quick mode, its output root, and the CPU seconds it took."""
    out = tmp_path_factory.mktemp("notebook") / "out"
    env = {"PPNORM_NOTEBOOK_QUICK": "1", "PPNORM_NOTEBOOK_OUTPUT": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the kernel and the tools it starts inherit these
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cpu_before, wall_before = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    try:
        nbclient.NotebookClient(notebook, timeout=400, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    print(f"[notebook] quick mode: {cpu:.1f} s CPU (kernel and tools), {time.time() - wall_before:.1f} s wall")
    return notebook, out


@pytest.mark.slow
def test_no_cell_failed_or_printed_an_error(executed):
    notebook, _ = executed
    for index, cell in enumerate(notebook.cells):
        outputs = cell.get("outputs", [])
        assert not [o for o in outputs if o.output_type == "error"], f"cell {index} raised"
        text = _texts(cell)
        assert "Traceback" not in text and "error:" not in text.lower(), f"cell {index} printed an error:\n{text}"


def test_both_runs_trained_one_epoch_with_their_norm(executed):
    notebook, out = executed
    for run, norm in [("resnet20_bn", "bn"), ("resnet20_gn", "gn")]:
        config = yaml.safe_load((out / run / "config.yaml").read_text())
        assert (config["Global"]["epochs"], config["Arch"]["norm"]) == (1, norm)
        assert (out / run / "best_model.pdparams").is_file()
    rows = ROW.findall(_texts(_source_cell(notebook, "def summary(run)")))
    assert [name for name, *_ in rows] == ["BatchNorm", "GroupNorm"]
    assert [(int(samples), int(epochs)) for _, _, samples, epochs in rows] == [(360, 1), (360, 1)]
    bn_top1, gn_top1 = (float(top1) for _, top1, *_ in rows)
    assert 0.2 < bn_top1 <= 1.0, f"BN: top1 {bn_top1} after one epoch is no better than chance (0.1)"
    assert 0.0 <= gn_top1 <= 1.0  # GN learns slower here: near chance after one epoch


def test_scalars_experiment_chart_export_and_infer(executed):
    notebook, out = executed
    scalars = _texts(_source_cell(notebook, "LogReader"))
    assert "train/loss, train/top1, train/lr, eval/top1" in scalars
    assert re.search(r"eval/top1: \[\(\d+, 0\.\d+\)\]", scalars), scalars
    chart = [o for o in _source_cell(notebook, "group_sweep.png").outputs if "image/png" in o.get("data", {})]
    assert len(chart) == 1 and (out / "group_sweep" / "claims.csv").is_file()
    assert "max abs diff" in _texts(_source_cell(notebook, "tools/export.py"))
    predictions = re.findall(r"digit_(\d)\.png: (\d) \((0\.\d+)\)", _texts(_source_cell(notebook, "tools/infer.py")))
    assert len(predictions) == 1 and 0.1 <= float(predictions[0][2]) <= 1.0, predictions
