"""batch_size_sweep's science: ghost batches are BN over groups (numpy), the batch-statistics evaluation, GN's
independence of the batch, the grid and the claims it declares. (The framework's seeding, runs, aggregation and
verdicts: tests/test_experiment_framework.py.)"""
import numpy as np
import paddle
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import batch_size_sweep as bss
from ppnorm.nn.ghost_bn import GhostBatchNorm, ghost_batches
from ppnorm.experiments import experiments
from ppnorm.experiments.config import load_experiment_config
from ppnorm.experiments.training import digits
from ppnorm.models import build_model

from experiment_runs import capture_models, quick_context, read_runs, run_quick


def _context(tmp_path, **params):
    return quick_context(bss, tmp_path, **params)


def test_ghost_batch_norm_normalizes_each_group_and_updates_running_stats_per_group():
    paddle.seed(0)
    x = paddle.randn([8, 3, 2, 2]) * 2 + 1
    ghost = GhostBatchNorm(paddle.nn.BatchNorm2D(3), 2)
    out = ghost(x).numpy()
    data, running = x.numpy(), np.zeros(3)
    for part in range(4):
        group = data[2 * part:2 * part + 2]
        mean, var = group.mean(axis=(0, 2, 3)), group.var(axis=(0, 2, 3))
        expected = (group - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
        np.testing.assert_allclose(out[2 * part:2 * part + 2], expected, atol=1e-5)
        running = 0.9 * running + 0.1 * mean  # Paddle's momentum convention, once per group
    np.testing.assert_allclose(ghost.bn._mean.numpy(), running, atol=1e-6)
    model = build_model("resnet20", in_channels=1, num_classes=10)
    assert ghost_batches(model, 2) == 21  # stem + 9 blocks x 2 + 2 downsample shortcuts


def test_batch_statistics_error_is_each_batch_in_train_mode_and_leaves_the_state_alone():
    paddle.seed(0)
    model = build_model("resnet20", in_channels=1, num_classes=10)
    images, labels = paddle.randn([48, 1, 8, 8]), paddle.randint(0, 10, [48])
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    error = bss.error_pct(model, images, labels, batch_statistics=True, size=32)
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())
    model.train()
    with paddle.no_grad():  # 48 images: a batch of 0..31, then 32..47 filled up with 0..15
        first, second = model(images[:32]).numpy(), model(paddle.concat([images[32:], images[:16]])).numpy()
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in before.items()})
    predicted = np.concatenate([first, second[:16]]).argmax(axis=1)
    assert error == pytest.approx(100 * (predicted != labels.numpy()).mean())
    model.eval()
    running = 100 * (model(images).numpy().argmax(axis=1) != labels.numpy()).mean()
    assert bss.error_pct(model, images, labels) == pytest.approx(running)


def test_gn_logits_do_not_depend_on_the_batch(tmp_path):
    assert bss.gn_is_batch_independent(_context(tmp_path), 8) < 1e-5


def test_bn_runs_at_every_batch_size_and_gn_once_per_seed():
    assert bss._grid({"norms": ["bn", "gn"], "batch_sizes": [32, 8, 2]}) == [
        {"norm": "bn", "batch": 32}, {"norm": "bn", "batch": 8}, {"norm": "bn", "batch": 2}, {"norm": "gn", "batch": 32}]
    with pytest.raises(ConfigError, match="unknown norm kind 'xx'"):
        bss._validate({"norms": ["bn", "xx"]})


def test_the_claims_compare_bn_across_batches_and_with_gn_at_each_batch_up_to_4():
    claims = bss._claims({"norms": ["bn", "gn"], "batch_sizes": [32, 16, 4, 2]})
    assert list(claims) == ["bn_grows_as_batch_shrinks", "bn_worse_than_gn_at_batch_4",
                            "bn_worse_than_gn_at_smallest_batch"]
    grows, small = claims["bn_grows_as_batch_shrinks"], claims["bn_worse_than_gn_at_smallest_batch"]
    assert (grows.metric, grows.a, grows.b, grows.side) == ("error_pct", {"norm": "bn", "batch": 2},
                                                            {"norm": "bn", "batch": 32}, "greater")
    assert (small.a, small.b, small.paired) == ({"norm": "bn", "batch": 2}, {"norm": "gn"}, True)
    assert list(bss._claims({"norms": ["bn"], "batch_sizes": [32, 8]})) == ["bn_grows_as_batch_shrinks"]
    _, settings, params = load_experiment_config("configs/experiments/batch_size_sweep_full.yaml", [], experiments())
    assert set(settings["claims"]) == set(bss._claims(params)) and params["batch_sizes"] == [32, 16, 8, 4, 2]


@pytest.mark.slow
def test_the_cell_measures_the_trained_model(tmp_path, monkeypatch):
    """Running-statistics error is the eval model's numpy error; GN's batch-statistics error is the same."""
    built = capture_models(monkeypatch, bss)
    ctx = _context(tmp_path, train_samples=64)
    ctx.seed_everything(0)
    m = {norm: bss.cell(ctx, {"norm": norm, "batch": 4}, 0) for norm in ("bn", "gn")}
    images, labels = digits("test")
    for (norm, metrics), model in zip(m.items(), built):
        model.eval()
        expected = 100 * (model(images).numpy().argmax(axis=1) != labels.numpy()).mean()
        assert metrics["error_pct"] == pytest.approx(expected) and len(metrics["test_top1"]) == 1
    assert m["gn"]["batch_stats_error_pct"] == m["gn"]["error_pct"]
    assert isinstance(built[0].bn1, GhostBatchNorm) and built[0].bn1.size == 4


@pytest.mark.slow
def test_quick_preset_runs_and_reports_in_chinese(tmp_path):
    ctx = run_quick("batch_size_sweep", tmp_path, "lang=zh")
    runs = read_runs(tmp_path)
    first = ctx.seed  # the config's confirmatory block (2000 since GN's lr was tuned on a validation split)
    assert first == 2000 and [(r["norm"], r["batch"], int(r["seed"]) - first) for r in runs] == [
        ("bn", "32", 0), ("bn", "32", 1), ("bn", "4", 0), ("bn", "4", 1), ("gn", "32", 0), ("gn", "32", 1)]
    gn = ctx.tables["errors"]["rows"][-1]
    assert gn["gap mean"] == 0.0 and gn["paper %"] == 24.1
    assert [c["verdict"] for c in ctx.claims if c["kind"] == "check"] == ["passed"]
    assert [c["claim"] for c in ctx.claims if c["kind"] != "check"] == ["BN 的错误率随 batch 变小而上升：batch 4 时高于 batch 32",
                                                                    "BN 在 batch 4 时有害：错误率高于 GN"]
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 归一化 | batch 大小 | 错误率 % | batch 统计量错误率 % |" in report
