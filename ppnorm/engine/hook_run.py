"""The hooks that own a run's output directory, save its checkpoints and stop it on a signal (default hooks)."""
import contextlib
import os

from ..signals import label, stop_requests
from .hook_api import DATA_FAILED, HOOKS, INTERRUPTED, HookBase
from .run_lock import OutputDirLock


@HOOKS.register("OwnOutputDir")
class OwnOutputDir(HookBase):
    """Lock ``output_dir`` for the whole run (a second run there fails at once) and write ``config.yaml``."""

    priority = 5

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls()

    def before_train(self, ctx):
        if ctx.rank == 0:
            self.lock = OutputDirLock(ctx.output_dir).acquire()
            ctx.save_config()
            ctx.logger.open_file()
            ctx.logger.info(f"[Config] resolved config in {os.path.join(ctx.output_dir, 'config.yaml')}, "
                            f"full log in {ctx.logger.log_file} (-v prints the config here)")

    def after_train(self, ctx):
        if getattr(self, "lock", None) is not None:
            self.lock.release()


@HOOKS.register("SaveCheckpoints")
class SaveCheckpoints(HookBase):
    """``latest`` after every epoch, on a stop and when a batch cannot be read; ``epoch_N`` every ``interval``."""

    priority = 70

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls(settings["save_interval"])

    def __init__(self, interval):
        self.interval = interval

    def after_epoch(self, ctx):
        ctx.save("latest")
        if self.interval and (ctx.epoch + 1) % self.interval == 0:
            ctx.save(f"epoch_{ctx.epoch + 1}")

    def after_train(self, ctx):
        if ctx.outcome in (INTERRUPTED, DATA_FAILED):  # the steps done since the last epoch end are kept
            ctx.save("latest")
        if ctx.outcome == INTERRUPTED:
            ctx.logger.info(resume_note(ctx))


def resume_note(run):
    """Where a stopped run (a run context or the Trainer) stands and the flag that resumes it exactly."""
    return (f"stopped at epoch {run.epoch + 1}, step {run.states['step']} ('latest' saved); resume with "
            f"-o Global.checkpoints={os.path.join(run.output_dir, 'latest')}")


@HOOKS.register("StopOnSignal")
class StopOnSignal(HookBase):
    """The first Ctrl-C, SIGTERM or SIGHUP asks the loop to stop after the current step (``latest`` is then
    saved); a second one quits at once. It runs after :class:`SaveCheckpoints` (priority), so that the save on a
    stop is still covered (a signal during it waits for the commit, see :mod:`ppnorm.signals`)."""

    priority = 75

    @classmethod
    def from_global(cls, settings, ema=False):
        return cls()

    def before_train(self, ctx):
        def request(signum):
            try:
                ctx.logger.info(f"{label(signum)}: saving 'latest' after this step (send it again to quit without "
                                f"saving)")
            except OSError:  # the console is gone (a closed terminal): stop all the same
                pass
            ctx.request_stop(signum)

        self.scope = contextlib.ExitStack()
        self.scope.enter_context(stop_requests(request))

    def after_train(self, ctx):
        if getattr(self, "scope", None) is not None:
            self.scope.close()
            self.scope = None
