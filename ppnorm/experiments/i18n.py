"""Chinese for experiment output (``lang: zh``): verdict words, report headings, table headers, chart fonts.

CSV files keep their English column names (they are data); what a reader sees (report.md, console
tables, charts) goes through :func:`header` / :data:`WORDS`. Paddle's English terms stay as they are.
"""
import os

LANGS = ("en", "zh")

VERDICT_ZH = {"confirmed": "成立", "refuted": "不成立", "no effect": "无效应", "inconclusive": "不确定",
              "passed": "通过", "failed": "未通过"}

WORDS = {
    "en": {"question": "Question.", "verdict": "Verdict.", "reproduce": "Reproduce", "notes": "Notes",
           "claims": "Claims", "claim": "claim", "deciding": "deciding number (95% interval)",
           "evidence": "evidence", "seconds": "{seconds:.1f} s on the author's machine ({cpu})",
           "quick": ", quick setting", "power": "Seed counts from the pilot (80 % power at the expected effect; "
                                                          "pilot seeds never decide a verdict)", "checks": "Numerical checks (no seed noise: error against tolerance)",
           "tuning": "Tuned on a validation split of the training data (--tune; tuning seeds never decide a verdict)",
           "protocol": "Verdicts at one-sided α = 2.5 % (the 95 % interval) after Holm's adjustment over this "
                       "experiment's claims (Holm p); p is the raw p-value of the decision. A constant sample is "
                       "decided by the sign rule (p = 0.5^n), never by its zero spread."},
    "zh": {"question": "问题：", "verdict": "结论：", "reproduce": "复现", "notes": "说明",
           "claims": "说法的判定", "claim": "说法", "deciding": "决定性的数字（95% 区间）",
           "evidence": "依据", "seconds": "作者的机器（{cpu}）上 {seconds:.1f} 秒",
           "quick": "，quick 设置", "power": "由预实验（pilot）定的种子数（对预期效应有 80 % 的检验功效；pilot 的种子从不参与判定）",
           "checks": "数值核对（没有种子噪声：误差对容差）",
           "tuning": "在训练数据划出的验证集上调参（--tune；调参用的种子从不参与判定）",
           "protocol": "判定用单侧 α = 2.5 %（即 95% 区间），并经本实验各说法的 Holm 校正（Holm p）；p 是判定所用检验的"
                       "原始 p 值。各次运行完全相同的样本按符号规则判定（p = 0.5^n），不因方差为 0 而成立。"},
}

# A claim's unit: one English spelling for points of accuracy, and its Chinese.
UNITS = {" pts": " points", " pt": " points", " point": " points"}
UNITS_ZH = {" points": " 个百分点", " steps": " 步", " log2": " log2"}


def unit_word(unit, lang):
    """A claim's unit in ``lang`` (" pts" and " pt" are " points")."""
    unit = UNITS.get(unit, unit)
    return UNITS_ZH.get(unit, unit) if lang == "zh" else unit


# Column headers used by several experiments (exact match first, then word by word).
HEADERS_ZH = {
    "seed": "种子", "seeds": "种子数", "norm": "归一化", "batch": "batch 大小", "lr": "学习率", "epoch": "轮",
    "epochs": "轮数", "groups": "组数", "activation": "激活函数", "init": "初始化", "layer": "层",
    "depth": "深度", "mode": "模式", "p": "p", "weight_decay": "weight decay", "dropout": "dropout",
    "error %": "错误率 %", "train error %": "训练错误率 %", "test error %": "测试错误率 %",
    "accuracy": "准确率", "top1": "top-1", "test top1": "测试 top-1", "train top1": "训练 top-1",
    "balanced accuracy": "balanced accuracy", "steps": "步数", "steps to target": "达到目标的步数",
    "same as": "等价于", "channels per group": "每组通道数", "mean": "均值", "std": "标准差",
    "paper": "论文", "gap": "差距", "train/eval gap": "训练/评估差距",
    # report.md's claims table, the verdict table
    "claim": "说法", "verdict": "判定", "deciding": "决定性的数字（95% 区间）", "experiment": "实验",
    "committed": "已提交的判定", "fresh": "新种子的判定", "replicated": "复现后的判定",
    "committed interval": "已提交的 95% 区间", "fresh interval": "新种子的 95% 区间",
    "expected": "预期效应", "test": "检验", "spread": "种子间标准差（80 % 上界）", "seeds needed": "所需种子数",
    "power at configured seeds": "配置的种子数下的功效",
    "result": "结果", "error (tolerance)": "误差（容差）", "interval": "95% 区间", "Holm p": "Holm 校正 p", "BH p": "BH 校正 p",
    # pooling_shift
    "downsample": "下采样", "shift px": "平移（像素）", "unchanged": "不变的非零输出",
    "relative change": "输出的相对变化", "stable predictions": "预测不变的比例",
    # sequence_norm
    "acc mix": "准确率（训练长度）", "acc short": "准确率（更短）", "acc long": "准确率（更长）",
    "max eval gap": "eval 单条/成批最大差", "max pad gap": "train 多补零最大差", "max alone gap": "train 单条/成批最大差",
    # gradient_flow
    "model": "模型", "act": "激活函数", "log10 decay at init": "初始化时每层倍数 log10",
    "factor at init": "初始化时每层倍数", "log10 decay after training": "训练后每层倍数 log10",
    "factor after training": "训练后每层倍数",
    # batchnorm_basics
    "example": "例子", "statistics": "统计量", "max abs diff vs numpy": "与 numpy 的最大绝对差", "first row": "第一行",
    "running_var (Paddle)": "running_var（Paddle）", "PyTorch (unbiased)": "PyTorch（无偏）",
    "PyTorch momentum": "PyTorch 的 momentum", "Paddle momentum": "Paddle 的 momentum",
    "max abs diff Paddle vs PyTorch formula": "Paddle 与 PyTorch 公式的最大绝对差",
    "normalizes with": "归一化所用的统计量", "running stats updated": "滑动统计量是否更新", "the rule says": "规则要求",
    "output err": "输出误差", "mean err": "均值误差", "var err": "方差误差",
    "train output vs numpy (eps)": "训练输出与 numpy 的差（eps）",
    "running_mean vs PyTorch formula (eps)": "running_mean 与 PyTorch 公式的差（eps）",
    "running_var vs biased formula (eps)": "running_var 与有偏方差公式的差（eps）",
    "input shape": "输入形状", "output": "输出", "output == input": "输出 == 输入", "running_mean after": "之后的 running_mean",
    "loss": "损失", "max |BN(x) - x|": "max |BN(x) - x|", "|dx - w| / |w|": "|dx - w| / |w|（与恒等映射梯度的相对差）",
    "expected dx": "应有的 dx", "max |dx - expected|": "max |dx - 应有的 dx|",
    # norm_cost
    "ms per batch (median)": "每个 batch 的毫秒数（中位数）", "time / none": "用时 / 无归一化时的用时",
    # norm_axes
    "averages over": "求统计量的轴", "values per statistic": "每个统计量用到的值数", "number of statistics": "统计量个数",
    "paddle.nn vs numpy over these axes (eps)": "按这些轴用 numpy 与 paddle.nn 的差（eps）", "output err (eps)": "输出误差（eps）",
    "dx err (eps)": "dx 误差（eps）", "dgamma err (eps)": "dgamma 误差（eps）", "dbeta err (eps)": "dbeta 误差（eps）",
    # init_stats
    "case": "情形", "first layer std": "第一层 std", "middle layer std": "中间层 std", "last layer std": "最后一层 std",
    "log2(last/first std)": "log2(最后一层 / 第一层 std)", "saturated % (last layer)": "饱和 %（最后一层，|a| > 0.9）",
    # dropout_modes
    "train output": "训练输出", "eval output": "推理输出", "train formula": "训练公式", "eval formula": "推理公式",
    "masks": "mask 数", "max abs(mean train - eval)": "max |训练均值 - 推理输出|", "standard error": "标准误差",
    "mean train output per x": "每个 x 的训练输出均值", "eval output per x": "每个 x 的推理输出",
    "relative deviation %": "相对偏差 %", "zeroed elements": "置零元素的比例", "fully zeroed channels": "整通道置零的比例",
    "values inside a kept channel all equal": "保留的通道内各值相同", "difference (points)": "差（个百分点）",
    "norm ratio W_down/W_up after dropout": "dropout 之后的权重范数比 W_down/W_up",
    "top1 % downscale (scaled start, lr/(1-p)^2)": "top1 %（downscale，起点缩放，lr/(1-p)^2）",
    "max rel diff W_down*(1-p) vs W_up": "W_down*(1-p) 与 W_up 的最大相对差", "max abs logit difference": "logit 的最大绝对差",
    # precise_bn, residual_vs_plain, dropout_with_bn
    "top1 EMA %": "EMA 统计量 top-1 %", "top1 PreciseBN %": "PreciseBN top-1 %", "gain (points)": "提升（百分点）",
    "network": "网络", "train error % after epoch 1": "第 1 轮后训练错误率 %", "top1 %": "top-1 %",
    "weight decay": "weight decay", "regularizer": "正则化",
    # imbalanced_bn
    "recall of the rare class": "少数类召回率", "positives in training": "训练集正例数", "negatives": "负例数",
    # activation_with_bn
    "final top1 %": "最终 top-1 %", "steps to 95%": "达到 95% 的步数", "reached": "达到目标的种子",
    "pre-act p15/p50/p85 at end": "结束时激活前 p15/p50/p85",
    # norm_position
    "BN before act top1 %": "BN 在激活之前 top-1 %", "BN after act top1 %": "BN 在激活之后 top-1 %",
    "before - after (points)": "之前 - 之后（个百分点）",
    "position": "BN 的位置",
    # batch_size_sweep
    "batch-stats error %": "batch 统计量错误率 %", "paper %": "论文 %",
    # init_sensitivity, activation_pitfalls
    "diverged": "发散的种子", "distinct units": "不同单元数", "dead at init %": "初始化时死亡单元 %",
    "dead after training %": "训练后死亡单元 %", "one-sign per sample %": "单样本同号行 %",
    "one-sign per batch %": "小批量同号行 %",
    # input_scaling, batch_noise, covariate_shift
    "input": "输入", "loss noise": "损失曲线噪声", "test top1 % at equal samples": "相同样本数下测试 top-1 %",
    "CPU s at equal samples": "相同样本数下 CPU 秒数", "n": "n", "D(y) measured": "实测 D(y)",
    "layer 2 input shift": "第 2 层输入的移动", "deep layer input shift": "最深隐藏层输入的移动",
    "test accuracy at equal samples": "相同样本数下测试准确率",
    # style_norm
    "clean %": "干净 %", "train styles %": "训练风格 %", "contrast 3 %": "对比度 3 %", "brightness 0.8 %": "亮度 0.8 %",
    "inverted %": "反色 %", "label task": "风格即标签的任务",
}


def header(column, lang):
    """A table header in ``lang`` (unchanged when no translation is known)."""
    if lang != "zh":
        return column
    return HEADERS_ZH.get(column, column)


def verdict_word(verdict, lang):
    return VERDICT_ZH.get(verdict, verdict) if lang == "zh" else verdict


def _cjk_font_file():
    """A font file with Chinese glyphs: a system Noto/WenQuanYi/SimHei font, or the ``noto-cjk-sans-otc`` package."""
    try:
        import noto_cjk_sans_otc  # pip install -e ".[zh]"
        path = os.path.join(os.path.dirname(noto_cjk_sans_otc.__file__), "NotoSansCJK-Regular.ttc")
        if os.path.isfile(path):
            return path
    except ImportError:
        pass
    from matplotlib import font_manager
    for font in font_manager.fontManager.ttflist:
        if any(key in font.name for key in ("CJK", "WenQuanYi", "SimHei", "Microsoft YaHei", "PingFang")):
            return font.fname
    return None


def use_chinese_font():
    """Make matplotlib draw Chinese; returns False (charts then fall back to English) when no CJK font exists."""
    path = _cjk_font_file()
    if path is None:
        return False
    from matplotlib import font_manager, rcParams
    font_manager.fontManager.addfont(path)
    name = font_manager.FontProperties(fname=path).get_name()
    rcParams["font.sans-serif"] = [name] + [f for f in rcParams["font.sans-serif"] if f != name]
    rcParams["axes.unicode_minus"] = False  # the CJK font may lack U+2212
    return True
