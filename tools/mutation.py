"""Mutation testing of chosen ppnorm modules with mutmut 3 (slow, so not in CI).

    python tools/mutation.py metrics config      # one or more groups from GROUPS
    python tools/mutation.py --list              # the groups, their files and covering tests
    python tools/mutation.py norm --mutants 'ppnorm.nn.norm.x_build_norm__mutmut_*'   # re-run some (globs)

Each group is run on its own: ./mutants/ (git-ignored) is wiped, only the group's files are mutated,
only the test files that cover them run (mutmut maps tests to functions by coverage), with one worker.
Mutants run in processes forked after the tests were imported, so the mutants of a function that only
runs at import time (config/schema.py's _loader_schema, which builds the schema table) are never
active and show as survivors; docs/testing.md counts them apart.
The last lines give killed / survived / timeout / no tests per file. Afterwards, inside the repo root,
`python -m mutmut results` lists the last group's survivors and `python -m mutmut show NAME` one diff.
"""
import argparse
import json
import os
import shutil
import subprocess
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
    "checkpoint": ([ENGINE + "checkpoint.py", ENGINE + "checkpoint_format.py", ENGINE + "checkpoint_read.py",
                    "ppnorm/weights.py", "ppnorm/models/pretrained.py", "ppnorm/safe_pickle.py"],
                   # the 4 SIGKILL tests train resnet20 in subprocesses (~90 s per mutant): left out; so are the
                   # other slow tests (an EMA training resumed, PaddleClas DenseNet-121 weights; minutes per mutant)
                   ["tests/test_checkpoint.py", "tests/test_checkpoint_values.py", "tests/test_pretrained.py",
                    "tests/test_ema.py", "tests/test_safe_load.py", "tests/test_checkpoint_recovery.py",
                    "-k", "not sigkill", "-m", "not slow"]),
    # the slow test (two digits trainings, a bitwise resume) is left out: tests/test_ema_values.py checks the update
    # and its warm-up counter over a resume on a tiny loop
    "ema": ([ENGINE + "ema.py"], ["tests/test_ema.py", "tests/test_ema_values.py", "-m", "not slow"]),
    # a tiny real TrainLoop with recorded save/evaluate/logger: every hook's promise in well under a second each; the
    # hook contract (run context, metric store, priorities, the Hooks section, hook state) through the real Trainer
    "hooks": ([ENGINE + f for f in ("hooks.py", "hook_api.py", "hook_checks.py", "hook_run.py")],
              ["tests/test_hooks_contract.py", "tests/test_hook_api.py", "tests/test_hook_values.py",
               "-m", "not slow"]),
    # the verifier, inference.yml, the export target checks and infer's inputs without paddle.jit.save; export_model
    # and its steps on a one-conv model (well under a second each); the slow tools/infer.py subprocess is left out
    "export": (["ppnorm/deploy/export.py", "ppnorm/deploy/inputs.py"],
               ["tests/test_export_verify.py", "tests/test_export_model.py", "-m", "not slow"]),
    # the loop on fixed batches (stages, counters, stops, one SGD step in numpy) and the hooks' tiny real loop
    "loop": ([ENGINE + "loop.py"], ["tests/test_loop.py", "tests/test_hooks_contract.py"]),
    # the lock, the refused folders and the checkpoint check under every spelling of the output dir
    "run_lock": ([ENGINE + "run_lock.py"], ["tests/test_run_lock.py"]),
    # the experiments' Context without training (seeds, progress, claims, VisualDL with a fake writer)
    "context": (["ppnorm/experiments/context.py"], ["tests/test_context.py"]),
    # image_folder and file_list on tiny trees: pixels, labels, summaries, every refusal
    "folder": ([DATA + "folder.py"], ["tests/test_folder_values.py"]),
    # the PaddleClas config translator: defaults, precedences, -o overrides with list indices, refusals
    "paddleclas": (["ppnorm/paddleclas/" + name for name in ("dialect.py", "translator.py", "arch.py",
                                                              "dataloader.py", "parts.py")],
                   ["tests/test_paddleclas_config.py", "tests/test_paddleclas_translate.py",
                    "tests/test_paddleclas_data_values.py"]),
    # paddle.io.DataLoader aborts (SIGABRT) in mutmut's forked test processes: the test comparing batches with it
    # is left out (tests/test_loader.py checks the batches against numpy)
    "transforms": ([DATA + "transforms.py"], ["tests/test_transforms.py", "tests/test_data.py", "tests/test_data_errors.py",
                                              "-k", "not those_of_paddle_dataloader"]),
    "loader": ([DATA + "loader.py", DATA + "pipeline.py"],
               ["tests/test_loader.py", "tests/test_data.py", "tests/test_data_errors.py",
                "-k", "not those_of_paddle_dataloader"]),
    "functional": ([NN + "functional.py"],
                   # paddle.jit.to_static cannot convert mutmut's trampolines (IndentationError): left out
                   ["tests/test_functional.py", "tests/test_functional_properties.py", "tests/test_rms_norm.py",
                    "tests/test_functional_scale.py", "-k", "not to_static and not fresh_masks_in_a_static"]),
    "norm": ([NN + "norm.py", NN + "rms_norm.py"], ["tests/test_norm_factory.py", "tests/test_rms_norm.py"]),
    "fuse": ([NN + "fuse.py", NN + "precise_bn.py"],
             # test_exp_precise_bn's cell test trains (~3 s) and checks the experiment's cell, not update_bn_stats;
             # exporting an NHWC model converts ChannelBias.forward, which to_static cannot do to mutmut's
             # trampolines (IndentationError): those two tests are left out (test_fusing_keeps_eval_outputs
             # checks NHWC folding without export)
             ["tests/test_deploy.py", "tests/test_compat.py", "tests/test_exp_precise_bn.py", "-k",
              "not the_cell_measures and not (keeps_the_logits and NHWC) and not nhwc_model_exports"]),
}

# Functions that run only in forked worker processes, where mutmut records no coverage ("no tests"): the tests
# that run them there. Their mutants are active in the workers (the mutant's name is inherited in the environment).
_WORKER = ["tests/test_loader.py::test_batches_stack_the_samples_in_sampler_order[2]",
           "tests/test_loader.py::test_a_worker_error_reaches_the_main_process_with_its_sample",
           "tests/test_loader.py::test_workers_that_ignore_sigterm_are_still_ended_at_once",
           "tests/test_data_errors.py::test_ctrl_c_with_workers_saves_latest_and_exits"]
WORKER_TESTS = {"loader": {"ppnorm.data.loader.x__init_worker": _WORKER, "ppnorm.data.loader.x__worker_batch": _WORKER}}


def _add_worker_tests(mm, extra):
    """Map ``extra`` (function -> tests) into mutmut's coverage table once its stats are collected."""
    collect = mm.collect_or_load_stats

    def collect_with_workers(*args, **kwargs):
        collect(*args, **kwargs)
        table = mm.state().tests_by_mangled_function_name
        for function, tests in extra.items():
            table[function] = set(table.get(function, ())) | set(tests)
    mm.collect_or_load_stats = collect_with_workers


def tally(files):
    """Per mutated file: status counts and the mutants that were not killed, from ./mutants/<file>.meta."""
    from mutmut.stats import status_by_exit_code
    counts, alive = {}, []
    for file in files:
        meta = json.loads((ROOT / "mutants" / (file + ".meta")).read_text())
        status = {name: status_by_exit_code[code] for name, code in meta["exit_code_by_key"].items()}
        counts[file] = Counter(status.values())
        alive += [(name, state, file) for name, state in status.items() if state not in ("killed", "not checked")]
    return counts, alive


def write_report(name, alive):
    """output/mutation/<group>.txt: every mutant not killed, with its diff (./mutants/ is wiped next run)."""
    from mutmut.__main__ import get_diff_for_mutant
    report = ROOT / "output" / "mutation" / f"{name}.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    with open(report, "w", encoding="utf-8") as handle:
        for mutant, state, file in alive:
            handle.write(f"## {mutant}: {state}\n{get_diff_for_mutant(mutant, path=file)}\n")
    return report


def run_group(name, max_children, mutants=()):
    """Mutate one group's files, run its tests against every mutant (or the named ones), print the counts."""
    import mutmut.__main__ as mm
    from mutmut.configuration import config
    files, tests = GROUPS[name]
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    # tests that start `python tools/...` or a test file as a script import the mutated copy, not the install
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "mutants"), os.environ.get("PYTHONPATH")]))
    cfg = config()
    cfg.only_mutate, cfg.pytest_add_cli_args_test_selection = list(files), list(tests)
    _add_worker_tests(mm, WORKER_TESTS.get(name, {}))
    mm._run(tuple(mutants), max_children)
    counts, alive = tally(files)
    for file, count in counts.items():
        print(f"[mutation] {name} {file}: " + ", ".join(f"{k} {v}" for k, v in sorted(count.items())))
    print(f"[mutation] {name}: mutants not killed, with diffs: {write_report(name, alive)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help="groups to run: " + ", ".join(GROUPS))
    parser.add_argument("--list", action="store_true", help="print the groups and exit")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutant workers (default 1)")
    parser.add_argument("--mutants", nargs="+", default=(), metavar="NAME",
                        help="run only these mutants of one group (names or globs, as `mutmut results` prints them)")
    args = parser.parse_args()
    unknown = [name for name in args.groups if name not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    if args.list or not args.groups:
        for name, (files, tests) in GROUPS.items():
            print(f"{name}: {' '.join(files)}  <-  {' '.join(tests)}")
        return
    if args.mutants and len(args.groups) != 1:
        parser.error("--mutants needs exactly one group")
    if len(args.groups) > 1:  # mutmut keeps its state in globals: one process per group
        for name in args.groups:
            subprocess.run([sys.executable, __file__, name, "--max-children", str(args.max_children)], check=False)
        return
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    run_group(args.groups[0], args.max_children, args.mutants)


if __name__ == "__main__":
    main()
