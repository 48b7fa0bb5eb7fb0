"""Mean curves with 95% seed bands for experiment charts (used by input_scaling, batch_noise and covariate_shift;
the older experiments draw their bands themselves)."""
import numpy as np

from .stats import mean_interval


def plot_band(ax, steps, runs, color, label, band_label, marker="-"):
    """Plot the mean over ``runs`` (one list of values per seed, aligned with ``steps``) and its 95% band."""
    values = np.asarray(runs, dtype="float64")
    mean = values.mean(axis=0)
    half = np.array([mean_interval(values[:, i]).half_width if len(values) > 1 else 0.0
                     for i in range(values.shape[1])])
    ax.plot(steps, mean, marker, color=color, label=label)
    ax.fill_between(steps, mean - half, mean + half, color=color, alpha=0.2, label=band_label)
    return mean
