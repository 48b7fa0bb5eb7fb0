"""tools/experiment.py: run one experiment from its config, or list them."""
import argparse
import shlex
import sys

from ..engine.cli import run_reporting_errors
from ..engine.threads import use_cpu_threads
from . import NAMES, experiments
from .config import load_experiment_config
from .runner import run_experiment


def experiment_main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="Run a ppnorm experiment.")
    parser.add_argument("-c", "--config", help="configs/experiments/<name>.yaml")
    parser.add_argument("-o", "--override", action="append", nargs="+", default=[],
                        metavar="key=value", help="e.g. -o quick=true -o params.epochs=3 seed=1")
    parser.add_argument("--list", action="store_true", help="list the experiments and their questions")
    args = parser.parse_args(argv)
    if args.list:
        for name, module in experiments().items():
            print(f"{name:20s} {module.QUESTION}")
        return 0
    if not args.config:
        parser.error(f"give -c configs/experiments/<name>.yaml (one of: {', '.join(NAMES)}) or --list")
    overrides = [item for group in args.override for item in group]

    def run():
        module, settings, params = load_experiment_config(args.config, overrides, experiments())
        print(use_cpu_threads()[1])
        command = "python tools/experiment.py " + " ".join(shlex.quote(a) for a in argv)
        run_experiment(settings["experiment"], module, settings, params, command)
        return 0

    return run_reporting_errors(run)
