"""Benchmark tables: ppnorm vs paddle.vision.models, norms vs BN, exported vs dygraph, loader vs tensors."""
import csv
import os

from .cases import (ONNXRUNTIME, build_candidate, eval_forward, exported_predictor, make_batch, make_run,
                    temporary_dir)
from .memory import peak_memory_mib
from .timing import side_by_side

COLUMNS = ("model", "implementation", "norm", "batch", "mode", "images_per_s", "peak_mib", "ratio", "ratio_against",
           "relative_diff")


def bench_row(model, implementation, norm, batch, mode, rate, peak=None, ratio=None, against=""):
    return {"model": model, "implementation": implementation, "norm": norm, "batch": batch, "mode": mode,
            "images_per_s": round(rate, 2), "peak_mib": None if peak is None else round(peak, 1),
            "ratio": None if ratio is None else round(ratio, 3), "ratio_against": against, "relative_diff": None}


def _infer_labels(precision):
    """``(implementation, the run its ratio is against, how the row names that run)`` of an infer row."""
    if precision == ONNXRUNTIME:
        return "ppnorm exported (onnxruntime)", "fp32", "ppnorm exported (oneDNN fp32)"
    return f"ppnorm exported (oneDNN {precision})", "eval", "ppnorm dygraph eval"


class Suite:
    """Models x norms x batch sizes x modes; each row's ratio is against a reference timed side by side:
    ppnorm bn against paddle.vision.models, other norms against ppnorm bn, exported inference against
    the same model's dygraph eval, and (``onnx=True``) onnxruntime on that exported model against its
    Paddle Inference fp32 row."""

    def __init__(self, image_size=224, num_classes=1000, warmup=2, repeats=5, threads=1, memory=True,
                 precisions=("fp32",), onnx=False, log=print):
        if onnx and "fp32" not in precisions:
            raise ValueError("the onnxruntime row is a ratio against the Paddle Inference fp32 row: add fp32 "
                             "to --precisions")
        self.image_size, self.num_classes = image_size, num_classes
        self.precisions = tuple(precisions) + ((ONNXRUNTIME,) if onnx else ())
        self.warmup, self.repeats, self.threads, self.memory = warmup, repeats, threads, memory
        self.log = log

    def _peak(self, name, implementation, norm, batch, mode, precision="fp32"):
        if not self.memory:
            return None
        return peak_memory_mib(model=name, implementation=implementation, norm=norm, batch=batch, mode=mode,
                               image_size=self.image_size, num_classes=self.num_classes, warmup=self.warmup,
                               threads=self.threads, precision=precision)

    def dygraph(self, name, candidates, batch, mode):
        """``candidates``: {(implementation, norm): model}; returns one row per candidate."""
        images, labels = make_batch(batch, self.image_size, self.num_classes)
        runs = {key: make_run(model, mode, images, labels, None, self.threads) for key, model in candidates.items()}
        rates = side_by_side(runs, batch, self.warmup, self.repeats)
        reference = rates.get(("paddle.vision", "bn"))
        bn = rates.get(("ppnorm", "bn"))
        rows = []
        for (implementation, norm), rate in rates.items():
            ratio, against = None, ""
            if implementation == "ppnorm" and norm == "bn" and reference:
                ratio, against = rate / reference, "paddle.vision"
            elif implementation == "ppnorm" and norm != "bn" and bn:
                ratio, against = rate / bn, "ppnorm bn"
            rows.append(bench_row(name, implementation, norm, batch, mode, rate,
                             self._peak(name, implementation, norm, batch, mode), ratio, against))
        return rows

    def inference(self, name, norm, model, batch):
        """The exported model (BN folded) in a oneDNN predictor, per precision, vs the same model's dygraph eval."""
        images, _ = make_batch(batch, self.image_size, self.num_classes)
        rows = []
        with temporary_dir() as work_dir:
            runs, diffs = {"eval": eval_forward(model, images)}, {}
            for precision in self.precisions:
                runs[precision], diffs[precision] = exported_predictor(model, images, work_dir, self.threads,
                                                                       precision)
            rates = side_by_side(runs, batch, self.warmup, self.repeats)
        for precision in self.precisions:
            implementation, reference, against = _infer_labels(precision)
            row = bench_row(name, implementation, norm, batch, "infer", rates[precision],
                       self._peak(name, "ppnorm", norm, batch, "infer", precision),
                       rates[precision] / rates[reference], against)
            row["relative_diff"] = diffs[precision]
            rows.append(row)
        return rows

    def run(self, models, norms, batch_sizes, modes):
        rows = []
        for name in models:
            candidates = {("ppnorm", norm): build_candidate(name, "ppnorm", norm, self.num_classes) for norm in norms}
            if "bn" in norms:
                reference = build_candidate(name, "paddle.vision", "bn", self.num_classes)
                if reference is not None:
                    candidates[("paddle.vision", "bn")] = reference
            for batch in batch_sizes:
                for mode in modes:
                    if mode == "infer":
                        new = [row for norm in norms
                               for row in self.inference(name, norm, candidates[("ppnorm", norm)], batch)]
                    else:
                        new = self.dygraph(name, candidates, batch, mode)
                    for row in new:
                        self.log(format_row(row))
                    rows += new
        return rows


def loader_vs_tensors(config, epochs=3, log=print):
    """Train steps fed by the engine's real DataLoader vs the same batches pre-built as tensors.

    Returns a row whose ratio is loader images/s over pre-built images/s (1.0: the loader costs nothing).
    """
    from ..engine.trainer import Trainer

    with temporary_dir() as output_dir, open(os.devnull, "w") as quiet:
        config = dict(config, Global=dict(config["Global"], output_dir=output_dir, use_visualdl=False))
        trainer = Trainer(config, stream=quiet)
        prebuilt = list(trainer.data.batches(0))
        samples = sum(int(batch[1].shape[0]) for batch in prebuilt)

        def through_loader():
            for batch in trainer.data.batches(0):
                trainer.run_step(batch)

        def from_tensors():
            for batch in prebuilt:
                trainer.run_step(batch)

        rates = side_by_side({"loader": through_loader, "tensors": from_tensors}, samples, 1, epochs)
    arch = config["Arch"]["name"]
    dataset = config["DataLoader"]["Train"]["dataset"]["name"]
    batch = config["DataLoader"]["Train"]["batch_size"]
    norm = config["Arch"].get("norm", "bn")
    rows = [bench_row(f"{arch} on {dataset}", "pre-built tensors", norm, batch, "train epoch", rates["tensors"]),
            bench_row(f"{arch} on {dataset}", "real DataLoader", norm, batch, "train epoch", rates["loader"], None,
                      rates["loader"] / rates["tensors"], "pre-built tensors")]
    for row in rows:
        log(format_row(row))
    return rows


def format_row(row):
    ratio = f", {row['ratio']:.3f}x {row['ratio_against']}" if row["ratio"] is not None else ""
    peak = f", peak {row['peak_mib']:.0f} MiB" if row["peak_mib"] is not None else ""
    if row.get("relative_diff") is not None:  # exported logits vs dygraph, relative to the largest logit
        ratio += f", logits within {row['relative_diff']:.1g} (relative)"
    return (f"[Bench] {row['model']} {row['implementation']} {row['norm']} batch {row['batch']} {row['mode']}: "
            f"{row['images_per_s']:.2f} images/s{peak}{ratio}")


def write_tables(rows, output_dir, command):
    """``benchmark.csv`` and ``benchmark.md`` (a Markdown table headed by the command that produced it)."""
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "benchmark.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"`{command}`", "", "| model | implementation | norm | batch | mode | images/s | peak MiB | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        ratio = f"**{row['ratio']:.3f}x** {row['ratio_against']}" if row["ratio"] is not None else ""
        peak = "" if row["peak_mib"] is None else f"{row['peak_mib']:.0f}"
        lines.append(f"| {row['model']} | {row['implementation']} | {row['norm']} | {row['batch']} | {row['mode']} "
                     f"| {row['images_per_s']:.2f} | {peak} | {ratio} |")
    with open(os.path.join(output_dir, "benchmark.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return os.path.join(output_dir, "benchmark.md")
