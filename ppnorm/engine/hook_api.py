"""The contract between the training loop and its hooks: what a hook may define, when it runs, what it sees.

A hook is an object with six methods, each called with the run context (:class:`RunContext`):

``before_train`` -> per epoch: ``before_epoch`` -> per step: ``before_step``, the step, ``after_step``
-> ``after_epoch`` (after the counters moved to the next epoch) -> ``after_train``.

``after_train`` runs even when training or another hook raised (``ctx.outcome`` is then None).
:class:`HookBase` gives empty methods; override the ones you need. At every stage the hooks run by
``priority`` (an int from :data:`FIRST` 0 to :data:`LAST` 100, lower first; :data:`NORMAL` 50 unless the
class or the config says otherwise), hooks of equal priority in the order they were added: the Trainer
orders its hooks so and ``register_hooks`` inserts by priority (a bare ``TrainLoop(hooks=[...])`` runs its
list as given).

The context holds (all read-only for hooks unless noted):

- ``model``, ``optimizer``, ``ema`` (a :class:`~ppnorm.engine.ema.ModelEma` or None), ``config`` (the
  resolved config or None), ``logger`` (``info``, ``scalars``, ...), ``rank``, ``world_size``, ``output_dir``;
- the counters: ``states`` (``epoch`` epochs done, ``step`` steps done in this epoch, ``global_step``; the
  Trainer adds ``best_top1`` and ``best_epoch``, which the evaluation hook writes and every checkpoint saves),
  ``epoch`` (the current epoch, from 0), ``epochs``, ``steps_per_epoch``;
- ``last`` (the latest step's :class:`~ppnorm.engine.loop.StepOutput`), ``outcome`` (in ``after_train``:
  ``finished``, ``interrupted``, ``paused``, ``data_failed``), ``stop_signal``;
- ``metrics`` (:class:`MetricStore`): after each step the loop writes ``loss``, ``top1``, ``lr`` and
  ``batch_size`` of that step; :meth:`RunContext.evaluate` writes ``eval/<metric>``; hooks may add their own;
- ``last_eval``: the result of the latest :meth:`RunContext.evaluate` (None before one);
- the actions ``save(name)`` (checkpoint ``<output_dir>/<name>``, rank 0), ``evaluate()``,
  ``save_config()`` (``config.yaml`` in ``output_dir``) and ``request_stop(signum)`` (stop after this step);
- the loop owner's extras (the experiments' ``history``) as attributes.

A hook may log, save, evaluate, request a stop, raise (training stops; ``after_train`` still runs) and keep
its own state. It may not step the optimizer, change the counters or call another hook. State that must
survive a resume goes in ``state_dict()`` (plain numbers, strings, lists and dicts) and comes back through
``set_state_dict(state)`` before ``before_train``; the Trainer stores it in every checkpoint with the
weights (one unit, see :mod:`ppnorm.engine.checkpoint`), keyed by the hook's class name (``Name#2`` for the
second of a class).

Hooks are registered in :data:`HOOKS` by name (the built-ins when :mod:`ppnorm.engine` is imported; a
hook of your own in its module, imported before a config naming it is loaded); ``Hooks:`` in a config adds
registered hooks to a run (``[{name: MyHook, priority: 60, <its options>}]``). A built-in hook says with ``from_global`` whether
and how a default run uses it: :func:`~ppnorm.engine.hooks.default_hooks` builds those.
"""
import signal

from ..registry import Registry

FINISHED, INTERRUPTED, PAUSED = "finished", "interrupted", "paused"
DATA_FAILED = "data_failed"  # reading the next batch raised a ValueError (a corrupt file): the steps so far are whole
FIRST, NORMAL, LAST = 0, 50, 100  # the range of priorities; lower runs first
STAGES = ("before_train", "before_epoch", "before_step", "after_step", "after_epoch", "after_train")

HOOKS = Registry("hook", ordered=True)


class HookBase:
    """Override what you need; each method gets the :class:`RunContext` (see the module docstring)."""

    priority = NORMAL

    @classmethod
    def from_global(cls, settings, ema=False):
        """The hook a default run uses, from the ``Global`` section (``ema``: EMA is on); None: not a default."""
        return None

    def before_train(self, ctx):
        pass

    def before_epoch(self, ctx):
        pass

    def before_step(self, ctx):
        pass

    def after_step(self, ctx):
        pass

    def after_epoch(self, ctx):
        pass

    def after_train(self, ctx):
        """Runs even when training (or another hook's ``before_train``) raised; ``ctx.outcome`` is None then."""


def priority_of(hook):
    return getattr(hook, "priority", NORMAL)


def by_priority(hooks):
    """``hooks`` ordered by priority; equal priorities keep their order."""
    return sorted(hooks, key=priority_of)


def hook_keys(hooks):
    """``[(key, hook)]`` for the hooks with a ``state_dict``: the class name, ``Name#2`` for the second one."""
    seen, keyed = {}, []
    for hook in hooks:
        name = type(hook).__name__
        seen[name] = seen.get(name, 0) + 1
        if callable(getattr(hook, "state_dict", None)):
            keyed.append((name if seen[name] == 1 else f"{name}#{seen[name]}", hook))
    return keyed


def check_priority(value, where):
    """A one-line ``ValueError`` unless ``value`` is an int from FIRST to LAST."""
    if isinstance(value, bool) or not isinstance(value, int) or not FIRST <= value <= LAST:
        raise ValueError(f"{where}: priority must be an integer from {FIRST} (first) to {LAST} (last), "
                         f"got {value!r}")


def build_hook(spec, where="Hooks"):
    """The hook a config entry ``{name: ..., priority: ..., <options>}`` declares (checked by the schema)."""
    options = {k: v for k, v in spec.items() if k not in ("name", "priority")}
    hook = HOOKS.build(spec["name"], **options)
    if "priority" in spec:
        check_priority(spec["priority"], where)
        hook.priority = spec["priority"]
    return hook


class MetricStore:
    """Named values of the run: the loop writes each step's, :meth:`RunContext.evaluate` each evaluation's.

    A value may be given as a function of no arguments; it is computed when first read (the loop gives
    ``top1`` so: a run that does not read it does not pay for it). Values hold until overwritten.
    """

    def __init__(self):
        self._values = {}

    def update(self, values):
        self._values.update(values)

    def __getitem__(self, name):
        if name not in self._values:
            raise KeyError(f"no metric {name!r}; written so far: {', '.join(self._values) or 'none'}")
        value = self._values[name]
        if callable(value):
            value = self._values[name] = value()
        return value

    def get(self, name, default=None):
        return self[name] if name in self._values else default

    def __contains__(self, name):
        return name in self._values

    def names(self):
        return list(self._values)


def delegated(holder, name, doc=None):
    """A read-only property that reads ``self.<holder>.<name>``."""
    return property(lambda self: getattr(getattr(self, holder), name), doc=doc or f"``{holder}.{name}``")


def _from_loop(name, doc):
    return delegated("_loop", name, doc)


class RunContext:
    """What a hook sees of the run (see the module docstring); the loop builds one and passes it to every hook.

    It reads through to the loop, so the loop's owner sets the values (``TrainLoop(..., logger=...)``).
    """

    model = _from_loop("model", "the model being trained")
    optimizer = _from_loop("optimizer", "the optimizer")
    ema = _from_loop("ema", "the ModelEma of the weights, or None")
    config = _from_loop("config", "the resolved config, or None")
    logger = _from_loop("logger", "info(line), scalars(values, step), ...")
    rank = _from_loop("rank", "this process's rank (0: the one that writes)")
    world_size = _from_loop("world_size", "the number of training processes")
    output_dir = _from_loop("output_dir", "where checkpoints and logs go")
    states = _from_loop("states", "the counters (and what a checkpoint saves with them)")
    epoch = _from_loop("epoch", "the current epoch, from 0")
    epochs = _from_loop("epochs", "the epochs to train in all")
    steps_per_epoch = _from_loop("steps_per_epoch", "steps in one epoch")
    last = _from_loop("last", "the latest StepOutput")
    outcome = _from_loop("outcome", "how training ended (in after_train)")
    stop_signal = _from_loop("stop_signal", "the signal that asked for the stop, or None")

    def __init__(self, loop, extras=None):
        self._loop, self._extras = loop, dict(extras or {})
        self.metrics = MetricStore()
        self.last_eval = None

    def save(self, name):
        self._loop.save(name)

    def save_config(self):
        self._loop.save_config()

    def evaluate(self):
        """Evaluate (the loop's owner says how), record the result in ``metrics`` and ``last_eval``; return it."""
        result = self._loop.evaluate()
        self.last_eval = result
        self.metrics.update({f"eval/{k}": v for k, v in result.items()})
        return result

    def request_stop(self, signum=signal.SIGINT):
        self._loop.request_stop(signum)

    def __getattr__(self, name):
        extras = self.__dict__.get("_extras", {})
        if name in extras:
            return extras[name]
        raise AttributeError(f"the run context has no {name!r} (see ppnorm.engine.hook_api; the loop's extras: "
                             f"{', '.join(extras) or 'none'})")
