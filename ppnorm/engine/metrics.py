"""Top-k accuracy and running averages."""
import numpy as np


def topk_correct(logits, labels, ks):
    """Per-sample 0/1 arrays: is the label among the top-k logits, for each k in ``ks``."""
    logits, labels = np.asarray(logits), np.asarray(labels).reshape(-1)
    order = np.argsort(-logits, axis=1, kind="stable")[:, :max(ks)]
    hits = order == labels[:, None]
    return {k: hits[:, :k].any(axis=1).astype("float64") for k in ks}


class AverageMeter:
    """Sample-weighted mean of a value over a window (reset by the caller)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, value, n=1):
        self.total += float(value) * n
        self.count += n

    @property
    def avg(self):
        return self.total / self.count if self.count else 0.0
