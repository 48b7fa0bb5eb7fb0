"""Generated variable-length sequences: classify the shape of a noisy periodic waveform.

Four classes (sine, square, triangle, sawtooth), random period, phase, amplitude and offset, Gaussian
noise; lengths drawn uniformly from ``[min_len, max_len]``. Fully determined by ``seed``.

:class:`Waveforms` (data set ``waveforms``) is the same task for the training tools: each sample packs the
padded sequence and its padding mask as two channels, so the engine's ``(images, labels)`` batches carry
both and an exported model has one input.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..errors import check_count
from .base import DATASETS, ArrayDataset, check_split

SHAPES = ("sine", "square", "triangle", "sawtooth")


def _wave(shape, phase):
    """One period-1 waveform of ``shape`` at ``phase`` (in cycles), values in [-1, 1]."""
    frac = phase % 1.0
    if shape == 0:
        return np.sin(2 * np.pi * phase)
    if shape == 1:
        return np.where(frac < 0.5, 1.0, -1.0)
    if shape == 2:
        return 4 * np.abs(frac - 0.5) - 1
    return 2 * frac - 1


def waveforms(count: int, min_len: int, max_len: int, seed: int,
              noise: float = 0.3) -> Tuple[List[np.ndarray], np.ndarray]:
    """``(sequences, labels)``: a list of ``count`` float32 arrays ``[length]`` and an int64 array of labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPES), count)
    sequences = []
    for label in labels:
        length = int(rng.integers(min_len, max_len + 1))
        period = rng.uniform(6.0, 14.0)
        t = np.arange(length) / period + rng.uniform(0, 1)
        wave = rng.uniform(0.5, 2.0) * _wave(label, t) + rng.uniform(-1, 1) + noise * rng.normal(size=length)
        sequences.append(wave.astype("float32"))
    return sequences, labels.astype("int64")


def pad_batch(sequences: Sequence[np.ndarray], length: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(x [N, 1, L], mask [N, L])`` numpy arrays, zero-padded at the end to ``length`` (default: the longest)."""
    length = length or max(len(s) for s in sequences)
    x = np.zeros((len(sequences), 1, length), dtype="float32")
    mask = np.zeros((len(sequences), length), dtype="float32")
    for i, s in enumerate(sequences):
        x[i, 0, :len(s)], mask[i, :len(s)] = s, 1.0
    return x, mask


def _check_lengths(min_len, max_len, pad_to):
    check_count("waveforms: min_len", min_len, 1)
    check_count("waveforms: max_len", max_len, min_len, " (and >= min_len)")
    check_count("waveforms: pad_to", pad_to, max_len, " (and >= max_len; null pads to max_len)")


class Waveforms(ArrayDataset):
    """``num_samples`` waveforms as samples ``[2, pad_to]``: channel 0 the sequence zero-padded at the end,
    channel 1 its padding mask (1 = a real time step). ``seq_conv1d`` with ``mask_channel: true`` reads them.

    Train and test splits of one ``seed`` are different draws; ``pad_to`` defaults to ``max_len``.
    """

    input_kind = "sequence+mask"

    def __init__(self, num_samples: int = 2000, min_len: int = 20, max_len: int = 40, pad_to: Optional[int] = None,
                 noise: float = 0.3, seed: int = 0, split: str = "train") -> None:
        check_split("waveforms", split)
        check_count("waveforms: num_samples", num_samples, 1)
        pad_to = max_len if pad_to is None else pad_to
        _check_lengths(min_len, max_len, pad_to)
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < float("inf"):
            raise ValueError(f"waveforms: noise must be a finite number >= 0, got {noise!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"waveforms: seed must be an integer >= 0, got {seed!r}")
        sequences, labels = waveforms(num_samples, min_len, max_len, [seed, 0 if split == "train" else 1], noise)
        x, mask = pad_batch(sequences, pad_to)
        super().__init__(np.concatenate([x, mask[:, None]], axis=1), labels, list(SHAPES), "waveforms")


DATASETS.register("waveforms", Waveforms)
