"""LayerNorm for variable-length inputs: BN (padding counted / masked), LN and no norm on padded sequences.

The data set and model are the training tools' own: ``waveforms`` (each sample the zero-padded sequence and its
padding mask as the last channel) and ``seq_conv1d`` with ``mask_channel``, trained by the engine's loop (``fit``)."""
import copy

import numpy as np
import paddle

from ..data.waveforms import Waveforms, pad_batch
from ..engine.config import ConfigError
from ..models import build_model
from ..models.sequence import SEQUENCE_NORMS
from .charts import Chart
from .claims import Claim
from .framework import Experiment, Stat, Table
from .training import accuracy, fit, optimizer_section

ORDER = 220  # place in --list and the docs; this line makes the module an experiment (see __init__)
QUESTION = ("Does LayerNorm suit networks whose inputs vary in length (Ba, Kiros & Hinton 2016): on padded "
            "variable-length sequences, how do BN counting the padding, BN over valid steps, LN and no norm "
            "compare on the training length mix, on shorter and longer sequences, and alone versus in a batch?")
QUESTION_ZH = ("LayerNorm 是否适合输入长度可变的网络（Ba、Kiros 与 Hinton 2016）？在补零的变长序列上，"
               "计入补零的 BN、只统计有效位置的 BN、LN 与不归一化，在训练长度分布、更短与更长的序列上各如何？"
               "单条推理与成批推理是否一致？")
DEFAULTS = {"norms": ["none", "bn", "bn_masked", "ln"], "train_len": [20, 40], "short_len": [8, 16],
            "long_len": [60, 100], "train_size": 2000, "test_size": 600, "epochs": 10, "batch": 64, "lr": 0.003,
            "width": 32, "extra_pad": 40, "probe": 32, "seeds": 15}
QUICK = {"train_size": 256, "test_size": 64, "epochs": 3, "width": 8, "probe": 8, "seeds": 2}
SPLITS = {"mix": "train_len", "short": "short_len", "long": "long_len"}  # test split: its lengths' param
DATA = "it needs variable-length sequences (the generated waveforms), not images"
GAPS = ("eval_gap", "pad_gap", "alone_gap")


def waveform_tensors(count, lengths, seed, split):
    """``(samples [N, 2, max_len], labels [N])`` tensors of the ``waveforms`` data set."""
    data = Waveforms(num_samples=count, min_len=lengths[0], max_len=lengths[1], seed=seed, split=split)
    return paddle.to_tensor(data.images), paddle.to_tensor(data.labels)


def logits(model, sequences, length=None, train_mode=False):
    """Logits of ``sequences`` packed as one batch padded to ``length``, in eval mode or with batch statistics."""
    x, mask = pad_batch(sequences, length)
    model.train() if train_mode else model.eval()
    with paddle.no_grad():
        out = model(paddle.to_tensor(np.concatenate([x, mask[:, None]], axis=1))).numpy()
    model.train()
    return out


def batch_gaps(model, sequences, extra_pad):
    """Largest |logit difference| of the same sequences: eval mode alone vs batched; with batch statistics
    (train mode, on a copy so running stats are untouched) with ``extra_pad`` more padding, and alone vs batched."""
    probe, longest = copy.deepcopy(model), max(len(s) for s in sequences)
    alone_eval = np.concatenate([logits(model, [s]) for s in sequences])
    alone_train = np.concatenate([logits(probe, [s], train_mode=True) for s in sequences])
    batched_train = logits(probe, sequences, train_mode=True)
    return {"eval_gap": float(np.abs(logits(model, sequences) - alone_eval).max()),
            "pad_gap": float(np.abs(logits(probe, sequences, longest + extra_pad, True) - batched_train).max()),
            "alone_gap": float(np.abs(batched_train - alone_train).max())}


def cell(ctx, setting, seed):
    """seq_conv1d with ``norm`` trained with Adam on the training length mix: held-out accuracy (%) per test split,
    the accuracy curve on the mix, and the batch / padding gaps of its logits."""
    prm = ctx.params
    model = build_model("seq_conv1d", in_channels=2, mask_channel=True, widths=[prm["width"]] * 3, num_classes=4,
                        norm=setting["norm"])
    tests = {split: waveform_tensors(prm["test_size"], prm[key], 10_000 + 100 * seed + k, "test")
             for k, (split, key) in enumerate(SPLITS.items())}
    section = optimizer_section(name="Adam", lr={"name": "Constant", "learning_rate": prm["lr"]})
    history = fit(model, waveform_tensors(prm["train_size"], prm["train_len"], seed, "train"), tests["mix"],
                  prm["epochs"], prm["batch"], seed=seed, optimizer=section)
    probe = [row[0, :int(row[1].sum())] for row in tests["mix"][0][:prm["probe"]].numpy()]  # without padding
    return {**{f"acc_{split}_pct": 100 * accuracy(model, *data) for split, data in tests.items()},
            **batch_gaps(model, probe, prm["extra_pad"]),
            "acc_mix_curve": [100 * a for a in history.test_accuracy]}


def _validate(params):
    if any(norm not in SEQUENCE_NORMS for norm in params["norms"]):
        raise ConfigError(f"params.norms must be some of {', '.join(SEQUENCE_NORMS)}, got {params['norms']}")


NAMES = {"none": ("no norm", "不归一化"), "bn": ("plain BN", "普通 BN"), "bn_masked": ("masked BN", "掩码 BN"),
         "ln": ("LN", "LN")}
WHERE = {"mix": ("on the training length mix", "在训练长度分布上"),
         "short": ("on sequences shorter than in training", "在比训练更短的序列上"),
         "long": ("on sequences longer than in training", "在比训练更长的序列上")}
PAIRS = (("ln", "none", "mix"), ("ln", "bn", "mix"), ("ln", "bn", "short"), ("ln", "bn", "long"),
         ("ln", "bn_masked", "long"), ("bn_masked", "bn", "long"))


def _claims(params):
    """``<a>_beats_<b>_<split>``: held-out accuracy of norm a minus norm b on one test split, paired by seed."""
    return {f"{a}_beats_{b}_{split}": Claim(
        f"{NAMES[a][0][:1].upper()}{NAMES[a][0][1:]} beats {NAMES[b][0]} {WHERE[split][0]} (by > {{margin:g}} points)",
        f"{WHERE[split][1]}{NAMES[a][1]}优于{NAMES[b][1]}（准确率高出 {{margin:g}} 个百分点以上）", f"acc_{split}_pct",
        {"norm": a}, {"norm": b}, evidence=f"held-out accuracy (%) {a} minus {b} ({split} lengths), paired by seed")
        for a, b, split in PAIRS if {a, b} <= set(params["norms"])}


CHECKS = (("ln", "eval_gap", "LN: a sequence alone gives the same logits as in a padded batch (eval)",
           "LN：单条序列与补零成批推理的 logits 相同（eval）"),
          ("ln", "alone_gap", "LN: alone vs batched is the same even with training-mode statistics",
           "LN：即使在训练模式下，单条与成批的 logits 也相同"),
          ("bn_masked", "pad_gap", "Masked BN: training-mode output does not depend on the amount of padding",
           "掩码 BN：训练模式下输出与补零多少无关"),
          ("bn", "eval_gap", "BN in eval mode (running stats): alone vs batched is the same",
           "BN 在 eval 模式（running_mean/running_var）下单条与成批相同"))


def _after(ctx, results):
    """The largest gaps over seeds into the table; the identities (and plain BN's padding dependence) as checks."""
    for row in results.rows:
        row.update({f"max {gap.replace('_', ' ')}": max(results.values(gap, {"norm": row["norm"]})) for gap in GAPS})
    for norm, gap, en, zh in (c for c in CHECKS if c[0] in ctx.params["norms"]):
        ctx.check((en, zh), max(results.values(gap, {"norm": norm})), 1e-4, f"largest |logit difference| ({gap})")
    if "bn" in ctx.params["norms"]:  # true by construction: the padded zeros enter BN's batch mean and variance
        least = min(results.values("pad_gap", {"norm": "bn"}))
        ctx.check(("Plain BN (padding counted): training-mode output changes with the amount of padding, by more "
                   "than 1e-3 in every seed", "普通 BN（计入补零）：训练模式下输出随补零多少而变，每个种子都超过 1e-3"),
                  max(0.0, 1e-3 - least), 0.0, f"error: how far the smallest pad_gap over seeds ({least:.3g}, "
                                               f"{ctx.params['extra_pad']} more padding steps) falls short of 1e-3")


def _summary(ctx, results):
    parts = [f"{row['norm']} {row['acc long']}" for row in results.rows]
    return ctx.tr("Held-out accuracy (%) on longer sequences: " + ", ".join(parts) + ".",
                  "更长序列上的留出集准确率（%）：" + "，".join(parts) + "。")


EXPERIMENT = Experiment(
    grid=lambda params: [{"norm": norm} for norm in params["norms"]], cell=cell, claims=_claims, after=_after,
    validate=_validate, summary=_summary, metrics=(*(f"acc_{s}_pct" for s in SPLITS), *GAPS, "acc_mix_curve"),
    table=Table("sequence_norm", (
        "seq_conv1d [{width}] x 3 on waveforms (train lengths {train_len}), {epochs} epochs of batch {batch}: held-out "
        "accuracy (%), mean ± 95% interval over {seeds} seeds, and the largest |logit difference| over seeds of the "
        "same sequences alone / batched / with {extra_pad} more padding steps",
        "waveforms 上的 seq_conv1d [{width}] x 3（训练长度 {train_len}），batch {batch} 训练 {epochs} 轮：留出集准确率（%），"
        "{seeds} 个种子的均值 ± 95% 区间；以及同一序列单条 / 成批 / 多补 {extra_pad} 步时 logits 之差的最大值（各种子中）"),
        ("norm", *(Stat(f"acc {s}", f"acc_{s}_pct", 1) for s in SPLITS), *(f"max {g.replace('_', ' ')}" for g in GAPS))),
    charts=(Chart("sweep", "sequence_norm", tuple(f"acc_{s}_pct" for s in SPLITS),
                  ("held-out accuracy by test length", "各测试长度的留出集准确率"),
                  ("held-out accuracy (%), mean ± 95% interval", "留出集准确率（%），均值 ± 95% 区间"), ("norm", "归一化"),
                  x="norm", bounds=(0.0, 100.0), labels={f"acc_{s}_pct": WHERE[s] for s in SPLITS}),
            Chart("curves", "sequence_norm_curves", ("acc_mix_curve",), ("accuracy during training", "训练中的准确率"),
                  ("held-out accuracy, training lengths (%)", "留出集准确率，训练长度（%）"), ("epoch", "轮（epoch）"),
                  by="norm", labels={"acc_mix_curve": ("accuracy", "准确率")}, bounds=(0.0, 100.0))))
run = EXPERIMENT.run
