"""What the Trainer costs: a config's run through the Trainer with its default hooks vs a bare Paddle loop.

Both sides build the same model, data, optimizer and schedule from the config (a fresh ``Trainer`` each, so the
same seed, initial weights and batch order); the bare side then runs only forward, loss, backward, the
optimizer and the schedule, without EMA, evaluation, checkpoints, logging or VisualDL. The two interleave
epoch by epoch in one process (a hook of the Trainer's runs one bare epoch before or after each of its own,
untimed for the Trainer), so a load that comes and goes on a shared machine falls on both sides alike; each
repeat starts both from scratch, after a one-epoch warm-up of each.
"""
import collections
import os
import statistics
import time

from ..engine.hook_api import FINISHED, FIRST, LAST, HookBase
from .cases import temporary_dir


def _with_run(config, output_dir, epochs, hooks_on):
    settings = dict(config["Global"], output_dir=output_dir, epochs=epochs or config["Global"]["epochs"])
    if not hooks_on:
        settings["use_visualdl"] = False
        return dict(config, Global=settings, EMA=dict(config["EMA"], decay=0))  # no average to keep
    return dict(config, Global=settings)


class BareLoop:
    """The same model, data, optimizer and schedule as the Trainer's, stepped without hooks, an epoch per call;
    ``seconds`` and ``steps`` add up the epochs run."""

    def __init__(self, config, output_dir, epochs=None):
        from ..engine.trainer import Trainer

        with open(os.devnull, "w") as quiet:
            trainer = Trainer(_with_run(config, output_dir, epochs, False), stream=quiet, hooks=[])
        self.model, self.optimizer, self.loss_fn = trainer.model, trainer.optimizer, trainer.loop.loss_fn
        self.scheduler, self.data, self.epochs = trainer.loop.scheduler, trainer.data, trainer.loop.epochs
        self.epoch, self.steps, self.seconds = 0, 0, 0.0

    def run_epoch(self):
        start = time.perf_counter()
        self.model.train()
        for batch in self.data.batches(self.epoch):
            loss = self.loss_fn(self.model(batch[0]), batch[1])
            loss.backward()
            self.optimizer.step()
            self.optimizer.clear_grad()
            if self.scheduler is not None:
                self.scheduler.step()
            self.steps += 1
        self.epoch += 1
        self.seconds += time.perf_counter() - start


class RunBareEpoch(HookBase):
    """Run one epoch of ``bare`` (a :class:`BareLoop`) first thing in each Trainer epoch (``stage``
    ``before_epoch``) or last thing after it (``after_epoch``)."""

    def __init__(self, bare, stage):
        if stage not in ("before_epoch", "after_epoch"):
            raise ValueError(f"stage must be before_epoch or after_epoch, got {stage!r}")
        self.bare, self.stage = bare, stage
        self.priority = FIRST if stage == "before_epoch" else LAST

    def before_epoch(self, ctx):
        if self.stage == "before_epoch":
            self.bare.run_epoch()

    def after_epoch(self, ctx):
        if self.stage == "after_epoch":
            self.bare.run_epoch()


def _time_hooks(loop, seconds):
    """Add up each hook's time in ``seconds`` (by class name) by timing the loop's hook calls (this instance only)."""
    def call(stage):
        for hook in loop.hooks:
            start = time.perf_counter()
            getattr(hook, stage)(loop.context)
            seconds[type(hook).__name__] += time.perf_counter() - start
    loop._call = call


def run_pair(config, output_dir, epochs=None, bare_first=False):
    """Train ``config`` through the Trainer (default hooks) with a bare loop's epochs interleaved;
    ``{"trainer": (seconds, steps), "bare": (seconds, steps), "hooks": {hook class: seconds}}``, the Trainer's
    seconds without the bare epochs."""
    from ..engine.trainer import Trainer

    bare = BareLoop(config, os.path.join(output_dir, "bare"), epochs)
    hooks = collections.Counter()
    with open(os.devnull, "w") as quiet:
        trainer = Trainer(_with_run(config, os.path.join(output_dir, "trainer"), epochs, True), stream=quiet)
        trainer.register_hooks([RunBareEpoch(bare, "before_epoch" if bare_first else "after_epoch")])
        _time_hooks(trainer.loop, hooks)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start - bare.seconds
    if trainer.outcome != FINISHED:
        raise RuntimeError(f"the Trainer's run ended {trainer.outcome} (signal {trainer.stop_signal}) at step "
                           f"{trainer.states['global_step']}")
    hooks.pop(RunBareEpoch.__name__)
    return {"trainer": (seconds, trainer.states["global_step"]), "bare": (bare.seconds, bare.steps),
            "hooks": dict(hooks)}


def _hook_shares(runs, bare_seconds):
    """``[Bench]`` line: each hook's median seconds over the runs, as a share of the bare loop's median time."""
    names = sorted({name for run in runs for name in run}, key=lambda n: -statistics.median(r.get(n, 0) for r in runs))
    shares = [(name, statistics.median(run.get(name, 0.0) for run in runs)) for name in names]
    return "[Bench] the Trainer's hooks, median seconds (share of the bare loop's time): " + ", ".join(
        f"{name} {took:.2f} s ({100 * took / bare_seconds:.1f}%)" for name, took in shares if took >= 0.005)


def trainer_vs_bare(config, epochs=None, repeats=3, log=print):
    """Rows for the bare loop and the Trainer: each side's median seconds over ``repeats`` interleaved runs, and
    the Trainer's ratio, the median over the repeats of bare seconds / Trainer seconds; the bare epochs run after
    the Trainer's in even repeats and before them in odd ones. ``epochs`` (default: the config's) shortens both."""
    from .suite import bench_row, format_row

    seconds, steps, hooks = {"bare": [], "trainer": []}, {}, []
    with temporary_dir() as work_dir:
        run_pair(config, os.path.join(work_dir, "warmup"), 1)  # the first calls allocate and pick kernels
        for repeat in range(repeats):
            pair = run_pair(config, os.path.join(work_dir, f"run_{repeat}"), epochs, bare_first=repeat % 2 == 1)
            hooks.append(pair.get("hooks", {}))
            for name in ("bare", "trainer"):
                took, steps[name] = pair[name]
                seconds[name].append(took)
                log(f"[Bench] {name} run {repeat + 1}/{repeats}: {steps[name]} steps in {took:.2f} s")
    if steps["trainer"] != steps["bare"]:
        raise RuntimeError(f"the Trainer ran {steps['trainer']} steps, the bare loop {steps['bare']}")
    batch = config["DataLoader"]["Train"]["batch_size"]
    label = f"{config['Arch']['name']} on {config['DataLoader']['Train']['dataset']['name']}, {steps['bare']} steps"
    median = {name: statistics.median(values) for name, values in seconds.items()}
    ratios = [bare / trainer for bare, trainer in zip(seconds["bare"], seconds["trainer"])]
    ratio = statistics.median(ratios)
    norm = config["Arch"].get("norm", "bn")
    rows = [bench_row(label, "bare Paddle loop", norm, batch, "train run", steps["bare"] * batch / median["bare"]),
            bench_row(label, "Trainer (EMA, eval, checkpoints, logs)", norm, batch, "train run",
                      steps["trainer"] * batch / median["trainer"], None, ratio,
                      "bare Paddle loop")]
    for row, name in zip(rows, ("bare", "trainer")):
        row.update(steps=steps[name], seconds=round(median[name], 2))
        log(format_row(row) + f" ({row['steps']} steps, median {row['seconds']:.2f} s)")
    log("[Bench] the Trainer's ratio in each repeat: " + ", ".join(f"{r:.3f}" for r in ratios) +
        f" (median {ratio:.3f}; the images/s columns are each side's median run, not always of one repeat)")
    log(_hook_shares(hooks, median["bare"]))
    return rows
