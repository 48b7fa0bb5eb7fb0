"""python tools/docs_numbers.py run NAME [NAME ...] | render [--check]: the measured numbers of the user docs.

``run`` executes a recipe (the documented commands, each in a fresh folder that links the checkout's configs/ and
tools/) and writes ``docs/results/NAME.json``: the commands, the date, the CPU (``lscpu``'s model name), the
Paddle version, the load average around the run, and one row per command (top-1 and training time from the
``[Done]`` line, CPU time of the child process; or the rows of ``benchmark.csv``). ``render`` rewrites every
marked region of the docs, ``<!-- numbers:NAME -->`` ... ``<!-- /numbers -->``, from the committed results file;
``--check`` only reports the regions that differ (a typed edit inside a region is one of them).
"""
import csv
import datetime
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
DOCS = [ROOT / "README.md", ROOT / "README_cn.md", *sorted((ROOT / "docs").rglob("*.md"))]
REGION = re.compile(r"(<!-- numbers:([\w.]+) -->\n)(.*?)(<!-- /numbers -->)", re.S)
DONE = re.compile(r"\[Done\] top1 ([\d.]+) on (\d+) eval samples .*?; (\d+) epochs, training time ([\d.]+)s")
LOG_LINES = ("[Train][Epoch", "[Eval][Epoch", "[Eval][Avg]", "[Done]")  # the last of each is kept
KEPT_LINES = ("[Export]", "[Infer]", "eval #", "[Bench] the Trainer's")  # all of these
TRAIN = "python tools/train.py -c configs/"
ONE = "OMP_NUM_THREADS=1 "
R20 = f"{TRAIN}digits/resnet20.yaml"
BENCH = "python tools/benchmark.py"
# recipe -> (label, command) in the order they run; a training gets its own --output_dir unless the recipe's
# commands read each other's output (own_data: eval reads the first training's run folder)
RECIPES = {
    "mainjob": [("ResNet-20 / bn", R20)],
    "mainjob_seeds": [("seed 0", f"{ONE}{R20} -o Global.cpu_threads=1")] + [
        (f"seed {s}", f"{ONE}{R20} -o Global.cpu_threads=1 Global.seed={s}") for s in range(1, 5)] + [
        ("旧默认（30 epoch、cosine、无 EMA），seed 0",
         f"{ONE}{R20} -o Global.cpu_threads=1 Global.epochs=30 Optimizer.lr.name=Cosine EMA.decay=0")],
    "norm_switch": [("ResNet-20 / bn", R20), ("ResNet-20 / gn(8)", f"{R20} -o Arch.norm=gn Arch.norm_options.groups=8"),
                    ("ResNet-20 / in", f"{R20} -o Arch.norm=in"), ("ResNet-20 / ln", f"{R20} -o Arch.norm=ln"),
                    ("ResNet-20 / 无归一化", f"{R20} -o Arch.norm=none"),
                    ("ResNet-18 (cifar stem) / bn", f"{TRAIN}digits/resnet18.yaml"),
                    ("DenseNet-small / bn", f"{TRAIN}digits/densenet_small.yaml")],
    "seq_conv1d": [(label, f"{ONE}{TRAIN}sequence/seq_conv1d.yaml -o Arch.norm={label.split('`')[1]}") for label in (
        "`ln`（默认）", "`bn`（统计量计入补零）", "`bn_masked`（只统计有效位置）", "`none`")],
    "own_data": [("data", "python -m ppnorm.data.example_images data/my_images"),
                 ("image_folder", f"{TRAIN}custom/image_folder.yaml"),
                 ("file_list", f"{TRAIN}custom/file_list.yaml -o Global.epochs=5"),
                 ("eval", "python tools/eval.py -c output/custom_image_folder/config.yaml "
                          "-o Global.pretrained_model=output/custom_image_folder/best_model")],
    "deploy": [("train", R20),
               ("export", "python tools/export.py -c output/digits_resnet20/config.yaml "
                          "-o Global.pretrained_model=output/digits_resnet20/best_model"),
               ("infer", "python tools/infer.py --model_dir output/digits_resnet20/inference -c configs/digits/resnet20.yaml"),
               ("export onnx", "python tools/export.py -c configs/digits/resnet20.yaml -o Global.pretrained_model="
                               "output/digits_resnet20/best_model --format onnx --output_dir "
                               "output/digits_resnet20/inference_onnx"),
               ("infer onnx", "python tools/infer.py --model_dir output/digits_resnet20/inference_onnx --backend "
                              "onnxruntime -c configs/digits/resnet20.yaml --show 2")],
    "benchmark_main": [("", f"{BENCH} --output_dir output/benchmark")],
    "benchmark_norms": [("", f"{BENCH} --models resnet50 --norms bn gn ln in --modes train eval infer --precisions "
                             "fp32 --loader_config none --output_dir output/benchmark_norms")],
    "benchmark_trainer": [("", f"{BENCH} --trainer --repeats 5 --output_dir output/benchmark_trainer")],
    "benchmark_norm_cost": [("", f"{ONE}{BENCH} --norm_cost --repeats 5 --warmup 2 --cpu_threads 1 "
                                 "--output_dir output/benchmark_norm_cost")],
}
SHARED_OUTPUT = {"own_data", "deploy"}
# how far a fresh run's top-1 may be from the committed one (thread count and CPU change float sums, so a borderline
# image can flip; the main job's seeds 1-4 moved by 1-3 of 360 images from an Intel Xeon to an AMD EPYC, seed 0 and
# the own-data runs not at all); rendered into the docs next to the numbers, and what tests/test_docs_numbers.py allows
TOLERANCE = {"own_data": 1 / 30, "mainjob": 3 / 360}


def cpu_model():
    """``lscpu``'s model name (what the docs call the CPU), or the platform's processor string without lscpu."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    found = re.search(r"^Model name:\s*(.+)$", out, re.M)
    return found.group(1).strip() if found else platform.processor()


def _load():
    return [round(x, 2) for x in os.getloadavg()]


def _run_one(name, index, command, folder):
    """Run ``command`` in ``folder``; its row: the [Done] / [Eval][Avg] numbers and the child's CPU seconds."""
    words = shlex.split(command)
    env = dict(w.split("=", 1) for w in words if re.match(r"[A-Z_]+=", w))
    argv = [sys.executable] + words[len(env) + 1:]
    if "tools/train.py" in command and name not in SHARED_OUTPUT and index > 0:  # the first: its config's dir
        argv += ["--output_dir", f"output/run{index}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(argv, cwd=folder, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=7200)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{command} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    row = {"command": command,
           "cpu_seconds": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1)}
    lines = (result.stdout + result.stderr).split("\n")
    last = {kind: line for line in lines for kind in LOG_LINES if line.startswith(kind)}
    row["lines"] = [last[kind] for kind in LOG_LINES if kind in last] + [
        line.replace(str(folder), "...") for line in lines if line.startswith(KEPT_LINES)]
    done = DONE.search("\n".join(lines))
    if done:
        row.update(top1=float(done.group(1)), samples=int(done.group(2)), epochs=int(done.group(3)),
                   train_seconds=float(done.group(4)))
    return row


def _bench_rows(folder, command):
    with open(folder / shlex.split(command)[-1] / "benchmark.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def measure(name, folder, count=None):
    """The rows of recipe ``name`` (its first ``count`` commands) run in ``folder``, which gets links to the
    checkout's configs/ and tools/."""
    for link in ("configs", "tools"):
        if not (folder / link).exists():
            (folder / link).symlink_to(ROOT / link)
    rows = []
    for index, (label, command) in enumerate(RECIPES[name][:count]):
        row = _run_one(name, index, command, folder)
        if BENCH in command:
            rows += [{**r, "command": command} for r in _bench_rows(folder, command)]
            if row["lines"]:  # e.g. the Trainer's hooks and their shares of the time
                rows[-1]["lines"] = row["lines"]
        else:
            rows.append({"label": label, **row})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def run(name):
    """Run recipe ``name`` in a fresh folder and write ``docs/results/<name>.json``."""
    import paddle

    record = {"recipe": name, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "cpu": cpu_model(), "cores": os.cpu_count(), "paddle": paddle.__version__, "load_before": _load()}
    with tempfile.TemporaryDirectory(prefix=f"docs_numbers_{name}_") as tmp:
        rows = measure(name, Path(tmp))
    record.update(load_after=_load(), rows=rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def load(name):
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def source_line(record):
    """Where a region's numbers come from: the results file, when, on which CPU, under what load."""
    return (f"（`docs/results/{record['recipe']}.json`，`python tools/docs_numbers.py run {record['recipe']}` 于 "
            f"{record['date']} 生成：`lscpu` 型号 {record['cpu']}，{record['cores']} 核，与其他任务共用"
            f"（load average 开始 {record['load_before'][0]:.2f}、结束 {record['load_after'][0]:.2f}），"
            f"paddlepaddle {record['paddle']}）")


def _pct(value):
    return f"{100 * value:.2f}%"


def tolerance_note(name):
    """The rerun tolerance of recipe ``name`` in the docs' words."""
    samples = round(1 / TOLERANCE[name]) if name == "own_data" else 360
    return (f"重跑同一命令（线程数或 CPU 不同），top-1 允许相差 {100 * TOLERANCE[name]:.2f} 个百分点"
            f"（{samples} 张评估图中 {round(TOLERANCE[name] * samples)} 张）")


def _label(record, row):
    """The recipe's label of a row's command (what the command trains)."""
    return {command: label for label, command in RECIPES[record["recipe"]]}[row["command"]]


def _runs_table(record, heads, cells):
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(cells({**row, "label": _label(record, row)})) + " |" for row in record["rows"]]
    note = f"；{tolerance_note(record['recipe'])}" if record["recipe"] in TOLERANCE else ""
    return lines + ["", source_line(record) + note]


def _mainjob_seeds(record):
    return _runs_table(record, ["命令", "", "top-1（EMA 权重）", "CPU 时间"], lambda r: [
        f"`{r['command']}`", r["label"], _pct(r["top1"]), f"{r['cpu_seconds']:.1f} 秒"])


def _norm_switch(record):
    return _runs_table(record, ["命令", "模型 / 归一化", "轮数", "top-1", "训练用时（墙钟）", "CPU 时间"], lambda r: [
        f"`{r['command']}`", r["label"], str(r["epochs"]), _pct(r["top1"]), f"{r['train_seconds']:.1f} 秒",
        f"{r['cpu_seconds']:.1f} 秒"])


def _seq_conv1d(record):
    return _runs_table(record, ["`Arch.norm`", "top-1", "CPU 时间"], lambda r: [
        r["label"], f"{r['top1']:.4f}", f"{r['cpu_seconds']:.1f} 秒"])


def _own_data(record):
    rows = {row["label"]: row for row in record["rows"]}
    seconds = "、".join(f"{rows[k]['epochs']} 轮 {rows[k]['cpu_seconds']:.1f} 秒" for k in ("image_folder", "file_list"))
    lines = [f"<!-- not-run: 训练的 CPU 时间 {seconds}（2 核 {record['cpu']}，{record['date'][:10]}，"
             "tests/test_docs_numbers.py 重跑并核对 top-1）；最后一条命令故意失败 -->", "```bash"]
    for key in ("image_folder", "file_list", "eval"):
        lines += [rows[key]["command"]] + [f"# {line}" for line in rows[key]["lines"]]
    lines += [f"{rows['image_folder']['command']}     # 再训练一次到同一个目录",
              "# error: Global.output_dir=output/custom_image_folder already holds another run's checkpoints "
              "(latest, best_model); resume it with -o Global.checkpoints=output/custom_image_folder/latest, "
              "replace it with -o Global.overwrite=true, or train into another --output_dir", "```", "",
              f"{source_line(record)}；{tolerance_note('own_data')}。"]
    return lines


def _benchmark(record):
    """The table ``benchmark.md`` of the run, headed by its command."""
    lines = [source_line(record), "", f"`{record['rows'][0]['command']}`", "",
             "| model | implementation | norm | batch | mode | images/s | peak MiB | ratio |", "|---|---|---|---|---|---|---|---|"]
    for row in record["rows"]:
        ratio = f"**{float(row['ratio']):.3f}x** {row['ratio_against']}" if row.get("ratio") else ""
        peak = f"{float(row['peak_mib']):.0f}" if row.get("peak_mib") else ""
        lines.append(f"| {row['model']} | {row['implementation']} | {row['norm']} | {row['batch']} | {row['mode']} "
                     f"| {float(row['images_per_s']):.2f} | {peak} | {ratio} |")
    notes = [line for row in record["rows"] for line in row.get("lines", [])]
    return lines + (["", "```", *notes, "```"] if notes else [])


def _main_job_log(record):
    """The console lines that end the main job, as the quick start shows them, and where they come from."""
    return ["```", *record["rows"][0]["lines"], "```", "", source_line(record) + f"；{tolerance_note('mainjob')}。"]


def _commands_block(record, labels, marker, first=()):
    """A ```bash block of the recipe's commands named by ``labels``, each followed by its output as comments."""
    rows = {row["label"]: row for row in record["rows"]}
    lines = [f"<!-- not-run: {marker.format(cpu=record['cpu'], date=record['date'][:10])} -->", "```bash", *first]
    for label in labels:
        shown = [line for line in rows[label]["lines"] if not re.match(r"eval #([2-9]|\d\d)", line)]  # two
        lines += [rows[label]["command"]] + [f"# {line}" for line in shown]
    return lines + ["```", "", source_line(record)]


def _deploy_paddle(record):
    return _commands_block(record, ["export", "infer"], "需要先训练出 output/digits_resnet20（约 35 秒 CPU 时间，2 核 {cpu}）；"
                           "tests/test_deploy.py 导出并推理同样的模型")


def _deploy_onnx(record):
    return _commands_block(record, ["export onnx", "infer onnx"], "安装 onnx extra 需要网络，并要先训练出 "
                           "output/digits_resnet20（约 35 秒 CPU 时间，2 核 {cpu}）；tests/test_onnx.py 运行同样的导出与推理",
                           ['pip install -e ".[onnx]"   # 在 ppnorm 目录里；装 paddle2onnx==2.1.0 与 onnxruntime'])


RENDER = {"mainjob_seeds": _mainjob_seeds, "norm_switch": _norm_switch, "seq_conv1d": _seq_conv1d,
          "own_data": _own_data, "benchmark_main": _benchmark, "benchmark_norms": _benchmark,
          "benchmark_norm_cost": _benchmark, "benchmark_trainer": _benchmark, "mainjob": _main_job_log,
          "deploy.paddle": _deploy_paddle, "deploy.onnx": _deploy_onnx}
INLINE = re.compile(r"(<!-- n:(\w+):(\d+):(\w+)(%?) -->)(.*?)(<!-- /n -->)")


def _inline(match):
    value = load(match.group(2))["rows"][int(match.group(3))][match.group(4)]
    formats = {"top1": "{:.4f}", "ratio": "{:.3f}x", "images_per_s": "{:.2f}"}
    text = _pct(value) if match.group(5) else formats.get(match.group(4), "{:.1f}").format(float(value))
    return match.group(1) + text + match.group(7)


def _region(match):
    """A region ``NAME`` or ``NAME.VIEW``: rendered by ``RENDER[...]`` from ``docs/results/NAME.json``."""
    name = match.group(2)
    return match.group(1) + "\n".join(RENDER[name](load(name.split(".")[0]))) + "\n" + match.group(4)


def rendered(text):
    """``text`` with every region re-rendered from its results file (FileNotFoundError: a region without one)."""
    return INLINE.sub(_inline, REGION.sub(_region, text))


def stale_docs():
    """The docs whose regions differ from what their results files render, or that have a region without one."""
    stale = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        try:
            if rendered(text) != text:
                stale.append(path)
        except FileNotFoundError:
            stale.append(path)
    return stale


def render():
    for path in stale_docs():
        try:
            path.write_text(rendered(path.read_text(encoding="utf-8")), encoding="utf-8")
            print(f"rendered {path.relative_to(ROOT)}")
        except FileNotFoundError as error:
            print(f"{path.relative_to(ROOT)}: left as it is, no results file {error.filename}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        for recipe in sys.argv[2:]:
            print(f"wrote {run(recipe)}")
    elif sys.argv[1:] == ["render", "--check"]:
        stale = stale_docs()
        print("\n".join(f"{p.relative_to(ROOT)}: differs from docs/results (run: python tools/docs_numbers.py "
                        "render)" for p in stale) or "every numbers region matches docs/results")
        sys.exit(1 if stale else 0)
    elif sys.argv[1:] == ["render"]:
        render()
    else:
        sys.exit(__doc__)
