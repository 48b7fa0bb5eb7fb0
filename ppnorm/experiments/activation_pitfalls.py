"""Two activation pitfalls: ReLU units that die at a large learning rate (with BN, leaky ReLU, ELU as fixes),
and the one-sign weight gradients behind sigmoid's non-zero-centred outputs (and the training speed they cost)."""
import numpy as np
import paddle

from ..models import build_model
from .activation_pitfalls_chart import estimate, save_chart
from .stats import mean_interval, paired_difference
from .training import fit, optimizer_section

QUESTION = ("Do ReLU units die (never fire on the training set) when the learning rate is too large, and do BN, "
            "leaky ReLU or ELU prevent it? Do sigmoid outputs, being all positive, make a layer's weight-gradient "
            "rows share one sign, and does that slow training compared with tanh?")
QUESTION_ZH = ("学习率过大时 ReLU 单元是否会\"死亡\"（在训练集上从不激活）？BN、leaky ReLU、ELU 能否避免？"
               "sigmoid 的输出全为正，是否让下一层权重梯度的每一行同号，并因此比 tanh 训练得慢？")
DEFAULTS = {"depth": 4, "width": 64, "lrs": [0.01, 0.1, 0.5], "dying": [["relu", "none"], ["relu", "bn"],
            ["leaky_relu", "none"], ["elu", "none"]], "epochs": 8, "batch": 64, "seeds": 5,
            "sign_acts": ["sigmoid", "tanh"], "norms": ["none", "bn"], "sign_lr": 0.05, "sign_epochs": 10,
            "sign_samples": 32, "target": 0.85}
DATA = True  # any image data set (ctx.data)
QUICK = {"depth": 2, "width": 16, "lrs": [0.01, 0.5], "epochs": 1, "seeds": 2, "sign_epochs": 1, "sign_samples": 4}


def dead_fraction(model, images):
    """Fraction of the MLP's hidden units whose pre-activation (the norm's output, eval mode) is never
    positive on ``images``: a ReLU unit that never fires. A non-finite pre-activation counts as dead."""
    model.eval()
    dead, total, x = 0, 0, paddle.flatten(images, start_axis=1)
    with paddle.no_grad():
        for block in model.layers:
            pre = block.norm(block.linear(x))
            dead += int((~(pre > 0).any(axis=0)).sum())
            total += pre.shape[1]
            x = block.dropout(block.act(pre))
    model.train()
    return dead / total


def one_sign_fraction(grad):
    """Fraction of units j of an ``[in, out]`` weight gradient whose column ``grad[:, j]`` is all >= 0 or all <= 0."""
    grad = np.asarray(grad)
    return float(np.mean((grad >= 0).all(axis=0) | (grad <= 0).all(axis=0)))


def second_layer_gradient(model, images, labels):
    """The mean cross-entropy's gradient of the 2nd hidden layer's weight ``[in, out]`` (fed by layer 1's outputs)."""
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    model.clear_gradients()
    loss.backward()
    grad = model.layers[1].linear.weight.grad.numpy()
    model.clear_gradients()
    return grad


def sign_fractions(model, images, labels, samples):
    """``(per-sample, mini-batch)`` one-sign fractions: mean over ``samples`` single samples; whole batch."""
    single = [one_sign_fraction(second_layer_gradient(model, images[i:i + 1], labels[i:i + 1])) for i in range(samples)]
    return float(np.mean(single)), one_sign_fraction(second_layer_gradient(model, images, labels))


def _mlp(ctx, act, norm, init):
    prm = ctx.params
    info = ctx.data_info
    return build_model("mlp", in_features=info.features, hidden=[prm["width"]] * prm["depth"],
                       num_classes=info.num_classes, norm=norm,
                       act=act, init=init)


def _train(ctx, model, seed, lr, epochs, momentum):
    name = "Momentum" if momentum else "SGD"
    return fit(model, ctx.data("train"), ctx.data("test"), epochs, ctx.params["batch"], seed=seed,
               eval_every=max(1, len(ctx.data("train")[1]) // ctx.params["batch"] // 2),
               optimizer=optimizer_section(name=name, lr={"name": "Constant", "learning_rate": lr}))


def _dying_runs(ctx):
    prm = ctx.params
    for act, norm in prm["dying"]:
        for lr in prm["lrs"]:
            for seed in ctx.seeds(prm["seeds"]):
                ctx.seed_everything(seed)
                model = _mlp(ctx, act, norm, "kaiming")
                start = dead_fraction(model, ctx.data("train")[0])
                history = _train(ctx, model, seed, lr, prm["epochs"], momentum=False)
                end = dead_fraction(model, ctx.data("train")[0])
                diverged = not all(np.isfinite(history.losses))
                ctx.run_done(f"{act} norm={norm} lr={lr} seed={seed}", f"dead {start:.1%} -> {end:.1%}, top-1 "
                             f"{history.test_accuracy[-1]:.1%}{' (diverged)' if diverged else ''}", part="dying",
                             act=act, norm=norm, lr=lr, seed=seed, dead_at_init=start, dead=end,
                             final_acc=history.test_accuracy[-1], diverged=diverged)


def _sign_runs(ctx):
    prm = ctx.params
    images, labels = ctx.data("train")
    batch = (images[:prm["batch"]], labels[:prm["batch"]])
    curves = {}
    for act in prm["sign_acts"]:
        for norm in prm["norms"]:
            for seed in ctx.seeds(prm["seeds"]):
                ctx.seed_everything(seed)
                model = _mlp(ctx, act, norm, "xavier")
                single, minibatch = sign_fractions(model, *batch, prm["sign_samples"])
                history = _train(ctx, model, seed, prm["sign_lr"], prm["sign_epochs"], momentum=True)
                budget = prm["sign_epochs"] * (len(labels) // prm["batch"])
                steps = history.steps_to(prm["target"])
                curves.setdefault((act, norm), []).append(history)
                ctx.run_done(f"{act} norm={norm} seed={seed}", f"one-sign rows {single:.0%} per sample, "
                             f"{minibatch:.0%} per batch; steps to {prm['target']:.0%}: {steps}", part="sign",
                             act=act, norm=norm, seed=seed, one_sign_sample=single, one_sign_batch=minibatch,
                             steps_to_target=steps or budget, reached=steps is not None,
                             final_acc=history.test_accuracy[-1])
    return curves


def _tables(ctx):
    prm, dying, sign = ctx.params, [], []
    for act, norm in prm["dying"]:
        for lr in prm["lrs"]:
            m = dict(part="dying", act=act, norm=norm, lr=lr)
            dying.append({"act": act, "norm": norm, "lr": lr,
                          "dead at init %": mean_interval(ctx.run_values("dead_at_init", **m)).scaled(100).format(1),
                          "dead after training %": estimate(ctx.run_values("dead", diverged=False, **m)).scaled(100).format(1),
                          "top-1 %": mean_interval(ctx.run_values("final_acc", **m)).scaled(100).format(1),
                          "diverged": f"{sum(ctx.run_values('diverged', **m))}/{prm['seeds']}"})
    for act in prm["sign_acts"]:
        for norm in prm["norms"]:
            m = dict(part="sign", act=act, norm=norm)
            sign.append({"act": act, "norm": norm,
                         "one-sign per sample %": mean_interval(ctx.run_values("one_sign_sample", **m)).scaled(100).format(1),
                         "one-sign per batch %": mean_interval(ctx.run_values("one_sign_batch", **m)).scaled(100).format(1),
                         "steps to target": mean_interval(ctx.run_values("steps_to_target", **m)).format(0),
                         "reached": f"{sum(ctx.run_values('reached', **m))}/{prm['seeds']}",
                         "top-1 %": mean_interval(ctx.run_values("final_acc", **m)).scaled(100).format(1)})
    return dying, sign


def _dying_claims(ctx):
    prm, low, high = ctx.params, ctx.params["lrs"][0], ctx.params["lrs"][-1]

    def dead_difference(a, b):
        """``a`` minus ``b`` in points, paired by seed over the seeds where neither run diverged, and the number
        of seeds left out because a run diverged (an outcome: reported as ``failed``)."""
        runs = [{r["seed"]: r["dead"] for r in ctx.runs if r["part"] == "dying" and not r["diverged"]
                 and (r["act"], r["norm"], r["lr"]) == key} for key in (a, b)]
        seeds = sorted(set(runs[0]) & set(runs[1]))
        failed = prm["seeds"] - len(seeds)
        if not seeds:
            return estimate([]), failed
        return paired_difference([runs[0][s] for s in seeds], [runs[1][s] for s in seeds]).scaled(100), failed

    evidence = ctx.tr("% of hidden units whose pre-activation is never > 0 on the training set, paired by seed "
                      "(seeds where a run diverged are counted as failed)",
                      "在训练集上预激活从不 > 0 的隐藏单元占比（%），按种子配对（有一方发散的种子计为失败）")
    difference, failed = dead_difference(("relu", "none", high), ("relu", "none", low))
    ctx.compare((f"ReLU without BN: more units die at lr {high} than at lr {low}",
                 f"无 BN 的 ReLU：学习率 {high} 时死亡单元比 {low} 时多"),
                difference, "greater", digits=1, evidence=evidence, failed=failed)
    for act, norm in prm["dying"]:
        if (act, norm) != ("relu", "none"):
            fix = "BN" if norm == "bn" else act
            difference, failed = dead_difference((act, norm, high), ("relu", "none", high))
            ctx.compare((f"At lr {high}, {fix} leaves fewer never-firing units than plain ReLU",
                         f"学习率 {high} 时，{fix} 的从不激活单元比普通 ReLU 少"),
                        difference, "less", digits=1, evidence=evidence, failed=failed)


def _sign_claims(ctx):
    def values(key, act, norm="none"):
        return ctx.run_values(key, part="sign", act=act, norm=norm)
    sig = values("one_sign_sample", "sigmoid")
    ctx.check(("Per sample, every weight-gradient row of a layer fed by sigmoid outputs has one sign",
               "单个样本时，以 sigmoid 输出为输入的层，其权重梯度的每一行都同号"), 1.0 - min(sig), 0.0,
              ctx.tr("1 minus the smallest per-sample one-sign fraction", "1 减去最小的单样本同号比例"))
    for key, en, zh in (("one_sign_sample", "per sample", "单个样本"), ("one_sign_batch", "over a mini-batch", "一个小批量")):
        ctx.compare((f"Sigmoid inputs give more one-sign weight-gradient rows than tanh inputs ({en})",
                     f"sigmoid 输入比 tanh 输入产生更多同号的权重梯度行（{zh}）"),
                    paired_difference(values(key, "sigmoid"), values(key, "tanh")).scaled(100), "greater", digits=1,
                    evidence=ctx.tr("percentage points, at initialization, paired by seed", "百分点，初始化时，按种子配对"))
    for norm in ctx.params["norms"]:
        ctx.compare((f"Sigmoid trains slower than tanh (norm={norm}): more steps to {ctx.params['target']:.0%}",
                     f"sigmoid 比 tanh 训练得慢（norm={norm}）：达到 {ctx.params['target']:.0%} 所需步数更多"),
                    paired_difference(values("steps_to_target", "sigmoid", norm), values("steps_to_target", "tanh", norm)),
                    "greater", digits=0, evidence=ctx.tr("steps, paired by seed (never reaching counts as the budget)",
                                                         "步数，按种子配对（未达到计为全部步数）"))

def run(ctx):
    prm = ctx.params
    ctx.plan(prm["seeds"] * (len(prm["dying"]) * len(prm["lrs"]) + len(prm["sign_acts"]) * len(prm["norms"])))
    _dying_runs(ctx)
    curves = _sign_runs(ctx)
    dying, sign = _tables(ctx)
    ctx.table("dying_relu", dying, title=ctx.tr(
        f"Never-firing hidden units of an MLP {prm['depth']} x {prm['width']} (Kaiming init, SGD, {prm['epochs']} "
        f"epochs); mean ± 95% interval over {prm['seeds']} seeds",
        f"MLP {prm['depth']} x {prm['width']}（Kaiming 初始化，SGD，{prm['epochs']} 个 epoch）中从不激活的隐藏单元；"
        f"{prm['seeds']} 个种子的均值 ± 95% 区间"))
    ctx.table("one_sign", sign, title=ctx.tr(
        f"One-sign weight-gradient rows of the 2nd layer at init (Xavier), and steps to {prm['target']:.0%} "
        f"(Momentum lr {prm['sign_lr']}); mean ± 95% interval over {prm['seeds']} seeds",
        f"初始化（Xavier）时第 2 层同号的权重梯度行，以及达到 {prm['target']:.0%} 的步数（Momentum，学习率 "
        f"{prm['sign_lr']}）；{prm['seeds']} 个种子的均值 ± 95% 区间"))
    save_chart(ctx, curves)
    _dying_claims(ctx)
    _sign_claims(ctx)
    relu = {r["lr"]: r["dead after training %"] for r in dying if (r["act"], r["norm"]) == ("relu", "none")}
    return ctx.tr(f"Dead ReLU units (%) by lr without BN: {relu}.", f"无 BN 时各学习率下死亡 ReLU 单元（%）：{relu}。")
