"""imbalanced_bn's science: the 99:1 training set, the cell's balanced accuracy and recall against numpy, its claims.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""
import numpy as np
import pytest

from ppnorm.engine.config import ConfigError
from ppnorm.experiments import imbalanced_bn
from ppnorm.experiments.imbalanced_bn import _imbalanced
from ppnorm.experiments.training import digits

from experiment_runs import capture_models, quick_context, run_quick


def test_training_set_is_99_to_1_and_seeded():
    images, labels = digits("train")
    _, first = _imbalanced(images, labels, 0, 99, seed=0)
    _, again = _imbalanced(images, labels, 0, 99, seed=0)
    _, other = _imbalanced(images, labels, 0, 99, seed=1)
    counts = np.bincount(first.numpy(), minlength=2)
    assert counts[0] == int((labels.numpy() != 0).sum())  # every other digit is a negative
    assert counts[0] / counts[1] == pytest.approx(99, rel=0.05)
    assert np.array_equal(first.numpy(), again.numpy())
    kept, kept_other = (_imbalanced(images, labels, 0, 99, seed=s)[0].numpy()[-counts[1]:] for s in (0, 1))
    assert not np.array_equal(kept, kept_other)  # each seed draws its own positives


def test_bn_is_compared_with_every_other_norm_paired_by_seed():
    claims = imbalanced_bn._claims(dict(imbalanced_bn.DEFAULTS, norms=["bn", "gn", "none"]))
    assert list(claims) == ["bn_hurts_vs_gn", "bn_hurts_vs_none"] and list(imbalanced_bn._claims(imbalanced_bn.DEFAULTS)) == [
        "bn_hurts_vs_none"]  # GN, a baseline that never trained here, is not in the defaults
    gn = claims["bn_hurts_vs_gn"]
    assert (gn.metric, gn.a, gn.b, gn.side, gn.margin, gn.paired) == ("balanced_accuracy", {"norm": "bn"},
                                                                      {"norm": "gn"}, "less", 0.0, True)
    assert imbalanced_bn._claims(dict(imbalanced_bn.DEFAULTS, norms=["gn", "none"])) == {}  # no BN: no claim


def test_a_positive_class_without_images_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match=r"params.positive_digit: class 12 has no training images in digits"):
        run_quick("imbalanced_bn", tmp_path, "params.positive_digit=12")


@pytest.mark.slow
def test_the_cell_is_balanced_accuracy_and_rare_recall_of_the_trained_net(tmp_path, monkeypatch):
    built = capture_models(monkeypatch, imbalanced_bn)
    ctx = quick_context(imbalanced_bn, tmp_path, quick=False, epochs=2, positive_digit=3, ratio=9)
    ctx.seed_everything(0)
    metrics = imbalanced_bn.cell(ctx, {"norm": "bn"}, 0)
    (model,) = built
    model.eval()
    images, labels = digits("test")
    predicted, truth = model(images).numpy().argmax(axis=1), labels.numpy() == 3
    recall = (predicted[truth] == 1).mean()
    assert metrics["rare_recall"] == pytest.approx(recall, abs=1e-12)
    assert metrics["balanced_accuracy"] == pytest.approx(((predicted[~truth] == 0).mean() + recall) / 2, abs=1e-12)
    assert metrics["balanced_curve"][-1] == metrics["balanced_accuracy"] and len(metrics["balanced_curve"]) >= 1


@pytest.mark.slow
def test_chinese_report(tmp_path):
    ctx = run_quick("imbalanced_bn", tmp_path, "lang=zh", "params.norms=[bn, gn]", "claims={}")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**问题：**" in report and "| 归一化 | balanced accuracy | 少数类召回率 |" in report
    assert ctx.claims[0]["claim"].startswith("BN 在极不平衡") and ctx.claims[0]["side"] == "less"
