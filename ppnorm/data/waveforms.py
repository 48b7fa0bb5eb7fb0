"""Generated variable-length sequences: classify the shape of a noisy periodic waveform.

Four classes (sine, square, triangle, sawtooth), random period, phase, amplitude and offset, Gaussian
noise; lengths drawn uniformly from ``[min_len, max_len]``. Fully determined by ``seed``.
"""
import numpy as np

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


def waveforms(count, min_len, max_len, seed, noise=0.3):
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


def pad_batch(sequences, length=None):
    """``(x [N, 1, L], mask [N, L])`` numpy arrays, zero-padded at the end to ``length`` (default: the longest)."""
    length = length or max(len(s) for s in sequences)
    x = np.zeros((len(sequences), 1, length), dtype="float32")
    mask = np.zeros((len(sequences), length), dtype="float32")
    for i, s in enumerate(sequences):
        x[i, 0, :len(s)], mask[i, :len(s)] = s, 1.0
    return x, mask
