"""Command-line entry points behind tools/train.py and tools/eval.py, and the config flags they share with export."""
import argparse

from ..cli import (add_config_options, add_runtime_options, omp_threads, parse, reader_may_leave, resolve_device,
                   run_tool)
from ..data import build_dataloader, summary_line
from ..signals import Stopped
from .builder import input_layout, model_from_config
from .classes import align_eval_data
from .config import SCHEMA, ConfigError, describe_schema, load_config
from .distributed import setup_device
from .evaluator import evaluate
from .hooks import resume_note
from .loop import INTERRUPTED
from .run_lock import RunLockError
from .trainer import Trainer, TrainingError


class _HelpConfig(argparse.Action):
    """``--help-config``: every config key with its type, limits, default and help, then exit."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="list every config key (type, limits, default, meaning) and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print("\n".join(describe_schema(SCHEMA)))
        parser.exit()


def config_parser(description, output_help=None):
    """A parser with ``-c/-o``, ``--help-config`` and the shared runtime flags."""
    parser = argparse.ArgumentParser(description=description)
    add_config_options(parser)
    parser.add_argument("--help-config", action=_HelpConfig)
    add_runtime_options(parser, output_help)
    return parser


def flag_overrides(args, output_key="Global.output_dir"):
    """The ``-o`` overrides followed by what ``--device/--cpu_threads/--output_dir`` set (flags win)."""
    overrides = list(args.override)
    if args.device:
        overrides.append(f"Global.device={resolve_device(args.device)}")
    if args.cpu_threads:
        overrides.append(f"Global.cpu_threads={args.cpu_threads}")
    if getattr(args, "output_dir", None):
        overrides.append(f"{output_key}={args.output_dir}")
    return overrides


def config_from_args(args, omp_num_threads=None, output_key="Global.output_dir"):
    """Load ``-c`` with every override; ``OMP_NUM_THREADS`` (read before paddle was imported) fills an unset
    ``Global.cpu_threads``."""
    config = load_config(args.config, flag_overrides(args, output_key))
    if config["Global"]["cpu_threads"] is None:
        config["Global"]["cpu_threads"] = omp_threads(omp_num_threads)
    return config


def print_summary(dataset, split):
    """Print the ``[Data]`` line of a data set read from files (what was read, what was skipped)."""
    line = summary_line(dataset, split)
    if line:
        print(line, flush=True)


@reader_may_leave
def train_main(argv=None, omp_num_threads=None):
    args = parse(config_parser("Train a ppnorm model from a YAML config.",
                               "where checkpoints and logs go (Global.output_dir)"), argv)

    def run():
        trainer = Trainer(config_from_args(args, omp_num_threads), verbose=args.verbose)
        trainer.train()
        if trainer.outcome == INTERRUPTED:  # a stop signal: 'latest' saved at the current step
            raise Stopped(trainer.stop_signal, resume_note(trainer))
        if getattr(trainer, "stop_requested", False):  # the signal came after the last step (the final eval)
            raise Stopped(trainer.stop_signal, "it came after the last step: training had finished and every "
                                               "checkpoint is complete; nothing to resume")
        return 0

    return run_tool("train", run, args.verbose, (TrainingError, RunLockError))


@reader_may_leave
def eval_main(argv=None, omp_num_threads=None):
    args = parse(config_parser("Evaluate a checkpoint (Global.pretrained_model) on DataLoader.Eval."), argv)

    def run():
        config = config_from_args(args, omp_num_threads)
        if not config["Global"]["pretrained_model"]:
            raise ConfigError("eval needs weights: add -o Global.pretrained_model=output/<run>/best_model")
        _, world_size, device_note = setup_device(config["Global"]["device"], config["Global"]["cpu_threads"])
        print(device_note)
        loader, _, data = build_dataloader(config["DataLoader"]["Eval"], config["Global"]["seed"],
                                           where="DataLoader.Eval", layout=input_layout(config))
        print_summary(data.dataset, "eval")
        align_eval_data(config, data.dataset)
        model = model_from_config(config, data.dataset, "DataLoader.Eval.dataset")
        result = evaluate(model, loader, config["Metric"]["topk"], world_size)
        print("[Eval][Avg]" + ", ".join(f"{k}: {v:.5f}" for k, v in result.items() if k != "samples")
              + f", samples: {result['samples']}")
        return 0

    return run_tool("eval", run, args.verbose, (TrainingError,))
