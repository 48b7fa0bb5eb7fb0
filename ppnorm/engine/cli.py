"""Command-line entry points behind tools/train.py and tools/eval.py."""
import argparse
import sys

from ..data import DataError, build_dataloader
from .builder import input_layout, model_from_config
from .checkpoint import CheckpointError
from .config import ConfigError, load_config
from .distributed import setup_device
from .evaluator import evaluate
from .trainer import Trainer, TrainingError

USER_ERRORS = (ConfigError, DataError, CheckpointError, TrainingError)


def add_override_option(parser, metavar="Section.key=value", example="-o Global.epochs=3"):
    """The ``-o`` option every tool shares: repeatable, several ``key=value`` after each ``-o``."""
    parser.add_argument("-o", "--override", action="append", nargs="+", default=[], metavar=metavar,
                        help=f"override config values, e.g. {example}")


def parse_with_overrides(parser, argv):
    """``parser.parse_args`` with ``args.override`` flattened to one list of ``key=value`` strings."""
    args = parser.parse_args(argv)
    args.override = [item for group in args.override for item in group]
    return args


def parse_args(argv, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-c", "--config", required=True, help="YAML config file")
    add_override_option(parser)
    return parse_with_overrides(parser, argv)


def run_reporting_errors(function, extra_errors=()):
    """Run ``function``; user errors become one 'error: ...' line on stderr and exit code 2."""
    try:
        return function()
    except USER_ERRORS + tuple(extra_errors) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def train_main(argv=None):
    args = parse_args(argv, "Train a ppnorm model from a YAML config.")

    def run():
        trainer = Trainer(load_config(args.config, args.override))
        result = trainer.train()
        return 0 if result is not None else 130  # 130: stopped by Ctrl-C, 'latest' saved

    return run_reporting_errors(run)


def eval_main(argv=None):
    args = parse_args(argv, "Evaluate a checkpoint (Global.pretrained_model) on DataLoader.Eval.")

    def run():
        config = load_config(args.config, args.override)
        if not config["Global"]["pretrained_model"]:
            raise ConfigError("eval needs weights: add -o Global.pretrained_model=output/<run>/best_model")
        _, world_size, device_note = setup_device(config["Global"]["device"], config["Global"]["cpu_threads"])
        print(device_note)
        loader, _, data = build_dataloader(config["DataLoader"]["Eval"], config["Global"]["seed"],
                                           where="DataLoader.Eval", layout=input_layout(config))
        model = model_from_config(config, data.dataset, "DataLoader.Eval.dataset")
        result = evaluate(model, loader, config["Metric"]["topk"], world_size)
        print("[Eval][Avg]" + ", ".join(f"{k}: {v:.5f}" for k, v in result.items() if k != "samples")
              + f", samples: {result['samples']}")
        return 0

    return run_reporting_errors(run)
