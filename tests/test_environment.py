"""The machine around a run: a home folder that is missing or read-only, and Paddle's multi-line error reports
reduced to the one line that says what went wrong (issue 24 §5)."""
import os
import subprocess

import pytest
from helpers import tool_command

from ppnorm.errors import first_line

PADDLE_REPORT = ("In user code:\n\n\n    InvalidArgumentError: The number of input's channels should be equal to "
                 "filter's channels * groups for Op(Conv). But received: the input's channels is 3.\n"
                 "      [Hint: Expected input_channels == filter_channels * groups, but received 3 != 1.] "
                 "(at /paddle/paddle/phi/infermeta/binary.cc:642)\n      [operator < onednn_kernel.phi_kernel > error]")


@pytest.mark.parametrize("text, line", [
    (PADDLE_REPORT, "InvalidArgumentError: The number of input's channels should be equal to filter's channels * "
                    "groups for Op(Conv). But received: the input's channels is 3."),
    ("(InvalidArgument) bad dims (at /paddle/paddle/phi/kernels/x.cc:12)\n  [Hint: more]", "(InvalidArgument) bad dims"),
    ("\n  plain message\nsecond line", "plain message"),
    ("In user code:\n", "In user code:"),  # nothing informative: the text as it is, never an empty line
])
def test_first_line_is_the_line_that_says_what_went_wrong(text, line):
    assert first_line(ValueError(text)) == line


def test_an_error_without_text_is_named_by_its_type():
    assert first_line(KeyError()) == "KeyError"


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("home", ["missing", "read-only"])
def test_training_with_an_unusable_home_folder_logs_to_visualdl_and_creates_no_home(tmp_path, home):
    home_dir = tmp_path / "home"
    if home == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root may write into a read-only folder, so this case cannot be made here")
        home_dir.mkdir()
        home_dir.chmod(0o555)
    env = dict(os.environ, HOME=str(home_dir / "user" if home == "missing" else home_dir))
    env.pop("PYTHONPATH", None)
    result = subprocess.run(tool_command("train", "-c", "digits/resnet20", "-o", "Global.epochs=1",
                                         "DataLoader.Train.batch_size=256", f"Global.output_dir={tmp_path / 'run'}"),
                            capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-1500:]
    assert list((tmp_path / "run" / "vdl").glob("vdlrecords.*.log"))
    if home == "missing":
        assert not home_dir.exists()
    else:
        assert ".visualdl" not in os.listdir(home_dir)
