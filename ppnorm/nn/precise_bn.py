"""PreciseBN (Wu & Johnson 2021; fvcore's ``update_bn_stats``): recompute BatchNorm population statistics.

The running mean/variance a BatchNorm keeps during training is an exponential moving average of
batch statistics computed by *different* weights along the way; with a high learning rate, or early
in training, it does not describe the final model. PreciseBN freezes the weights and averages the
batch statistics of ``num_batches`` batches with equal weight.
"""
from __future__ import annotations

from typing import Any, Iterable

import paddle

from ..compat import kept_training_modes
from .norm_layers import bn_momentum, is_batch_norm, running_stats, set_bn_momentum, set_running_stats


def update_bn_stats(model: paddle.nn.Layer, batches: Iterable[Any], num_batches: int = 200) -> int:
    """Replace every BatchNorm's running mean/variance with the average over ``num_batches`` batches.

    ``batches`` yields input tensors (or tuples whose first item is the input). The weights are not
    changed; layers other than BatchNorm run in train mode too, as in training (dropout included).
    Returns the number of batches used. The variance averaged is Paddle's biased batch variance, the
    quantity Paddle's running variance tracks.
    """
    norms = [layer for layer in model.sublayers() if is_batch_norm(layer)]
    if not norms:
        return 0
    saved_momentum = [bn_momentum(layer) for layer in norms]
    means = [paddle.zeros_like(running_stats(layer)[0]) for layer in norms]
    variances = [paddle.zeros_like(running_stats(layer)[1]) for layer in norms]
    used = 0
    try:
        with kept_training_modes(model, training=True), paddle.no_grad():
            for batch in batches:
                if used >= num_batches:
                    break
                inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
                for layer in norms:  # momentum 0: the running statistics become this batch's statistics
                    set_bn_momentum(layer, 0.0)
                model(inputs)
                used += 1
                for i, layer in enumerate(norms):  # running average with equal weights
                    mean, variance = running_stats(layer)
                    means[i] = means[i] + (mean - means[i]) / used
                    variances[i] = variances[i] + (variance - variances[i]) / used
    finally:
        for layer, momentum in zip(norms, saved_momentum):
            set_bn_momentum(layer, momentum)
    if used:
        for layer, mean, var in zip(norms, means, variances):
            set_running_stats(layer, mean, var)
    return used
