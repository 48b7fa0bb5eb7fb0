"""tools/experiment.py --verdicts DIR takes one experiment's folder (claims.csv directly in DIR) or a claims.csv file
as well as a folder of experiment folders; --against too."""
import pytest
from helpers import run_tool


def _experiment(*args):
    result = run_tool("experiment", *args)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    code, _, err = _experiment("-c", "configs/experiments/pooling_shift.yaml", "-o", "quick=true", "use_visualdl=false",
                               "--output_dir", root / "pooling_shift")
    assert code == 0, err
    return root


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("where", ["folder of experiments", "experiment folder", "claims.csv"])
def test_verdicts_of_one_experiment_folder_or_file(runs, where):
    target = {"folder of experiments": runs, "experiment folder": runs / "pooling_shift",
              "claims.csv": runs / "pooling_shift" / "claims.csv"}[where]
    before = (runs / "pooling_shift" / "claims.csv").read_bytes()
    code, out, err = _experiment("--verdicts", target)
    assert code == 0 and err == "", err
    assert "`pooling_shift`" in out and out.startswith("| claim | verdict |")
    assert ("not run yet" in out) == (where == "folder of experiments")
    code, out, err = _experiment("--verdicts", target, "--against", runs / "pooling_shift")
    assert code == 0 and err == "" and "differ (listed first)" in out
    assert (runs / "pooling_shift" / "claims.csv").read_bytes() == before


@pytest.mark.slow
@pytest.mark.e2e
def test_a_folder_without_claims_is_still_one_line(tmp_path):
    code, _, err = _experiment("--verdicts", tmp_path)
    assert code == 2 and err.splitlines() == [err.strip()] and str(tmp_path) in err and "claims.csv" in err
