"""Optimizer and per-step learning-rate schedule from the ``Optimizer`` config section."""
import paddle

from ..models.init import is_norm


def build_lr_scheduler(lr_config, epochs, steps_per_epoch):
    """A scheduler stepped once per iteration (so warm-up and decay are smooth within an epoch)."""
    name = lr_config["name"]
    base = lr_config["learning_rate"]
    total = epochs * steps_per_epoch
    warmup = int(round(lr_config["warmup_epochs"] * steps_per_epoch))
    if warmup >= total:
        raise ValueError(f"Optimizer.lr.warmup_epochs={lr_config['warmup_epochs']} covers the whole run "
                         f"({epochs} epochs); make it smaller than Global.epochs")
    lr = paddle.optimizer.lr
    if name == "Constant":
        scheduler = base
    elif name == "Piecewise":
        epochs_at = lr_config["decay_epochs"]
        if sorted(epochs_at) != list(epochs_at) or not epochs_at:
            raise ValueError(f"Optimizer.lr.decay_epochs must be a non-empty increasing list for Piecewise, "
                             f"got {epochs_at}")
        values = [base * lr_config["gamma"] ** i for i in range(len(epochs_at) + 1)]
        scheduler = lr.PiecewiseDecay([int(e * steps_per_epoch) - warmup for e in epochs_at], values)
    elif name == "Cosine":
        scheduler = lr.CosineAnnealingDecay(base, T_max=total - warmup, eta_min=lr_config["eta_min"])
    else:  # OneCycle: its own warm-up phase, so no linear warm-up on top
        if warmup:
            raise ValueError("Optimizer.lr.warmup_epochs does not combine with OneCycle (it warms up by itself); "
                             "set it to 0")
        return lr.OneCycleLR(max_learning_rate=base, total_steps=total)
    if warmup:
        return lr.LinearWarmup(scheduler, warmup_steps=warmup, start_lr=lr_config["warmup_start_lr"], end_lr=base)
    return scheduler if isinstance(scheduler, lr.LRScheduler) else lr.LambdaDecay(base, lambda step: 1.0)


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
    scheduler = build_lr_scheduler(opt_config["lr"], epochs, steps_per_epoch)
    decay = opt_config["weight_decay"]
    params = _parameter_groups(model, decay, opt_config["no_weight_decay_on_norm_and_bias"])
    clip = paddle.nn.ClipGradByGlobalNorm(opt_config["grad_clip"]) if opt_config["grad_clip"] else None
    name = opt_config["name"]
    common = dict(learning_rate=scheduler, parameters=params, weight_decay=decay or None, grad_clip=clip)
    if name == "SGD":
        optimizer = paddle.optimizer.SGD(**common)
    elif name == "Momentum":
        optimizer = paddle.optimizer.Momentum(momentum=opt_config["momentum"], use_nesterov=opt_config["nesterov"],
                                              **common)
    elif name == "Adam":
        optimizer = paddle.optimizer.Adam(beta1=opt_config["beta1"], beta2=opt_config["beta2"], **common)
    else:
        common["weight_decay"] = decay  # AdamW: decoupled decay, a float
        optimizer = paddle.optimizer.AdamW(beta1=opt_config["beta1"], beta2=opt_config["beta2"], **common)
    return optimizer, scheduler
