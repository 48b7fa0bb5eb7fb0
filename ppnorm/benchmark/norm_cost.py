"""What normalization costs: one model with each norm (BN, none, GN, LN, IN), its train step, dygraph eval and
exported inference (BN folded into the conv) timed in alternation in one process, as ratios against no norm."""
import math
import os
import statistics
import time
from dataclasses import dataclass

from ..models import build_model, list_models
from ..nn import is_batch_norm
from .cases import MODES, make_batch, make_run, ppnorm_model, temporary_dir
from .suite import bench_row, format_row
from .timing import timed_repeats

NORMS = ("bn", "none", "gn", "ln", "in")
REFERENCE = "none"  # every ratio is against the same model without normalization
DEFAULT_CASES = ("resnet20:8:32", "resnet20:32:32", "resnet50:224:8")
CIFAR_CLASSES, IMAGENET_CLASSES = 10, 1000
# "cpu": this process's CPU time, which leaves out waiting for a core on a shared machine (use with 1 thread)
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


@dataclass(frozen=True)
class Case:
    """A model at one input size and batch: ``resnet20:32:32`` is ResNet-20 on 32x32 images, batch 32."""

    model: str
    image_size: int
    batch: int

    @property
    def label(self):
        return f"{self.model} {self.image_size}x{self.image_size}"

    @property
    def num_classes(self):
        return IMAGENET_CLASSES if self.image_size >= 64 else CIFAR_CLASSES

    def __str__(self):
        return f"{self.model}:{self.image_size}:{self.batch}"


def parse_case(text):
    """``"MODEL:SIZE:BATCH"`` -> :class:`Case` (a ``ValueError`` in one line when it is not one)."""
    parts = str(text).split(":")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts[1:]):
        raise ValueError(f"a norm-cost case is MODEL:SIZE:BATCH, e.g. resnet20:32:32; got {text!r}")
    if parts[0] not in list_models():
        raise ValueError(f"unknown model {parts[0]!r} in norm-cost case {text!r} (ppnorm.list_models())")
    return Case(parts[0], int(parts[1]), int(parts[2]))


def gn_groups(model, preferred=32):
    """GroupNorm's groups for ``model``: the most, up to ``preferred``, that divide every normalized width and
    leave at least 2 channels per group (resnet20, widths 16/32/64: 8; resnet50, from 64: 32)."""
    widths = [int(layer.weight.shape[0]) for layer in build_model(model, norm="bn").sublayers() if is_batch_norm(layer)]
    common = math.gcd(*widths)
    return max(g for g in range(1, preferred + 1) if common % g == 0 and min(widths) // g >= 2)


def case_models(case, norms):
    """``{norm: model}``: the case's model built once per norm (GN with :func:`gn_groups` groups)."""
    groups = gn_groups(case.model) if "gn" in norms else None  # gn:G gives its own
    return {norm: ppnorm_model(case.model, norm, case.num_classes, groups) for norm in norms}


def check_norms(norms):
    if REFERENCE not in norms or len(set(norms)) < 2:
        raise ValueError(f"norm cost needs '{REFERENCE}' (the reference) and at least one norm; got {list(norms)}")


def time_case(case, norms, modes, warmup, repeats, threads, min_seconds=0.0, clock="cpu", done=None):
    """``{mode: {norm: [seconds per batch, one per alternating round]}}`` for ``case`` on ``clock`` (see
    :data:`CLOCKS`); ``done(mode, seconds)`` after each mode. ``infer`` times the ``paddle.jit.save``-exported
    model (BN folded into the conv) in a oneDNN predictor."""
    check_norms(norms)
    models = case_models(case, norms)
    images, labels = make_batch(case.batch, case.image_size, case.num_classes)
    timings = {}
    with temporary_dir() as work_dir:
        for mode in modes:
            runs = {}
            for norm, model in models.items():
                os.makedirs(os.path.join(work_dir, norm), exist_ok=True)
                runs[norm] = make_run(model, mode, images, labels, os.path.join(work_dir, norm), threads)
            timings[mode] = timed_repeats(runs, warmup, repeats, min_seconds, CLOCKS[clock])
            if done is not None:
                done(mode, timings[mode])
    return timings


def time_ratios(seconds, norm, reference=REFERENCE):
    """Per-round ratios ``seconds[norm][i] / seconds[reference][i]`` (rounds pair: they were timed together)."""
    if len(seconds[norm]) != len(seconds[reference]):
        raise ValueError(f"{norm} and {reference} have {len(seconds[norm])} and {len(seconds[reference])} rounds")
    return [a / b for a, b in zip(seconds[norm], seconds[reference])]


def _implementation(mode, norm):
    if mode != "infer":
        return "ppnorm"
    return "ppnorm exported (oneDNN fp32, BN folded)" if norm == "bn" else "ppnorm exported (oneDNN fp32)"


def cost_rows(case, timings):
    """Benchmark-table rows: images/s from the median seconds, ratio against the no-norm model's images/s."""
    rows = []
    for mode, seconds in timings.items():
        rates = {norm: case.batch / statistics.median(values) for norm, values in seconds.items()}
        for norm, rate in rates.items():
            ratio = None if norm == REFERENCE else rate / rates[REFERENCE]
            rows.append(bench_row(case.label, _implementation(mode, norm), norm, case.batch, mode, rate, None, ratio,
                                  f"ppnorm {REFERENCE}" if ratio is not None else ""))
    return rows


def norm_cost_rows(cases, norms=NORMS, modes=MODES, warmup=2, repeats=5, threads=1, min_seconds=0.2, clock="cpu",
                   log=print):
    """tools/benchmark.py --norm_cost: the rows of every case, each logged as it is measured."""
    rows = []
    for case in cases:
        def done(mode, seconds, case=case):
            for row in cost_rows(case, {mode: seconds}):
                log(format_row(row))
        rows += cost_rows(case, time_case(case, norms, modes, warmup, repeats, threads, min_seconds, clock, done))
    return rows
