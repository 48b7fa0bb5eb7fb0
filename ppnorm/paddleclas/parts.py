"""PaddleClas's ``Loss``, ``Optimizer`` (with ``lr`` and ``regularizer``) and ``Metric`` sections in ppnorm's terms."""
import math

from ..engine.config.keys import ConfigError
from .dataloader import check_keys, one_entry

OPTIMIZERS = ("Momentum", "SGD", "Adam", "AdamW")
OPTIMIZER_KEYS = ("name", "momentum", "use_nesterov", "beta1", "beta2", "weight_decay", "regularizer", "lr",
                  "one_dim_param_no_weight_decay", "multi_precision")
LR_KEYS = ("name", "learning_rate", "decay_epochs", "values", "eta_min", "warmup_epoch", "warmup_start_lr", "by_epoch",
           "last_epoch")
PADDLECLAS_DECAY_EVERY = 30  # Piecewise with learning_rate: PaddleClas divides by 10 every 30 epochs


def _single(entries, kind, where, source):
    """``[- Kind: {options}]`` with exactly one entry -> its options."""
    if not isinstance(entries, list) or len(entries) != 1:
        raise ConfigError(f"{source}: {where} must be a list of one {kind} entry, got {entries!r}")
    name, options = one_entry(entries[0], f"{where}[0]", source)
    if name != kind:
        raise ConfigError(f"{source}: {where}[0]: '{name}' is not supported; supported: {kind}")
    return options


def _celoss(entries, where, source):
    """``[CELoss: {weight: 1.0, epsilon: e}]`` -> the label smoothing e."""
    options = _single(entries, "CELoss", where, source)
    check_keys(options, ("weight", "epsilon"), f"{where}[0].CELoss", source)
    if options.get("weight", 1.0) != 1.0:
        raise ConfigError(f"{source}: {where}[0].CELoss.weight={options['weight']!r}: ppnorm trains one CELoss of "
                          f"weight 1.0; scale Optimizer.lr.learning_rate instead")
    return options.get("epsilon") or 0.0


def translate_loss(section, source, notes):
    """``Loss.Train`` -> CrossEntropy with ``label_smoothing`` = CELoss ``epsilon``; ``Loss.Eval`` is plain CE."""
    check_keys(section, ("Train", "Eval"), "Loss", source)
    smoothing = _celoss(section.get("Train"), "Loss.Train", source) if "Train" in section else 0.0
    if "Eval" in section and _celoss(section["Eval"], "Loss.Eval", source):
        notes.add("Loss.Eval[0].CELoss.epsilon", section["Eval"][0]["CELoss"]["epsilon"],
                  "ppnorm's eval loss is plain cross entropy (no smoothing)")
    return {"name": "CrossEntropy", "label_smoothing": smoothing}


def translate_metric(section, source, notes):
    """``Metric.Train/Eval: [TopkAcc: {topk: [1, 5]}]`` -> ``Metric.topk`` (Eval's when both are given)."""
    check_keys(section, ("Train", "Eval"), "Metric", source)
    found = {}
    for mode in ("Train", "Eval"):
        if section.get(mode) is not None:
            options = _single(section[mode], "TopkAcc", f"Metric.{mode}", source)
            check_keys(options, ("topk",), f"Metric.{mode}[0].TopkAcc", source)
            topk = options.get("topk", [1, 5])
            found[mode] = [topk] if isinstance(topk, int) else topk
    if len(found) == 2 and found["Train"] != found["Eval"]:
        notes.add("Metric.Train[0].TopkAcc.topk", found["Train"], f"ppnorm reports Metric.Eval's {found['Eval']} "
                                                                  f"in training and evaluation")
    return {"topk": found.get("Eval", found.get("Train", [1, 5]))}


def _decay_factor(values, source):
    """The one factor between consecutive Piecewise ``values`` (ppnorm multiplies by one ``gamma``)."""
    ratios = [b / a for a, b in zip(values, values[1:])] if all(values) else [None]
    if None in ratios or any(not math.isclose(r, ratios[0], rel_tol=1e-6) for r in ratios):
        raise ConfigError(f"{source}: Optimizer.lr.values={values!r}: ppnorm's Piecewise multiplies the rate by one "
                          f"factor at each decay epoch; give values that fall by one factor, e.g. [0.1, 0.01, 0.001]")
    return ratios[0]


def _piecewise(lr, epochs, source, notes):
    """PaddleClas's Piecewise: with ``learning_rate`` set it ignores decay_epochs/values (x0.1 every 30 epochs)."""
    if lr.get("learning_rate"):
        milestones = list(range(PADDLECLAS_DECAY_EVERY, epochs, PADDLECLAS_DECAY_EVERY))
        values = [lr["learning_rate"] * 0.1 ** i for i in range(len(milestones) + 1)]
        given = (lr.get("decay_epochs"), lr.get("values"))
        if given != (None, None) and (given[0] != milestones or len(given[1] or []) != len(values)
                                      or not all(math.isclose(a, b) for a, b in zip(given[1], values))):
            notes.add("Optimizer.lr.decay_epochs/values", list(given), f"PaddleClas ignores them when learning_rate "
                      f"is set (x0.1 every 30 epochs, Global.epochs={epochs}); ppnorm does the same: decay at "
                      f"epochs {milestones}")
    else:
        milestones, values = lr.get("decay_epochs"), lr.get("values")
        if not isinstance(milestones, list) or not isinstance(values, list) or len(values) != len(milestones) + 1:
            raise ConfigError(f"{source}: Optimizer.lr Piecewise needs learning_rate, or decay_epochs [e1, ...] "
                              f"with one more value in values, got {milestones!r} and {values!r}")
    if not milestones:
        return {"name": "Constant", "learning_rate": values[0]}
    shift = lr.get("warmup_epoch", 0)  # PaddleClas's decay steps count from the end of the warm-up
    return {"name": "Piecewise", "learning_rate": values[0], "gamma": _decay_factor(values, source),
            "decay_epochs": [e + shift for e in milestones]}


def translate_lr(lr, epochs, source, notes):
    """``Optimizer.lr`` (Piecewise, Cosine, Constant; ``warmup_epoch``) -> ppnorm's ``lr``."""
    check_keys(lr, LR_KEYS, "Optimizer.lr", source)
    name = lr.get("name")
    if name == "Piecewise":
        out = _piecewise(lr, epochs, source, notes)
    elif name in ("Cosine", "Constant"):
        out = {"name": name, "learning_rate": lr.get("learning_rate")}
        if name == "Cosine" and "eta_min" in lr:
            out["eta_min"] = lr["eta_min"]
    else:
        raise ConfigError(f"{source}: Optimizer.lr.name={name!r} is not supported; supported: Piecewise, Cosine, "
                          f"Constant")
    warmup = lr.get("warmup_epoch", 0)
    if isinstance(warmup, (int, float)) and warmup >= epochs > 0:
        # PaddleClas caps the warm-up at the run's length with a warning: the whole run ramps up linearly to
        # the first rate and the schedule after it never starts
        notes.warn(f"Optimizer.lr.warmup_epoch={warmup} is not shorter than Global.epochs={epochs}: set to {epochs}; "
                   f"the rate rises linearly to {out['learning_rate']} over the whole run")
        out, warmup = {"name": "Constant", "learning_rate": out["learning_rate"]}, epochs
    out.update({"warmup_epochs": warmup, "warmup_start_lr": lr.get("warmup_start_lr", 0.0)})
    if lr.get("by_epoch"):
        notes.add("Optimizer.lr.by_epoch", True, "ppnorm changes the rate every iteration (smoothly within epochs)")
    return out


def _weight_decay(section, source):
    """``regularizer: {name: L2, coeff}`` (or AdamW's ``weight_decay``) -> ppnorm's ``weight_decay``."""
    regularizer = section.get("regularizer")
    if regularizer is None:
        return section.get("weight_decay")
    check_keys(regularizer, ("name", "coeff"), "Optimizer.regularizer", source)
    if regularizer.get("name") != "L2":
        raise ConfigError(f"{source}: Optimizer.regularizer.name={regularizer.get('name')!r} is not supported; "
                          f"supported: L2 (ppnorm's weight_decay)")
    return regularizer.get("coeff", 0.0)


def translate_optimizer(section, epochs, source, notes):
    """``Optimizer`` -> ppnorm's (name, momentum, nesterov, weight_decay, lr)."""
    check_keys(section, OPTIMIZER_KEYS, "Optimizer", source)
    name = section.get("name", "Momentum")
    if name not in OPTIMIZERS:
        raise ConfigError(f"{source}: Optimizer.name={name!r} is not supported; supported: {', '.join(OPTIMIZERS)}")
    out = {"name": name}
    out.update({key: section[key] for key in ("momentum", "beta1", "beta2") if key in section})
    if "use_nesterov" in section:
        out["nesterov"] = section["use_nesterov"]
    decay = _weight_decay(section, source)
    if decay is not None:
        out["weight_decay"] = decay
    if section.get("multi_precision") is False:
        notes.add("Optimizer.multi_precision", False, "ppnorm's AMP O2 keeps float32 master weights "
                                                      "(paddle.amp.decorate); O1 and float32 training need none")
    if section.get("one_dim_param_no_weight_decay"):
        out["no_weight_decay_on_norm_and_bias"] = True
    if "lr" in section:
        out["lr"] = translate_lr(section["lr"], epochs if isinstance(epochs, int) else 1, source, notes)
    return out
