"""Mutation testing of chosen ppnorm modules with mutmut 3 (slow, so not in CI).

    python tools/mutation.py metrics config      # one or more groups from GROUPS
    python tools/mutation.py --list              # the groups, their files and covering tests

Each group is run on its own: ./mutants/ (git-ignored) is wiped, only the group's files are mutated,
only the test files that cover them run (mutmut maps tests to functions by coverage), with one worker.
Mutants run in processes forked after the tests were imported, so a function that only runs at import
time (it builds a module-level table) would look unkillable; a group lists such functions under
IMPORT_TIME and they are run again in a fork server that imports ppnorm afresh for each mutant.
The last lines give killed / survived / timeout / no tests per file. Afterwards, inside the repo root,
`python -m mutmut results` lists the last group's survivors and `python -m mutmut show NAME` one diff.
"""
import argparse
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NN, DATA, ENGINE = "ppnorm/nn/", "ppnorm/data/", "ppnorm/engine/"
# group -> (files to mutate, test files that cover them)
GROUPS = {
    "metrics": ([ENGINE + "metrics.py"], ["tests/test_metrics.py"]),
    "config": ([ENGINE + "config/keys.py", ENGINE + "config/loader.py", ENGINE + "config/schema.py"],
               ["tests/test_config.py", "tests/test_config_values.py", "tests/test_config_messages.py"]),
    "checkpoint": ([ENGINE + "checkpoint.py", ENGINE + "checkpoint_load.py"],
                   ["tests/test_checkpoint.py", "tests/test_pretrained.py"]),
    "transforms": ([DATA + "transforms.py"], ["tests/test_data.py"]),
    "loader": ([DATA + "loader.py", DATA + "pipeline.py"], ["tests/test_data.py", "tests/test_data_errors.py"]),
    "functional": ([NN + "functional.py"], ["tests/test_functional.py", "tests/test_functional_properties.py",
                                            "tests/test_functional_scale.py"]),
    "norm": ([NN + "norm.py"], ["tests/test_norm_factory.py"]),
    "fuse": ([NN + "fuse.py", NN + "precise_bn.py"], ["tests/test_deploy.py", "tests/test_compat.py"]),
}

# functions that run while their module is imported (mutmut names, fnmatch patterns)
IMPORT_TIME = {
    "config": ["ppnorm.engine.config.schema.x__loader_schema*", "ppnorm.engine.config.keys.xǁKeyǁ__init__*"],
}
# imported once by the fork server, so that each mutant imports only ppnorm and the tests afresh
PRELOAD = ROOT / "tools" / "mutation_preload.txt"


def tally(files):
    """Status counts per mutated file, read from mutmut's ./mutants/<file>.meta."""
    from mutmut.stats import status_by_exit_code
    counts = {}
    for file in files:
        meta = json.loads((ROOT / "mutants" / (file + ".meta")).read_text())
        counts[file] = Counter(status_by_exit_code[code] for code in meta["exit_code_by_key"].values())
    return counts


def run_group(name, max_children):
    """Mutate one group's files, run its tests against every mutant, print the counts."""
    import mutmut.__main__ as mm
    from mutmut.configuration import config
    files, tests = GROUPS[name]
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    cfg = config()
    cfg.only_mutate, cfg.pytest_add_cli_args_test_selection = list(files), list(tests)
    mm._run((), max_children)
    if name in IMPORT_TIME:
        from mutmut.configuration import ForkServerWarmup, ProcessIsolation
        cfg.process_isolation, cfg.forkserver_warmup = ProcessIsolation.FORKSERVER, ForkServerWarmup.IMPORT
        cfg.preload_modules_file = str(PRELOAD)
        mm._run(IMPORT_TIME[name], max_children)
    for file, counts in tally(files).items():
        print(f"[mutation] {name} {file}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help="groups to run: " + ", ".join(GROUPS))
    parser.add_argument("--list", action="store_true", help="print the groups and exit")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutant workers (default 1)")
    args = parser.parse_args()
    unknown = [name for name in args.groups if name not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    if args.list or not args.groups:
        for name, (files, tests) in GROUPS.items():
            print(f"{name}: {' '.join(files)}  <-  {' '.join(tests)}")
        return
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    for name in args.groups:
        run_group(name, args.max_children)


if __name__ == "__main__":
    main()
