"""Metrics: top-k, sample-weighted averages and evaluate() against an independent numpy computation."""
import numpy as np
import paddle
import pytest

from ppnorm.engine.evaluator import evaluate
from ppnorm.engine.metrics import AverageMeter, topk_correct

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)


def _numpy_topk(logits, labels, k):
    return np.array([label in np.argsort(-row)[:k] for row, label in zip(logits, labels)], dtype="float64")


def test_topk_correct_matches_a_sort_per_row():
    rng = np.random.default_rng(3)
    logits, labels = rng.standard_normal((50, 7)), rng.integers(0, 7, 50)
    hits = topk_correct(logits, labels, [1, 3, 7])
    for k in (1, 3, 7):
        np.testing.assert_array_equal(hits[k], _numpy_topk(logits, labels, k))
    assert hits[7].all() and 0 < hits[1].sum() < 50


def test_topk_correct_breaks_ties_by_the_lower_class_index_and_takes_column_labels():
    rng = np.random.default_rng(4)
    logits = rng.integers(0, 2, (30, 40)).astype("float32")  # many ties: 40 classes, logits 0 or 1
    labels = rng.integers(0, 40, (30, 1))  # paddle-style [N, 1] labels
    hits = topk_correct(logits, labels, range(1, 41))  # every k: an unstable sort changes several of them
    for k in range(1, 41):
        rank = [(row > row[y]).sum() + (row[:y] == row[y]).sum() for row, y in zip(logits, labels[:, 0])]
        np.testing.assert_array_equal(hits[k], (np.array(rank) < k).astype("float64"))
    assert hits[1].shape == (30,) and 0 < hits[5].sum() < 30 and hits[40].all()


def test_average_meter_weights_by_samples():
    meter = AverageMeter()
    meter.update(1.0, 32)
    meter.update(0.0, 8)  # a smaller last batch counts for its 8 samples, not as a whole batch
    assert meter.avg == pytest.approx(0.8) and meter.count == 40
    meter.update(0.5)  # one sample by default
    assert meter.count == 41 and meter.total == pytest.approx(32.5)
    meter.reset()
    assert meter.avg == 0.0 and meter.count == 0


def test_evaluate_equals_numpy_on_a_multi_batch_set_with_a_short_last_batch():
    paddle.seed(1)
    model = paddle.nn.Sequential(paddle.nn.Linear(5, 16), paddle.nn.BatchNorm1D(16), paddle.nn.ReLU(),
                                 paddle.nn.Linear(16, 6))
    rng = np.random.default_rng(0)
    images = rng.standard_normal((23, 5)).astype("float32")
    labels = rng.integers(0, 6, 23)
    batches = [(paddle.to_tensor(images[i:i + 8]), paddle.to_tensor(labels[i:i + 8]), paddle.arange(i, min(i + 8, 23)))
               for i in range(0, 23, 8)]  # 8 + 8 + 7
    model.train()
    result = evaluate(model, batches, topk=(1, 3))
    assert model.training  # restored
    model.eval()
    logits = model(paddle.to_tensor(images)).numpy().astype("float64")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert result["samples"] == 23
    assert result["loss"] == pytest.approx(-log_softmax[np.arange(23), labels].mean(), rel=1e-5)
    assert result["top1"] == pytest.approx(_numpy_topk(logits, labels, 1).mean())
    assert result["top3"] == pytest.approx(_numpy_topk(logits, labels, 3).mean())
