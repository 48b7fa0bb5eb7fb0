"""Values of the hook contract that the contract tests leave open (found by mutation testing, group ``hooks``):
the ends of the priority range, a hook built from a config entry outside the schema, the metric store's ``get``,
what the run context says when it lacks a name, and the signal handlers StopOnSignal gives back. No training beyond a
3-step loop of a Linear model."""
import copy
import signal

import numpy as np
import paddle
import pytest

from ppnorm.engine.hook_api import (FIRST, HOOKS, LAST, HookBase, MetricStore, RunContext, build_hook, by_priority,
                                   check_priority, priority_of)
from ppnorm.engine.hook_run import StopOnSignal
from ppnorm.engine.loop import FINISHED, TrainLoop
from ppnorm.signals import STOP_SIGNALS


@HOOKS.register("ValueProbe")
class ValueProbe(HookBase):
    """A registered hook with one option, for ``build_hook``."""

    def __init__(self, label="probe"):
        self.label = label


class _Data:
    steps_per_epoch = 3

    def batches(self, epoch, skip=0):
        rng = np.random.default_rng(epoch)
        return [(paddle.to_tensor(rng.normal(size=(4, 3)).astype("float32")),
                 paddle.to_tensor(rng.integers(0, 2, size=(4, 1)).astype("int64"))) for _ in range(3)][skip:]


class At(HookBase):
    """Calls ``action(ctx)`` at ``stage``."""

    def __init__(self, stage, action):
        setattr(self, stage, action)


def _loop(hooks=(), **services):
    model = paddle.nn.Linear(3, 2)
    return TrainLoop(model, paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters()), None, _Data(),
                     1, hooks=hooks, **services)


# --- priorities and hooks built from a config entry -------------------------------------------------------------

@pytest.mark.parametrize("value", [FIRST, 1, 99, LAST])
def test_every_priority_from_first_to_last_is_accepted(value):
    assert (FIRST, LAST) == (0, 100)
    assert check_priority(value, "Hooks[0]") is None
    assert build_hook({"name": "ValueProbe", "priority": value}).priority == value


@pytest.mark.parametrize("value", [FIRST - 1, LAST + 1])
def test_a_priority_just_outside_the_range_is_refused(value):
    with pytest.raises(ValueError, match=rf"^Hooks\[2\]: priority must be .* got {value}$"):
        check_priority(value, "Hooks[2]")


def test_build_hook_passes_the_options_sets_the_priority_and_names_its_entry():
    hook = build_hook({"name": "ValueProbe", "label": "mine", "priority": 0})
    assert isinstance(hook, ValueProbe) and (hook.label, hook.priority) == ("mine", 0)
    plain = build_hook({"name": "ValueProbe"})
    assert (plain.label, plain.priority) == ("probe", 50) and "priority" not in vars(plain)
    with pytest.raises(ValueError, match=r"^Hooks: priority must be an integer from 0 \(first\) to 100 \(last\), "
                                         r"got 101$"):
        build_hook({"name": "ValueProbe", "priority": 101})
    with pytest.raises(ValueError, match=r"^Hooks\[4\]: priority .* got -1$"):
        build_hook({"name": "ValueProbe", "priority": -1}, "Hooks[4]")


class Plain:
    """A hook that is not a HookBase and has no ``priority``: it runs at NORMAL (50)."""

    def after_step(self, ctx):
        pass


def test_a_hook_without_a_priority_runs_at_normal():
    early, late, plain = HookBase(), HookBase(), Plain()
    early.priority, late.priority = 49, 51
    assert priority_of(plain) == 50 and by_priority([late, plain, early]) == [early, plain, late]


# --- the metric store and the run context -----------------------------------------------------------------------

def test_get_returns_a_written_value_and_computes_a_lazy_one():
    store = MetricStore()
    store.update({"loss": 1.5, "top1": lambda: 0.25, "zero": 0.0})
    assert store.get("loss") == 1.5 and store.get("top1") == 0.25 and store["top1"] == 0.25
    assert store.get("zero", 9.0) == 0.0 and store.get("lr", 9.0) == 9.0


def test_an_empty_store_says_nothing_was_written():
    with pytest.raises(KeyError) as error:
        MetricStore()["loss"]
    assert error.value.args[0].endswith("written so far: none")


def test_no_evaluation_yet_is_none():
    ctx = _loop(evaluate=lambda: {"top1": 0.0, "samples": 0}).context
    assert ctx.last_eval is None
    assert ctx.evaluate() == {"top1": 0.0, "samples": 0} and ctx.last_eval == {"top1": 0.0, "samples": 0}


def test_a_missing_name_lists_the_extras_or_says_none():
    with pytest.raises(AttributeError) as error:
        _loop(extras={"history": [], "run_id": 3}).context.missing  # noqa: B018 (reading it must raise)
    assert str(error.value).endswith("the loop's extras: history, run_id)")
    with pytest.raises(AttributeError) as error:
        _loop().context.missing  # noqa: B018 (reading it must raise)
    assert str(error.value).startswith("the run context has no 'missing'")
    assert str(error.value).endswith("the loop's extras: none)")


def test_a_context_copies_and_a_bare_one_still_raises_attribute_error():
    ctx = _loop(extras={"history": [1]}).context
    twin = copy.copy(ctx)  # copy looks up __setstate__ before the copy has any attributes
    assert twin.history == [1] and twin.metrics is ctx.metrics
    bare = RunContext.__new__(RunContext)
    assert not hasattr(bare, "history")
    with pytest.raises(AttributeError, match="extras: none"):
        bare.history  # noqa: B018 (reading it must raise)


# --- the signal hook ----------------------------------------------------------------------------------------------

def test_the_signal_hook_gives_back_every_stop_signal_handler_after_a_quiet_run():
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    during = []
    hook = StopOnSignal()
    probe = At("before_step", lambda ctx: during.append({s: signal.getsignal(s) for s in STOP_SIGNALS}))
    assert _loop([hook, probe]).train() == FINISHED
    assert len(during) == 3 and all(during[0][signum] != before[signum] for signum in STOP_SIGNALS)
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before and hook.scope is None
