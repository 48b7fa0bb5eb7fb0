"""tools/benchmark.py: images/s and peak memory, each as a ratio against a reference timed side by side."""
import argparse
import os
import shlex
import sys

from ..cli import (add_runtime_options, omp_threads, positive_int, reader_may_leave, resolve_device, run_tool,
                   tool_command)
from ..deploy.onnx import require_extra
from ..deploy.predictor import cpu_supports_bf16
from ..engine.config import ConfigError, load_config
from ..engine.run_lock import check_output_dir
from ..models import list_models
from ..nn import NORM_KINDS
from ..engine.threads import use_cpu_threads
from .cases import MODES, check_norms_fit
from .norm_cost import CLOCKS, DEFAULT_CASES, NORMS, check_norms, norm_cost_rows, parse_case
from .suite import Suite, loader_vs_tensors, write_tables
from .trainer_cost import trainer_vs_bare

MAIN_CONFIG = "configs/digits/resnet20.yaml"  # the main job (README's first command)
CPU_NORMS = [kind for kind in NORM_KINDS if kind != "sync_bn"]  # SyncBatchNorm has no CPU kernel


def _case(text):
    try:
        return parse_case(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _norm(text):
    """``--norms`` values: a norm kind, or ``gn:G`` for GroupNorm with G groups."""
    kind, colon, groups = text.partition(":")
    if kind not in CPU_NORMS:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(CPU_NORMS)}; gn:G "
                                         f"sets GroupNorm's groups)")
    if colon and (kind != "gn" or not groups.isdigit() or int(groups) < 1):
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (only gn takes a group count, as gn:G with G "
                                         f"an integer >= 1, e.g. gn:8)")
    return f"gn:{int(groups)}" if colon else kind


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "densenet121"], choices=list_models(),
                        metavar="MODEL", help="registered model names (ppnorm.list_models())")
    parser.add_argument("--norms", nargs="+", default=None, type=_norm, metavar="NORM",
                        help=f"{' '.join(CPU_NORMS)} (default: bn; with --norm_cost all but sync_bn); gn:G sets "
                             "GroupNorm's groups (gn alone: 32, with --norm_cost the most up to 32 that fit the model)")
    parser.add_argument("--norm_cost", nargs="*", type=_case, metavar="MODEL:SIZE:BATCH", default=None,
                        help="instead of the model suite: what normalization costs, each norm's train step, dygraph "
                             "eval and exported inference (BN folded) as a ratio against the same model without "
                             f"norm (default cases: {' '.join(DEFAULT_CASES)}; no memory, fp32 only)")
    parser.add_argument("--trainer", nargs="?", const=MAIN_CONFIG, default=None, metavar="CONFIG",
                        help="instead of the model suite: CONFIG (default: the main job, " + MAIN_CONFIG + ") trained "
                             "through the Trainer with its default hooks vs a bare Paddle loop with the same model, "
                             "data, optimizer and schedule, alternating in this process (--repeats, default 3)")
    parser.add_argument("--trainer_epochs", type=positive_int, default=None,
                        help="--trainer: train this many epochs per run instead of the config's")
    parser.add_argument("--min_sample_seconds", type=float, default=0.2,
                        help="--norm_cost: repeat a call within each timed sample to last about this long")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu",
                        help="--norm_cost: cpu = this process's CPU time (images per CPU second; leaves out waiting "
                             "for a core on a shared machine, use with --cpu_threads 1), wall = elapsed time")
    parser.add_argument("--batch_sizes", nargs="+", type=positive_int, default=[8])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"), default=None,
                        help="exported-inference precisions (default: fp32, plus bf16 when the CPU supports it)")
    parser.add_argument("--onnx", action="store_true",
                        help="infer: add onnxruntime on the same exported model (converted by paddle2onnx) as a "
                             "ratio against the Paddle Inference fp32 row (needs pip install -e \".[onnx]\")")
    parser.add_argument("--image_size", type=positive_int, default=224)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="timed repeats; the median is reported (default 5, with --trainer 3)")
    parser.add_argument("--loader_config", default="configs/digits/resnet20.yaml",
                        help="config whose training loop is timed through its DataLoader vs pre-built tensors "
                             "('none' to skip)")
    parser.add_argument("--loader_epochs", type=positive_int, default=3, help="timed epochs per side of the loader check")
    parser.add_argument("--no_memory", action="store_true",
                        help="skip the peak-memory measurement (one fresh process per case)")
    add_runtime_options(parser, "benchmark.csv and benchmark.md go here (default: output/benchmark)")
    parser.add_argument("--output", dest="output_dir", help=argparse.SUPPRESS)  # the old name of --output_dir
    args = parser.parse_args(argv)
    args.output_dir = args.output_dir or "output/benchmark"
    args.repeats = args.repeats or (3 if args.trainer else 5)
    return args


def _check_cpu(device):
    if resolve_device(device or "cpu") != "cpu":
        raise ConfigError("tools/benchmark.py times Paddle's CPU kernels only; use --device cpu")


@reader_may_leave
def benchmark_main(argv=None, omp_num_threads=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)

    def run():
        _check_cpu(args.device)
        if args.onnx:
            require_extra("--onnx")
        check_output_dir(args.output_dir, "--output_dir")  # before minutes of timing, not after
        _check_norms_fit(args)
        skip_loader = args.loader_config == "none" or args.norm_cost is not None or args.trainer is not None
        loader_config = None if skip_loader else load_config(args.loader_config)  # fail fast
        trainer_config = None if args.trainer is None else load_config(args.trainer)
        threads, note = use_cpu_threads(args.cpu_threads, omp_threads(omp_num_threads))
        print(note)
        if trainer_config is not None:
            print(_load_line("before"))
            rows = trainer_vs_bare(trainer_config, args.trainer_epochs, args.repeats)
            print(_load_line("after"))
        elif args.norm_cost is not None:
            rows = _norm_cost(args, threads)
        else:
            rows = _suite(args, loader_config, threads)
        command = tool_command("benchmark") + " " + " ".join(shlex.quote(a) for a in argv)
        print(f"[Bench] wrote {write_tables(rows, args.output_dir, command.strip())}")
        return 0

    return run_tool("benchmark", run, args.verbose)


def _load_line(when):
    one, five, fifteen = os.getloadavg()
    return f"[Bench] load average {when}: {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def _check_norms_fit(args):
    """gn:G whose groups do not divide a model's channels: one line before any timing."""
    if args.norm_cost is not None:
        check_norms_fit(sorted({case.model for case in args.norm_cost or map(parse_case, DEFAULT_CASES)}),
                        [n for n in args.norms or [] if ":" in n])
    else:
        check_norms_fit(args.models, args.norms or [])


def _norm_cost(args, threads):
    norms = args.norms or list(NORMS)
    check_norms(norms)
    print(_load_line("before"))
    rows = norm_cost_rows(args.norm_cost or [parse_case(c) for c in DEFAULT_CASES], norms, args.modes, args.warmup,
                          args.repeats, threads, args.min_sample_seconds, args.clock)
    print(_load_line("after"))
    return rows


def _suite(args, loader_config, threads):
    rows = []
    if args.models:
        precisions = args.precisions or (["fp32", "bf16"] if cpu_supports_bf16() else ["fp32"])
        suite = Suite(args.image_size, 1000, args.warmup, args.repeats, threads, memory=not args.no_memory,
                      precisions=precisions, onnx=args.onnx)
        rows += suite.run(args.models, args.norms or ["bn"], args.batch_sizes, args.modes)
    if loader_config is not None:
        rows += loader_vs_tensors(loader_config, args.loader_epochs)
    return rows
