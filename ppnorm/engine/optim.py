"""Optimizer and per-step learning-rate schedule from the ``Optimizer`` config section."""
from typing import NamedTuple

import paddle

from ..nn.norm import is_norm
from ..registry import Registry

OPTIMIZERS = Registry("optimizer", ordered=True)  # name -> fn(opt_config, **common Paddle arguments)
SCHEDULES = Registry("learning-rate schedule", ordered=True)  # name -> fn(lr_config, plan): LRScheduler or float


class Plan(NamedTuple):
    """What a schedule builder needs besides its config: base lr and the run's length in steps."""
    base: float
    total: int
    warmup: int
    steps_per_epoch: int


def build_lr_scheduler(lr_config, epochs, steps_per_epoch):
    """A scheduler stepped once per iteration (so warm-up and decay are smooth within an epoch)."""
    builder = SCHEDULES.get_target(lr_config["name"])
    base = lr_config["learning_rate"]
    total = epochs * steps_per_epoch
    warmup = int(round(lr_config["warmup_epochs"] * steps_per_epoch))
    if warmup > total or (warmup == total and lr_config["name"] != "Constant"):  # Constant: a ramp over the run
        raise ValueError(f"Optimizer.lr.warmup_epochs={lr_config['warmup_epochs']} covers the whole run "
                         f"({epochs} epochs); make it smaller than Global.epochs")
    scheduler = builder(lr_config, Plan(base, total, warmup, steps_per_epoch))
    lr = paddle.optimizer.lr
    if warmup:
        return lr.LinearWarmup(scheduler, warmup_steps=warmup, start_lr=lr_config["warmup_start_lr"], end_lr=base)
    return scheduler if isinstance(scheduler, lr.LRScheduler) else lr.LambdaDecay(base, lambda step: 1.0)


@SCHEDULES.register("Constant")
def _constant(lr_config, plan):
    return plan.base


@SCHEDULES.register("Piecewise")
def _piecewise(lr_config, plan):
    epochs_at = lr_config["decay_epochs"]
    if sorted(epochs_at) != list(epochs_at) or not epochs_at:
        raise ValueError(f"Optimizer.lr.decay_epochs must be a non-empty increasing list for Piecewise, "
                         f"got {epochs_at}")
    values = [plan.base * lr_config["gamma"] ** i for i in range(len(epochs_at) + 1)]
    return paddle.optimizer.lr.PiecewiseDecay([int(e * plan.steps_per_epoch) - plan.warmup for e in epochs_at],
                                              values)


@SCHEDULES.register("Cosine")
def _cosine(lr_config, plan):
    return paddle.optimizer.lr.CosineAnnealingDecay(plan.base, T_max=plan.total - plan.warmup,
                                                    eta_min=lr_config["eta_min"])


@SCHEDULES.register("OneCycle")
def _one_cycle(lr_config, plan):
    if plan.warmup:  # OneCycle has its own warm-up phase, so no linear warm-up on top
        raise ValueError("Optimizer.lr.warmup_epochs does not combine with OneCycle (it warms up by itself); "
                         "set it to 0")
    return paddle.optimizer.lr.OneCycleLR(max_learning_rate=plan.base, total_steps=plan.total)


def _parameter_groups(model, weight_decay, exclude_norm_and_bias):
    """Trainable parameters, split so norm scales/shifts and biases can go without weight decay."""
    if not exclude_norm_and_bias:
        return [p for p in model.parameters() if not p.stop_gradient]
    no_decay = set()
    for layer in model.sublayers(include_self=True):
        for name, param in layer.named_parameters(include_sublayers=False):
            if is_norm(layer) or name == "bias":
                no_decay.add(id(param))
    trainable = [p for p in model.parameters() if not p.stop_gradient]
    return [
        {"params": [p for p in trainable if id(p) not in no_decay], "weight_decay": weight_decay},
        {"params": [p for p in trainable if id(p) in no_decay], "weight_decay": 0.0},
    ]


def build_optimizer(opt_config, model, epochs, steps_per_epoch):
    """Return ``(optimizer, lr_scheduler)``."""
    builder = OPTIMIZERS.get_target(opt_config["name"])
    scheduler = build_lr_scheduler(opt_config["lr"], epochs, steps_per_epoch)
    decay = opt_config["weight_decay"]
    params = _parameter_groups(model, decay, opt_config["no_weight_decay_on_norm_and_bias"])
    clip = paddle.nn.ClipGradByGlobalNorm(opt_config["grad_clip"]) if opt_config["grad_clip"] else None
    optimizer = builder(opt_config, learning_rate=scheduler, parameters=params, weight_decay=decay or None,
                        grad_clip=clip)
    return optimizer, scheduler


@OPTIMIZERS.register("SGD")
def _sgd(opt_config, **common):
    return paddle.optimizer.SGD(**common)


@OPTIMIZERS.register("Momentum")
def _momentum(opt_config, **common):
    return paddle.optimizer.Momentum(momentum=opt_config["momentum"], use_nesterov=opt_config["nesterov"], **common)


@OPTIMIZERS.register("Adam")
def _adam(opt_config, **common):
    return paddle.optimizer.Adam(beta1=opt_config["beta1"], beta2=opt_config["beta2"], **common)


@OPTIMIZERS.register("AdamW")
def _adamw(opt_config, **common):
    common["weight_decay"] = opt_config["weight_decay"]  # decoupled decay, a float
    return paddle.optimizer.AdamW(beta1=opt_config["beta1"], beta2=opt_config["beta2"], **common)
