"""tools/benchmark.py: images/s and peak memory, each as a ratio against a reference timed side by side."""
import argparse
import shlex
import sys

from ..cli import add_runtime_options, omp_threads, positive_int, resolve_device, run_tool
from ..deploy.onnx import require_extra
from ..deploy.predictor import cpu_supports_bf16
from ..engine.config import ConfigError, load_config
from ..engine.run_lock import check_output_dir
from ..models import list_models
from ..nn import NORM_KINDS
from ..engine.threads import use_cpu_threads
from .cases import MODES
from .suite import Suite, loader_vs_tensors, write_tables

CPU_NORMS = [kind for kind in NORM_KINDS if kind != "sync_bn"]  # SyncBatchNorm has no CPU kernel


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "densenet121"], choices=list_models(),
                        metavar="MODEL", help="registered model names (ppnorm.list_models())")
    parser.add_argument("--norms", nargs="+", default=["bn"], choices=CPU_NORMS,
                        help=f"{' '.join(CPU_NORMS)} (gn uses 32 groups)")
    parser.add_argument("--batch_sizes", nargs="+", type=positive_int, default=[8])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"), default=None,
                        help="exported-inference precisions (default: fp32, plus bf16 when the CPU supports it)")
    parser.add_argument("--onnx", action="store_true",
                        help="infer: add onnxruntime on the same exported model (converted by paddle2onnx) as a "
                             "ratio against the Paddle Inference fp32 row (needs pip install -e \".[onnx]\")")
    parser.add_argument("--image_size", type=positive_int, default=224)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed repeats; the median is reported")
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
    return args


def _check_cpu(device):
    if resolve_device(device or "cpu") != "cpu":
        raise ConfigError("tools/benchmark.py times Paddle's CPU kernels only; use --device cpu")


def benchmark_main(argv=None, omp_num_threads=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)

    def run():
        _check_cpu(args.device)
        if args.onnx:
            require_extra("--onnx")
        check_output_dir(args.output_dir, "--output_dir")  # before minutes of timing, not after
        loader_config = None if args.loader_config == "none" else load_config(args.loader_config)  # fail fast
        threads, note = use_cpu_threads(args.cpu_threads, omp_threads(omp_num_threads))
        print(note)
        rows = []
        if args.models:
            precisions = args.precisions or (["fp32", "bf16"] if cpu_supports_bf16() else ["fp32"])
            suite = Suite(args.image_size, 1000, args.warmup, args.repeats, threads, memory=not args.no_memory,
                          precisions=precisions, onnx=args.onnx)
            rows += suite.run(args.models, args.norms, args.batch_sizes, args.modes)
        if loader_config is not None:
            rows += loader_vs_tensors(loader_config, args.loader_epochs)
        command = "python tools/benchmark.py " + " ".join(shlex.quote(a) for a in argv)
        print(f"[Bench] wrote {write_tables(rows, args.output_dir, command.strip())}")
        return 0

    return run_tool("benchmark", run, args.verbose)
