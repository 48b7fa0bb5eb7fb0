"""tools/experiment.py: run one experiment from its config, or list them."""
import argparse
import shlex
import sys

import paddle

from ..cli import (add_config_options, add_runtime_options, omp_threads, parse, reader_may_leave, resolve_device,
                   run_tool, tool_command)
from ..engine.run_lock import check_output_dir
from ..engine.threads import use_cpu_threads
from . import NAMES, experiments
from .config import load_experiment_config
from .i18n import LANGS
from .summary import print_comparison, print_verdicts
from .pilot import run_pilot, size_from
from .replication import replicate
from .runner import run_experiment
from .tuning import run_tuning


def _parser():
    parser = argparse.ArgumentParser(description="Run a ppnorm experiment.")
    add_config_options(parser, required=False, metavar="key=value", example="-o quick=true -o params.epochs=3 seed=1")
    parser.add_argument("--list", action="store_true", help="list the experiments and their questions")
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of --list and --verdicts (runs: -o lang=zh)")
    parser.add_argument("--verdicts", metavar="DIR", help="print the verdict table of every claims.csv under DIR "
                        "(e.g. output/experiments), or of one experiment's folder or claims.csv")
    parser.add_argument("--against", metavar="DIR2", help="with --verdicts: compare each claim's verdict with the runs "
                        "under DIR2 (e.g. the same experiments run on another CPU); differing verdicts first")
    parser.add_argument("--replicate", action="store_true", help="with -c: run again on a seed block disjoint from "
                        "every earlier one (seed_blocks.json in output_dir) and print committed vs fresh verdicts")
    parser.add_argument("--pilot", nargs="?", const=5, type=int, metavar="N", help="with -c: run N seeds (default 5) "
                        "from 100000 on, never used for verdicts, and write power.csv: the seeds each claim needs for "
                        "80%% power at its expected effect")
    parser.add_argument("--size_from", metavar="DIR", help="with -c: write power.csv from an earlier run in DIR "
                        "(e.g. the runs the claims were designed on) instead of a new pilot; DIR's seeds become a "
                        "pilot block that no confirmatory run may use")
    parser.add_argument("--tune", nargs="?", const=5, type=int, metavar="N", help="with -c: run each value of the "
                        "config's 'tuning' section on N seeds (default 5, never used for verdicts), scored on a "
                        "validation split of the training data, and write tune.csv with the best value")
    add_runtime_options(parser, "where the tables, charts and logs go (the config's output_dir)")
    return parser


@reader_may_leave
def experiment_main(argv=None, omp_num_threads=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    args = parse(parser, argv)
    if args.list:
        for name, module in experiments().items():
            question = getattr(module, "QUESTION_ZH", module.QUESTION) if args.lang == "zh" else module.QUESTION
            print(f"{name:20s} {question}")
        return 0
    if args.against and not args.verdicts:
        parser.error("--against DIR2 compares with --verdicts DIR: give both")
    if args.verdicts and args.against:
        return run_tool("experiment", lambda: print_comparison(args.verdicts, args.against, list(NAMES), args.lang)
                        or 0, args.verbose)
    if args.verdicts:
        return run_tool("experiment", lambda: print_verdicts(args.verdicts, list(NAMES), args.lang) or 0, args.verbose)
    chosen = [flag for flag, given in (("--replicate", args.replicate), ("--pilot", args.pilot is not None),
                                       ("--size_from", args.size_from), ("--tune", args.tune is not None))
              if given]
    if chosen and not args.config:
        parser.error(f"{chosen[0]} works on the experiment of -c CONFIG: give it")
    if len(chosen) > 1:
        parser.error(f"{' and '.join(chosen)} are different runs: give one")
    if not args.config:
        parser.error(f"give -c configs/experiments/<name>.yaml (one of: {', '.join(NAMES)}) or --list")
    overrides = args.override + ([f"output_dir={args.output_dir}"] if args.output_dir else [])

    def run():
        module, settings, params = load_experiment_config(args.config, overrides, experiments())
        check_output_dir(settings["output_dir"], "output_dir")
        paddle.set_device(resolve_device(args.device or "auto"))
        print(use_cpu_threads(args.cpu_threads, omp_threads(omp_num_threads))[1])
        command = tool_command("experiment") + " " + " ".join(shlex.quote(a) for a in argv)
        if args.size_from:
            size_from(settings["experiment"], module, settings, params, args.size_from)
        elif args.tune is not None:
            run_tuning(settings["experiment"], module, settings, params, args.tune)
        elif args.pilot is not None:
            run_pilot(settings["experiment"], module, settings, params, args.pilot, command)
        else:
            (replicate if args.replicate else run_experiment)(settings["experiment"], module, settings, params, command)
        return 0

    # ValueError is a user error here too: experiment params flow straight into the model / norm / data
    # registries, whose one-line ValueErrors ("unknown norm 'xx'; valid: ...") are the message a user needs.
    return run_tool("experiment", run, args.verbose)
