"""What a user sees: a quiet console (the resolved config goes to config.yaml and train.log), no known
harmless warning, and everything with -v."""
import warnings

import pytest
from helpers import run_tool

from ppnorm.quiet import KNOWN_HARMLESS, quiet_known_warnings, show_all_warnings

FAST = ["-c", "configs/digits/resnet20.yaml", "-o", "Global.epochs=1", "Arch.name=resnet20",
        "DataLoader.Train.batch_size=360", "Global.use_visualdl=false"]


def _train(tmp_path, *extra):  # 2 threads: the notice Paddle prints then must not reach the console
    return run_tool("train", *FAST, "--output_dir", tmp_path, *extra, threads=2)


@pytest.mark.slow
@pytest.mark.e2e
def test_console_is_quiet_and_the_config_goes_to_the_log_file(tmp_path):
    run = _train(tmp_path / "run")
    assert run.returncode == 0, run.stderr
    out = run.stdout.splitlines()
    config_lines = [line for line in out if line.startswith("[Config]")]
    assert config_lines == [f"[Config] resolved config in {tmp_path / 'run' / 'config.yaml'}, full log in "
                            f"{tmp_path / 'run' / 'train.log'} (-v prints the config here)"]
    assert out.index(config_lines[0]) < min(i for i, line in enumerate(out) if line.startswith("[Train]"))
    assert not any(line.startswith(("Global:", "Arch:", "  epochs:")) for line in out)
    assert "ccache" not in run.stderr and "always track" not in run.stderr and "WISELY" not in run.stderr
    log = (tmp_path / "run" / "train.log").read_text().splitlines()
    assert "Global:" in log and "  epochs: 1" in log  # the dump, then every console line
    assert [line for line in log if line.startswith(("[Train]", "[Eval]", "[Done]"))] == \
        [line for line in out if line.startswith(("[Train]", "[Eval]", "[Done]"))]


@pytest.mark.slow
@pytest.mark.e2e
def test_a_run_refused_before_training_names_no_config_file(tmp_path):
    run = _train(tmp_path / "run", "-o", "Arch.name=simple_cnn", "Arch.downsample=min")
    assert run.returncode == 2 and run.stderr.strip().splitlines() == [
        "error: Arch: downsample must be one of max, avg, conv, got 'min'"]
    assert "[Config]" not in run.stdout and not (tmp_path / "run").exists()  # refused: no folder made


@pytest.mark.slow
@pytest.mark.e2e
def test_verbose_prints_the_config_too(tmp_path):
    run = _train(tmp_path / "run", "-v")
    assert run.returncode == 0, run.stderr
    assert "Global:" in run.stdout.splitlines() and "  epochs: 1" in run.stdout.splitlines()


def test_known_warnings_are_filtered_and_verbose_shows_them_again():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_known_warnings()
        for message, category in KNOWN_HARMLESS:
            warnings.warn(message + " (test)", category)
        warnings.warn("an unknown warning", UserWarning)
        assert [str(w.message) for w in seen] == ["an unknown warning"]
        show_all_warnings()
        warnings.warn(KNOWN_HARMLESS[0][0], KNOWN_HARMLESS[0][1])
        assert len(seen) == 2
