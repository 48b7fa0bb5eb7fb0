"""LayerNorm for variable-length inputs: BN (padding counted / masked), LN and no norm on padded sequences."""
import copy

import numpy as np
import paddle

from ..data.waveforms import pad_batch, waveforms
from ..models import build_model
from .stats import mean_interval, paired_difference

QUESTION = ("Does LayerNorm suit networks whose inputs vary in length (Ba, Kiros & Hinton 2016): on padded "
            "variable-length sequences, how do BN counting the padding, BN over valid steps, LN and no norm "
            "compare on the training length mix, on shorter and longer sequences, and alone versus in a batch?")
QUESTION_ZH = ("LayerNorm 是否适合输入长度可变的网络（Ba、Kiros 与 Hinton 2016）？在补零的变长序列上，"
               "计入补零的 BN、只统计有效位置的 BN、LN 与不归一化，在训练长度分布、更短与更长的序列上各如何？"
               "单条推理与成批推理是否一致？")
DEFAULTS = {"norms": ["none", "bn", "bn_masked", "ln"], "train_len": [20, 40], "short_len": [8, 16],
            "long_len": [60, 100], "train_size": 2000, "test_size": 600, "steps": 300, "batch": 64, "lr": 0.003,
            "width": 32, "extra_pad": 40, "probe": 32, "seeds": 5}
QUICK = {"train_size": 256, "test_size": 64, "steps": 10, "width": 8, "probe": 8, "seeds": 2}
SPLITS = ("mix", "short", "long")
DATA = "it needs variable-length sequences (the generated waveforms), not images"


def logits(model, sequences, length=None, train_mode=False):
    """Logits of ``sequences`` as one padded batch (to ``length``), in eval mode or with batch statistics."""
    x, mask = pad_batch(sequences, length)
    model.train() if train_mode else model.eval()
    with paddle.no_grad():
        out = model(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy()
    model.train()
    return out


def batch_gaps(model, sequences, extra_pad):
    """Largest |logit difference| of the same sequences: eval mode alone vs batched; with batch statistics
    (train mode, on a copy so running stats are untouched) with ``extra_pad`` more padding, and alone vs batched."""
    probe = copy.deepcopy(model)
    longest = max(len(s) for s in sequences)
    alone_eval = np.concatenate([logits(model, [s]) for s in sequences])
    alone_train = np.concatenate([logits(probe, [s], train_mode=True) for s in sequences])
    batched_train = logits(probe, sequences, train_mode=True)
    return {"eval gap": float(np.abs(logits(model, sequences) - alone_eval).max()),
            "pad gap": float(np.abs(logits(probe, sequences, longest + extra_pad, True) - batched_train).max()),
            "alone gap": float(np.abs(batched_train - alone_train).max())}


def accuracy(model, sequences, labels, batch=128):
    predicted = np.concatenate([logits(model, sequences[i:i + batch]).argmax(1) for i in range(0, len(labels), batch)])
    return float((predicted == labels).mean())


def train(ctx, norm, seed):
    """A ``seq_conv1d`` trained with Adam on padded batches of the training length mix."""
    prm = ctx.params
    ctx.seed_everything(seed)
    model = build_model("seq_conv1d", widths=[prm["width"]] * 3, num_classes=4, norm=norm)
    opt = paddle.optimizer.Adam(prm["lr"], parameters=model.parameters())
    sequences, labels = waveforms(prm["train_size"], *prm["train_len"], seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(prm["steps"]):
        idx = rng.choice(len(labels), prm["batch"], replace=False)
        x, mask = pad_batch([sequences[i] for i in idx])
        loss = paddle.nn.functional.cross_entropy(model(paddle.to_tensor(x), paddle.to_tensor(mask)),
                                                  paddle.to_tensor(labels[idx]))
        loss.backward()
        opt.step()
        opt.clear_grad()
    return model


def one_run(ctx, norm, seed):
    prm = ctx.params
    model = train(ctx, norm, seed)
    row = {"norm": norm, "seed": seed}
    for k, split in enumerate(SPLITS):
        lengths = prm["train_len"] if split == "mix" else prm[f"{split}_len"]
        sequences, labels = waveforms(prm["test_size"], *lengths, seed=10_000 + 100 * seed + k)
        row[f"acc {split}"] = accuracy(model, sequences, labels)
        if split == "mix":
            row.update(batch_gaps(model, sequences[:prm["probe"]], prm["extra_pad"]))
    return row


def _values(ctx, norm, key):
    return ctx.run_values(key, norm=norm)


def _table(ctx):
    rows = []
    for norm in ctx.params["norms"]:
        row = {"norm": norm}
        for split in SPLITS:
            row[f"acc {split}"] = mean_interval(_values(ctx, norm, f"acc {split}")).format(3)
        for key in ("eval gap", "pad gap", "alone gap"):
            row[f"max {key}"] = f"{max(_values(ctx, norm, key)):.2g}"
        rows.append(row)
    return rows


def _gap_claims(ctx):
    for norm, key, tol, en, zh in (
            ("ln", "eval gap", 1e-4, "LN: a sequence alone gives the same logits as in a padded batch (eval)",
             "LN：单条序列与补零成批推理的 logits 相同（eval）"),
            ("ln", "alone gap", 1e-4, "LN: alone vs batched is the same even with training-mode statistics",
             "LN：即使在训练模式下，单条与成批的 logits 也相同"),
            ("bn_masked", "pad gap", 1e-4, "Masked BN: training-mode output does not depend on the amount of padding",
             "掩码 BN：训练模式下输出与补零多少无关"),
            ("bn", "eval gap", 1e-4, "BN in eval mode (running stats): alone vs batched is the same",
             "BN 在 eval 模式（running_mean/running_var）下单条与成批相同")):
        if norm in ctx.params["norms"]:
            ctx.check((en, zh), max(_values(ctx, norm, key)), tol, f"largest |logit difference| over seeds ({key})")
    if "bn" in ctx.params["norms"]:
        ctx.compare(("Plain BN (padding counted): training-mode output changes with the amount of padding",
                     "普通 BN（计入补零）：训练模式下输出随补零多少而变"),
                    mean_interval(_values(ctx, "bn", "pad gap")), "greater", margin=1e-3, digits=3,
                    evidence=f"largest |logit change| when {ctx.params['extra_pad']} padding steps are added")


def _accuracy_claims(ctx):
    for a, b, split, en, zh in (
            ("ln", "none", "mix", "LN beats no norm on the training length mix", "在训练长度分布上 LN 优于不归一化"),
            ("ln", "bn", "mix", "LN beats plain BN on the training length mix", "在训练长度分布上 LN 优于普通 BN"),
            ("ln", "bn", "short", "LN beats plain BN on sequences shorter than in training", "在比训练更短的序列上 LN 优于普通 BN"),
            ("ln", "bn", "long", "LN beats plain BN on sequences longer than in training", "在比训练更长的序列上 LN 优于普通 BN"),
            ("ln", "bn_masked", "long", "LN beats masked BN on longer sequences", "在更长的序列上 LN 优于掩码 BN"),
            ("bn_masked", "bn", "long", "Masked BN beats plain BN on longer sequences", "在更长的序列上掩码 BN 优于普通 BN")):
        if {a, b} <= set(ctx.params["norms"]):
            key = f"acc {split}"
            ctx.compare((en, zh), paired_difference(_values(ctx, a, key), _values(ctx, b, key)), "greater",
                        digits=3, evidence=f"accuracy {a} minus {b} ({split}), paired by seed")


COLORS = {"none": "tab:gray", "bn": "tab:red", "bn_masked": "tab:orange", "ln": "tab:blue"}


def _chart(ctx):
    prm = ctx.params
    fig, axes = ctx.figure(2, width=5.4)
    width = 0.8 / len(prm["norms"])
    labels = {s: f"{s} {prm['train_len' if s == 'mix' else s + '_len']}" for s in SPLITS}
    for j, norm in enumerate(prm["norms"]):
        est = [mean_interval(_values(ctx, norm, f"acc {s}")) for s in SPLITS]
        xs = np.arange(len(SPLITS)) + (j - (len(prm["norms"]) - 1) / 2) * width
        axes[0][0].bar(xs, [e.mean for e in est], width, color=COLORS[norm], label=norm)
        axes[0][0].errorbar(xs, [e.mean for e in est], yerr=[e.half_width for e in est], fmt="none", ecolor="black",
                            capsize=3, label=ctx.chart_text("95% interval", "95% 区间") if j == 0 else None)
        gaps = [max(max(_values(ctx, norm, k)), 1e-9) for k in ("eval gap", "pad gap", "alone gap")]
        axes[0][1].bar(np.arange(3) + (j - (len(prm["norms"]) - 1) / 2) * width, gaps, width, color=COLORS[norm],
                       label=norm)
    axes[0][0].set_xticks(range(len(SPLITS)), [labels[s] for s in SPLITS])
    axes[0][0].set_xlabel(ctx.chart_text("test lengths (time steps)", "测试序列长度（时间步）"))
    axes[0][0].set_ylabel(ctx.chart_text("test accuracy (fraction)", "测试准确率（比例）"))
    axes[0][0].set_ylim(0, 1.15)
    axes[0][0].set_title(ctx.chart_text("accuracy by test length", "各测试长度的准确率"))
    axes[0][0].legend(fontsize=7, ncol=3, loc="upper center")
    axes[0][1].set_yscale("log")
    axes[0][1].set_xticks(range(3), [ctx.chart_text("eval: alone vs batch", "eval：单条 vs 成批"),
                                     ctx.chart_text("train: +padding", "train：多补零"),
                                     ctx.chart_text("train: alone vs batch", "train：单条 vs 成批")], fontsize=8)
    axes[0][1].set_ylabel(ctx.chart_text("max |logit difference| (1e-9 = zero)", "最大 |logit 差|（1e-9 即为 0）"))
    axes[0][1].set_title(ctx.chart_text("batch / padding dependence", "对批与补零的依赖"))
    axes[0][1].legend(fontsize=7, loc="upper left")
    ctx.save_figure(fig, "sequence_norm", ctx.tr("accuracy by test length; batch and padding dependence",
                                                 "各测试长度的准确率；对批与补零的依赖"))


def run(ctx):
    prm = ctx.params
    ctx.plan(len(prm["norms"]) * prm["seeds"])
    for norm in prm["norms"]:
        for seed in ctx.seeds(prm["seeds"]):
            row = one_run(ctx, norm, seed)
            ctx.run_done(f"{norm} seed={seed}", f"acc mix {row['acc mix']:.3f} short {row['acc short']:.3f} "
                         f"long {row['acc long']:.3f}, train-mode padding gap {row['pad gap']:.2g}", **row)
    rows = _table(ctx)
    ctx.table("sequence_norm", rows, title=ctx.tr(
        f"Test accuracy (mean ± 95% interval over {prm['seeds']} seeds) and largest |logit difference| "
        f"of the same sequences alone / batched / with {prm['extra_pad']} more padding steps",
        f"测试准确率（{prm['seeds']} 个种子的均值 ± 95% 区间）与同一序列单条 / 成批 / 多补 {prm['extra_pad']} 步时 "
        f"logits 的最大差"))
    _chart(ctx)
    _gap_claims(ctx)
    _accuracy_claims(ctx)
    parts = [f"{r['norm']} {r['acc long']}" for r in rows]
    return ctx.tr("Accuracy on longer sequences: " + ", ".join(parts) + ".", "更长序列上的准确率：" + "，".join(parts) + "。")
