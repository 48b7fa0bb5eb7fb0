"""Experiments: each module answers one question of the normalization notes with reproducible numbers.

``python tools/experiment.py --list`` shows them; ``-c configs/experiments/<name>.yaml`` runs one.
"""
import importlib
from collections.abc import Mapping

NAMES = ("batchnorm_basics", "norm_axes", "dropout_modes", "batch_size_sweep", "group_sweep", "activation_with_bn",
         "init_stats", "precise_bn", "residual_vs_plain", "imbalanced_bn", "dropout_with_bn")


class _Experiments(Mapping):
    """``{name: module}``; a module is imported when it is first looked up."""

    def __getitem__(self, name):
        if name not in NAMES:
            raise KeyError(name)
        return importlib.import_module(f"{__name__}.{name}")

    def __iter__(self):
        return iter(NAMES)

    def __len__(self):
        return len(NAMES)


def experiments():
    return _Experiments()
