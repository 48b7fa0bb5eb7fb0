"""Chinese for experiment output (``lang: zh``): verdict words, report headings, table headers, chart fonts.

CSV files keep their English column names (they are data); what a reader sees (report.md, console
tables, charts) goes through :func:`header` / :data:`WORDS`. Paddle's English terms stay as they are.
"""
import os

LANGS = ("en", "zh")

VERDICT_ZH = {"confirmed": "成立", "refuted": "不成立", "inconclusive": "不确定"}

WORDS = {
    "en": {"question": "Question.", "verdict": "Verdict.", "reproduce": "Reproduce", "notes": "Notes",
           "claims": "Claims", "claim": "claim", "deciding": "deciding number (95% interval)",
           "evidence": "evidence", "seconds": "{seconds:.1f} s on the author's machine ({cpu})",
           "quick": ", quick setting"},
    "zh": {"question": "问题：", "verdict": "结论：", "reproduce": "复现", "notes": "说明",
           "claims": "说法的判定", "claim": "说法", "deciding": "决定性的数字（95% 区间）",
           "evidence": "依据", "seconds": "作者的机器（{cpu}）上 {seconds:.1f} 秒",
           "quick": "，quick 设置"},
}

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
    # imbalanced_bn
    "recall of the rare class": "少数类召回率", "positives in training": "训练集正例数", "negatives": "负例数",
    # activation_with_bn
    "final top1 %": "最终 top-1 %", "steps to 95%": "达到 95% 的步数", "reached": "达到目标的种子",
    "pre-act p15/p50/p85 at end": "结束时激活前 p15/p50/p85",
    # batch_size_sweep
    "batch-stats error %": "batch 统计量错误率 %", "paper %": "论文 %",
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
