"""Experiments: each module answers one question of the normalization notes with reproducible numbers.

``python tools/experiment.py --list`` shows them; ``-c configs/experiments/<name>.yaml`` runs one.
``EXPERIMENTS`` maps each name to its module ``ppnorm.experiments.<name>``, imported when first
looked up; adding an experiment is its module plus its name in the list below. A module either declares
``EXPERIMENT = framework.Experiment(...)`` (docs/experiment_framework.md) or writes ``run(ctx)`` on the Context.
"""
from ..registry import Registry

EXPERIMENTS = Registry("experiment", ordered=True)
for _name in ("batchnorm_basics", "norm_axes", "dropout_modes", "batch_size_sweep", "group_sweep",
              "activation_with_bn", "init_stats", "precise_bn", "residual_vs_plain", "imbalanced_bn",
              "dropout_with_bn", "pooling_shift", "gradient_flow", "norm_position", "norm_cost",
              "init_sensitivity", "activation_pitfalls", "input_scaling", "batch_noise", "covariate_shift",
              "style_norm", "sequence_norm"):
    EXPERIMENTS.register_lazy(_name, f"{__name__}.{_name}")

NAMES = EXPERIMENTS.keys()  # a live view of the registered names, in registration order


def experiments():
    """``{name: module}``: the registry itself, a read-only mapping that imports a module when it is looked up."""
    return EXPERIMENTS
