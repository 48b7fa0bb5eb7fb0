"""A ``Hooks`` entry naming an unknown hook is refused with its position and the config file, like the section's
other errors."""
from pathlib import Path

import pytest
import yaml

from ppnorm.engine import ConfigError, load_config

DIGITS = str(Path(__file__).resolve().parents[1] / "configs" / "digits" / "resnet20.yaml")


def test_an_unknown_hook_is_refused_with_its_position_and_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"_base_": DIGITS, "Global": {"output_dir": str(tmp_path / "out")},
                                    "Hooks": [{"name": "TrainLog"}, {"name": "NoSuchHook"}]}))
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: Hooks[1]: unknown hook 'NoSuchHook'") and "\n" not in message
