"""Evaluation over a whole data set: loss and top-k accuracy, gathered over ranks without padding."""
import numpy as np
import paddle
import paddle.nn.functional as F

from .distributed import all_gather_numpy
from .metrics import topk_correct


@paddle.no_grad()
def evaluate(model, loader, topk=(1, 5), world_size=1):
    """Return ``{"loss", "top1", "top5", ..., "samples"}``; loss is plain cross entropy (no smoothing)."""
    was_training = model.training
    model.eval()
    ks = [k for k in topk]
    indices, losses, hits = [], [], {k: [] for k in ks}
    for images, labels, index in loader:
        logits = model(images).astype("float32")
        losses.append(F.cross_entropy(logits, labels, reduction="none").numpy().reshape(-1))
        correct = topk_correct(logits.numpy(), labels.numpy(), ks)
        for k in ks:
            hits[k].append(correct[k])
        indices.append(index.numpy())
    if was_training:
        model.train()
    columns = [np.concatenate(indices).astype("float64"), np.concatenate(losses).astype("float64")]
    columns += [np.concatenate(hits[k]) for k in ks]
    table = all_gather_numpy(np.stack(columns, axis=1), world_size)
    _, first = np.unique(table[:, 0], return_index=True)  # drop the samples padded onto some ranks
    table = table[first]
    result = {"loss": float(table[:, 1].mean())}
    for i, k in enumerate(ks):
        result[f"top{k}"] = float(table[:, 2 + i].mean())
    result["samples"] = int(len(table))
    return result
