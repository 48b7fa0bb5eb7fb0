"""activation_pitfalls' chart: dead units vs learning rate, one-sign gradient rows, sigmoid vs tanh curves."""
import numpy as np

from .stats import Estimate, mean_interval


def estimate(values):
    """:func:`mean_interval`, or an empty estimate (nan) when every run was left out."""
    return mean_interval(values) if values else Estimate(float("nan"), float("nan"), 0)


COLORS = {"relu": "tab:red", "leaky_relu": "tab:orange", "elu": "tab:green", "sigmoid": "tab:purple", "tanh": "tab:blue"}


def _chart_dying(ctx, ax):
    for act, norm in ctx.params["dying"]:
        est = [estimate(ctx.run_values("dead", part="dying", act=act, norm=norm, lr=lr, diverged=False)).scaled(100)
                for lr in ctx.params["lrs"]]
        ax.errorbar(ctx.params["lrs"], [e.mean for e in est], yerr=[e.half_width for e in est], capsize=4,
                    marker="o", linestyle="--" if norm == "bn" else "-", color=COLORS[act],
                    label=ctx.chart_text(f"{act}, norm={norm} (mean ± 95% interval; diverged runs left out)",
                                         f"{act}，norm={norm}（均值 ± 95% 区间；发散的运行不计）"))
    ax.set_ylim(top=ax.get_ylim()[1] * 1.8)  # room for the legend above the data
    ax.set_xscale("log")
    ax.set_xlabel(ctx.chart_text("learning rate (SGD)", "学习率（SGD）"))
    ax.set_ylabel(ctx.chart_text("units never firing on the training set (%)", "训练集上从不激活的单元（%）"))
    ax.set_title(ctx.chart_text("dead units after training", "训练后的死亡单元"))
    ax.legend(fontsize=7, loc="upper left")


def _chart_sign(ctx, ax):
    width, acts = 0.35, ctx.params["sign_acts"]
    for shift, (key, en, zh) in zip((-width / 2, width / 2), (("one_sign_sample", "per sample", "单个样本"),
                                                              ("one_sign_batch", "mini-batch", "小批量"))):
        est = [mean_interval(ctx.run_values(key, part="sign", act=a, norm="none")).scaled(100) for a in acts]
        for x, e in zip(np.arange(len(acts)) + shift, est):
            ax.text(x, e.mean + e.half_width + 2, f"{e.mean:.0f}%", ha="center", fontsize=8)
        ax.bar(np.arange(len(acts)) + shift, [e.mean for e in est], width, yerr=[e.half_width for e in est], capsize=4,
               color=[COLORS[a] for a in acts], alpha=1.0 if key == "one_sign_sample" else 0.45, edgecolor="black",
               label=ctx.chart_text(f"{en} (bar: mean, line: 95% interval)", f"{zh}（柱：均值，线：95% 区间）"))
    ax.set_xticks(range(len(acts)), [ctx.chart_text(f"{a} inputs", f"{a} 输入") for a in acts])
    ax.set_ylim(0, 125)
    ax.set_ylabel(ctx.chart_text("one-sign weight-gradient rows (%)", "同号的权重梯度行（%）"))
    ax.set_title(ctx.chart_text("2nd layer at init, no BN", "第 2 层，初始化时，无 BN"))
    ax.legend(fontsize=7, loc="upper right")


def _chart_speed(ctx, ax, curves):
    for (act, norm), histories in curves.items():
        steps = histories[0].eval_steps
        values = np.array([h.test_accuracy for h in histories]) * 100
        half = np.array([mean_interval(c).half_width for c in values.T]) if len(histories) > 1 else 0 * steps[0]
        ax.plot(steps, values.mean(axis=0), color=COLORS[act], linestyle="--" if norm == "bn" else "-",
                label=ctx.chart_text(f"{act}, norm={norm}", f"{act}，norm={norm}"))
        ax.fill_between(steps, values.mean(axis=0) - half, values.mean(axis=0) + half, color=COLORS[act], alpha=0.15,
                        label=ctx.chart_text(f"{act}, norm={norm}: 95% interval", f"{act}，norm={norm}：95% 区间"))
    ax.axhline(100 * ctx.params["target"], color="black", linestyle=":", label=ctx.chart_text("target", "目标"))
    ax.set_xlabel(ctx.chart_text("training step", "训练步数"))
    ax.set_ylabel(ctx.chart_text("test top-1 (%)", "测试 top-1（%）"))
    ax.set_title(ctx.chart_text("sigmoid vs tanh MLP", "sigmoid 与 tanh MLP"))
    ax.legend(fontsize=6, loc="center right", ncol=2)


def save_chart(ctx, curves):
    """The three panels as ``activation_pitfalls.png``."""
    fig, axes = ctx.figure(3, width=5.0)
    _chart_dying(ctx, axes[0][0])
    _chart_sign(ctx, axes[0][1])
    _chart_speed(ctx, axes[0][2], curves)
    ctx.save_figure(fig, "activation_pitfalls", ctx.tr("dead ReLU units; one-sign gradients; sigmoid vs tanh speed",
                                                       "死亡 ReLU 单元；同号梯度；sigmoid 与 tanh 的训练速度"))
