"""The main job's schedule (configs/digits/resnet20.yaml): at most half of the old 1320 steps, warm-up then cosine."""
import math

import pytest

from ppnorm.data import build_dataloader
from ppnorm.engine import load_config
from ppnorm.engine.optim import build_lr_scheduler

DIGITS = "configs/digits/resnet20.yaml"
OLD_STEPS = 30 * 44  # the 30-epoch schedule before issue 12: 1437 training digits // batch 32 = 44 steps per epoch


def _plan():
    config = load_config(DIGITS)
    _, sampler, _ = build_dataloader(config["DataLoader"]["Train"], config["Global"]["seed"])
    return config, sampler.batches_per_epoch()


def test_main_job_trains_in_at_most_half_of_the_old_steps():
    config, per_epoch = _plan()
    assert per_epoch == 44  # drop_last: 1437 // 32
    assert config["Global"]["epochs"] * per_epoch == 660 <= OLD_STEPS // 2
    assert config["Arch"]["name"] == "resnet20" and config["Arch"]["norm"] == "bn"  # the model is not the lever


def test_main_job_lr_warms_up_for_one_epoch_then_decays_to_zero():
    config, per_epoch = _plan()
    lr = config["Optimizer"]["lr"]
    scheduler = build_lr_scheduler(lr, config["Global"]["epochs"], per_epoch)
    seen = []
    for _ in range(config["Global"]["epochs"] * per_epoch):
        seen.append(scheduler.get_lr())
        scheduler.step()
    assert seen[0] == 0.0 and seen[22] == pytest.approx(0.05)  # linear warm-up from 0 over 44 steps
    assert seen[44] == pytest.approx(0.1) == max(seen)  # peak right after warm-up
    assert seen[44 + 308] == pytest.approx(0.05, abs=1e-9)  # cosine half-way through the remaining 616 steps
    assert seen[-1] == pytest.approx(0.05 * (1 + math.cos(math.pi * 615 / 616)), abs=1e-9)  # last step: ~6.5e-7
