"""tools/experiment.py: run one experiment from its config, or list them."""
import argparse
import shlex
import sys

from ..engine.cli import add_override_option, parse_with_overrides, run_reporting_errors
from ..engine.threads import use_cpu_threads
from . import NAMES, experiments
from .config import load_experiment_config
from .runner import run_experiment


def experiment_main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="Run a ppnorm experiment.")
    parser.add_argument("-c", "--config", help="configs/experiments/<name>.yaml")
    add_override_option(parser, "key=value", "-o quick=true -o params.epochs=3 seed=1")
    parser.add_argument("--list", action="store_true", help="list the experiments and their questions")
    args = parse_with_overrides(parser, argv)
    if args.list:
        for name, module in experiments().items():
            print(f"{name:20s} {module.QUESTION}")
        return 0
    if not args.config:
        parser.error(f"give -c configs/experiments/<name>.yaml (one of: {', '.join(NAMES)}) or --list")

    def run():
        module, settings, params = load_experiment_config(args.config, args.override, experiments())
        print(use_cpu_threads()[1])
        command = "python tools/experiment.py " + " ".join(shlex.quote(a) for a in argv)
        run_experiment(settings["experiment"], module, settings, params, command)
        return 0

    # ValueError too: experiment params flow straight into the model / norm / data registries, whose
    # one-line ValueErrors ("unknown norm 'xx'; valid: ...") are the message a user needs.
    return run_reporting_errors(run, (ValueError,))
