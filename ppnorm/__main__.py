"""``ppnorm COMMAND ...`` and ``python -m ppnorm COMMAND ...``: the six tools of a clone's ``tools/`` folder
(train, eval, export, infer, experiment, benchmark) with the same flags, for an installed package."""
import importlib
import os
import sys

# Each command's entry function, imported only when the command is run (they import the engine).
COMMANDS = {
    "train": ("ppnorm.engine.cli", "train_main", "train a model from a YAML config"),
    "eval": ("ppnorm.engine.cli", "eval_main", "evaluate weights on a config's eval split"),
    "export": ("ppnorm.deploy.cli", "export_main", "export a trained model for Paddle Inference (or ONNX)"),
    "infer": ("ppnorm.deploy.cli", "infer_main", "predict images, folders or .npy files with an exported model"),
    "experiment": ("ppnorm.experiments.cli", "experiment_main", "run an experiment, list them, print verdicts"),
    "benchmark": ("ppnorm.benchmark.cli", "benchmark_main", "time models and inference as ratios"),
}


def usage():
    """The help text: one line per command."""
    from . import __version__
    lines = [f"usage: ppnorm COMMAND [flags]   (ppnorm {__version__}; python -m ppnorm works the same)", "",
             "commands:"]
    lines += [f"  {name:<11} {text}" for name, (_, _, text) in COMMANDS.items()]
    lines += ["", "ppnorm COMMAND -h lists a command's flags; ppnorm train --list-configs lists the shipped configs,",
              "e.g. ppnorm train -c digits/resnet20"]
    return "\n".join(lines)


def main(argv=None, omp_num_threads=None):
    """Run ``argv[0]`` (a command) with the rest of ``argv``; its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--list-configs"]:  # the same list every command gives
        argv = ["train", "--list-configs"]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2  # no command: a usage error, as argparse tools report it
    if argv[0] in ("-V", "--version"):
        from . import __version__
        print(f"ppnorm {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}; give one of: {', '.join(COMMANDS)} (ppnorm -h)", file=sys.stderr)
        return 2
    module, function, _ = COMMANDS[argv[0]]
    sys.argv[0] = f"ppnorm {argv[0]}"  # argparse's usage and error lines name the command
    from .cli import run_as_command
    if omp_num_threads is None:
        from . import USER_OMP_NUM_THREADS
        omp_num_threads = USER_OMP_NUM_THREADS
    run_as_command()  # ppnorm's own messages, and the commands they suggest, name `ppnorm <tool>` too
    try:
        return getattr(importlib.import_module(module), function)(argv[1:], omp_num_threads=omp_num_threads)
    finally:
        run_as_command(False)


if __name__ == "__main__":
    sys.exit(main())
