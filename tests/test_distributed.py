"""Two data-parallel processes on CPU (gloo), launched the way users launch GPUs."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_two_cpu_processes_train_one_model(tmp_path):
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
               str(tmp_path / "log"), os.path.join(ROOT, "tests", "dist_worker.py"), str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for kind in ("", "_ema"):  # the EMA's BN statistics come from each rank's batches: averaged like the model's
        ranks = [paddle.load(str(tmp_path / f"rank{r}{kind}.pdparams")) for r in (0, 1)]
        for key in ranks[0]:  # trainable weights by DataParallel, BN statistics averaged by the engine
            np.testing.assert_allclose(ranks[0][key].numpy(), ranks[1][key].numpy(), rtol=1e-6, atol=1e-7,
                                       err_msg=key + kind)
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert results[0] == results[1] and results[0]["samples"] == 361  # the padded duplicate is dropped
    rank1_log = (tmp_path / "log" / "workerlog.1").read_text()
    assert "[Train]" not in rank1_log and "[Done]" in (tmp_path / "log" / "workerlog.0").read_text()
    assert sorted(os.listdir(tmp_path / "run")) == [".ppnorm.lock", "best_model.pdopt", "best_model.pdparams",
                                                    "best_model.pdstates", "best_model.pdtrain", "config.yaml",
                                                    "latest.pdopt", "latest.pdparams", "latest.pdstates",
                                                    "latest.pdtrain", "train.log"]  # rank 0's log only
