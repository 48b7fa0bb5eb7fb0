"""The hook contract (ppnorm.engine.hook_api): a hook registered here is declared in a YAML ``Hooks`` section and
trained through the real Trainer; its priority places it among the default hooks; the config refuses unknown hooks,
options and bad priorities in one line; a hook's state is saved in the checkpoint and a stopped run resumes it
exactly; the loop writes the step's metrics into the context's store."""
import numpy as np
import paddle
import pytest
import yaml

from ppnorm.engine import ConfigError, Trainer, load_config
from ppnorm.engine.hook_api import HOOKS, NORMAL, HookBase, MetricStore, RunContext, by_priority, hook_keys
from ppnorm.engine.hooks import default_hooks
from ppnorm.engine.loop import FINISHED, INTERRUPTED, TrainLoop, top1_of

DIGITS = "configs/digits/resnet20.yaml"


@HOOKS.register("CountSteps")
class CountSteps(HookBase):
    """Counts steps and epochs (state kept across a resume); records what it saw at the start and each step."""

    def __init__(self, tag="count"):
        self.tag, self.steps, self.epochs = tag, 0, 0
        self.at_start, self.seen = None, []

    def state_dict(self):
        return {"steps": self.steps, "epochs": self.epochs}

    def set_state_dict(self, state):
        self.steps, self.epochs = state["steps"], state["epochs"]

    def before_train(self, ctx):
        self.at_start = (self.steps, ctx.states["global_step"])

    def after_step(self, ctx):
        self.steps += 1
        self.seen.append((ctx.states["global_step"], ctx.metrics["loss"], ctx.metrics["batch_size"]))

    def after_epoch(self, ctx):
        self.epochs += 1


class StopAt(HookBase):
    def __init__(self, global_step):
        self.global_step = global_step

    def after_step(self, ctx):
        if ctx.states["global_step"] == self.global_step:
            ctx.request_stop()


def _yaml(tmp_path, hooks, name="run", **global_values):
    config = {
        "Global": {"output_dir": str(tmp_path / name), "epochs": 2, "use_visualdl": False, "print_batch_step": 100,
                   "eval_interval": 1, **global_values},
        "Arch": {"name": "simple_cnn", "widths": [8]},
        "Optimizer": {"name": "Momentum", "lr": {"name": "Constant", "learning_rate": 0.1}},
        "DataLoader": {"Train": {"dataset": {"name": "digits", "split": "train"}, "batch_size": 256},
                       "Eval": {"dataset": {"name": "digits", "split": "test"}}},
        "Hooks": hooks,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def _counter(trainer):
    return next(hook for hook in trainer.loop.hooks if isinstance(hook, CountSteps))


def test_a_hook_declared_in_the_config_runs_in_the_real_trainer_at_its_priority(tmp_path):
    trainer = Trainer(load_config(_yaml(tmp_path, [{"name": "CountSteps", "priority": 62, "tag": "mine"}], epochs=1)))
    names = [type(hook).__name__ for hook in trainer.loop.hooks]
    assert names.index("EvalAndKeepBest") < names.index("CountSteps") < names.index("NormHistograms")
    assert trainer.train() is not None and trainer.outcome == FINISHED
    counter = _counter(trainer)
    steps = trainer.steps_per_epoch
    assert counter.tag == "mine" and counter.priority == 62 and (counter.steps, counter.epochs) == (steps, 1)
    assert [global_step for global_step, _, _ in counter.seen] == list(range(1, steps + 1))
    assert all(np.isfinite(loss) and batch == 256 for _, loss, batch in counter.seen)
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text(encoding="utf-8"))
    assert written["Hooks"] == [{"name": "CountSteps", "priority": 62, "tag": "mine"}]
    assert paddle.load(str(tmp_path / "run" / "latest.pdstates"))["hooks"] == {"CountSteps": {"steps": steps,
                                                                                             "epochs": 1}}


def test_without_stateful_hooks_the_checkpoint_holds_no_hook_states(tmp_path):
    trainer = Trainer(load_config(_yaml(tmp_path, [], epochs=1)))
    trainer.train()
    assert "hooks" not in paddle.load(str(tmp_path / "run" / "latest.pdstates"))


@pytest.mark.slow
def test_a_stopped_run_resumes_the_hook_state_exactly(tmp_path):
    whole = Trainer(load_config(_yaml(tmp_path, [{"name": "CountSteps"}], name="whole", epochs=3)))
    whole.train()
    stopped = Trainer(load_config(_yaml(tmp_path, [{"name": "CountSteps"}], epochs=3)))
    stop_at = stopped.steps_per_epoch + 2  # mid-epoch 2
    stopped.register_hooks([StopAt(stop_at)])
    assert stopped.train() is None and stopped.outcome == INTERRUPTED
    assert paddle.load(str(tmp_path / "run" / "latest.pdstates"))["hooks"]["CountSteps"] == {"steps": stop_at,
                                                                                           "epochs": 1}
    resumed = Trainer(load_config(_yaml(tmp_path, [{"name": "CountSteps"}], epochs=3),
                                  [f"Global.checkpoints={tmp_path / 'run' / 'latest'}"]))
    resumed.train()
    counter, reference = _counter(resumed), _counter(whole)
    assert counter.at_start == (stop_at, stop_at)  # restored before before_train
    assert (counter.steps, counter.epochs) == (reference.steps, reference.epochs) == (3 * whole.steps_per_epoch, 3)
    assert counter.seen == reference.seen[stop_at:]  # the same losses: the run continued exactly


@pytest.mark.parametrize("hooks, message", [
    ([{"name": "CountStep"}], "unknown hook 'CountStep' (did you mean 'CountSteps'?); valid: "),
    ([{"name": "CountSteps", "tags": "x"}], "unknown option 'tags' for Hooks[0] 'CountSteps' (did you mean 'tag'?)"),
    ([{"name": "CountSteps"}, {"name": "CountSteps", "priority": 101}],
     "Hooks[1] 'CountSteps': priority must be an integer from 0 (first) to 100 (last), got 101"),
    ([{"name": "CountSteps", "priority": "high"}], "priority must be an integer from 0 (first) to 100 (last), got 'high'"),
    ([{"name": "CountSteps", "priority": True}], "priority must be an integer from 0 (first) to 100 (last), got True"),
    ([{"priority": 3}], "Hooks[0] needs a 'name' (one of "),
    (["CountSteps"], "Hooks[0] must be a mapping, got 'CountSteps'"),
    ({"name": "CountSteps"}, "Hooks must be a list"),
])
def test_the_hooks_section_is_checked_at_load_time_in_one_line(tmp_path, hooks, message):
    with pytest.raises(ConfigError) as error:
        load_config(_yaml(tmp_path, hooks))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith(str(tmp_path / "run.yaml"))


def test_default_hooks_are_the_registered_ones_in_priority_order():
    settings = {"seed": 0, "print_batch_step": 1, "eval_interval": 1, "save_interval": 0}
    hooks = default_hooks(settings, ema=True)
    priorities = [hook.priority for hook in hooks]
    assert priorities == sorted(priorities) and len(set(priorities)) == len(priorities)
    assert {type(hook).__name__ for hook in hooks} <= set(HOOKS.names()) and "CountSteps" not in [
        type(hook).__name__ for hook in hooks]


class _Data:
    steps_per_epoch = 3

    def batches(self, epoch, skip=0):
        rng = np.random.default_rng(epoch)
        return [(paddle.to_tensor(rng.normal(size=(4, 3)).astype("float32")),
                 paddle.to_tensor(rng.integers(0, 2, size=(4, 1)).astype("int64")))
                for _ in range(3)][skip:]


def _loop(hooks=(), **services):
    paddle.seed(0)
    model = paddle.nn.Linear(3, 2)
    return TrainLoop(model, paddle.optimizer.SGD(learning_rate=0.25, parameters=model.parameters()), None, _Data(),
                     1, hooks=hooks, **services)


class Record(HookBase):
    def __init__(self, name, log, priority=NORMAL):
        self.name, self.log, self.priority = name, log, priority

    def after_step(self, ctx):
        self.log.append(self.name)
        if self.name == "metrics":
            self.log.append((ctx.metrics["loss"], ctx.metrics["top1"], ctx.metrics["lr"], ctx.last))


def test_the_loop_writes_loss_top1_and_lr_of_each_step_into_the_metric_store():
    log = []
    _loop([Record("metrics", log)]).train()
    values = [entry for entry in log if isinstance(entry, tuple)]
    assert len(values) == 3
    for loss, top1, lr, out in values:
        assert loss == out.loss and lr == 0.25 and top1 == top1_of(out) and 0.0 <= top1 <= 1.0


def test_register_hooks_places_a_hook_by_priority_and_the_loop_list_runs_as_given():
    log = []
    loop = _loop([Record("b", log, 20), Record("a", log, 10), Record("c", log, 80)])
    loop.register_hooks([Record("late", log, 90), Record("mid", log, 50), Record("tie", log, 20)])
    loop.train()
    assert log[:6] == ["b", "a", "tie", "mid", "c", "late"]
    assert [h.name for h in by_priority(loop.hooks)] == ["a", "b", "tie", "mid", "c", "late"]


def test_the_context_offers_the_services_the_owner_gave_and_names_what_it_lacks():
    saved = []
    loop = _loop(save=saved.append, evaluate=lambda: {"top1": 0.5, "samples": 3}, logger="L", rank=1,
                 extras={"history": "H"})
    ctx = loop.context
    assert isinstance(ctx, RunContext) and ctx.model is loop.model and ctx.logger == "L" and ctx.rank == 1
    ctx.save("latest")
    assert saved == ["latest"] and ctx.evaluate() == {"top1": 0.5, "samples": 3}
    assert ctx.last_eval["top1"] == 0.5 and ctx.metrics["eval/top1"] == 0.5 and ctx.history == "H"
    with pytest.raises(AttributeError, match="no 'run_step'.*history"):
        ctx.run_step  # noqa: B018 (reading it must raise)
    with pytest.raises(TypeError, match="without evaluate="):
        _loop().context.evaluate()


def test_the_metric_store_computes_a_lazy_value_once_and_names_the_written_ones():
    calls = []
    store = MetricStore()
    store.update({"loss": 1.5, "top1": lambda: calls.append(1) or 0.75})
    assert calls == [] and store["top1"] == 0.75 and store["top1"] == 0.75 and calls == [1]
    assert store.get("lr") is None and "loss" in store and store.names() == ["loss", "top1"]
    with pytest.raises(KeyError, match="no metric 'lr'; written so far: loss, top1"):
        store["lr"]


def test_hook_state_keys_are_class_names_numbered_when_repeated():
    first, second, plain = CountSteps(), CountSteps(), StopAt(1)
    assert hook_keys([first, plain, second]) == [("CountSteps", first), ("CountSteps#2", second)]
    first.steps, second.steps = 4, 7
    loop = _loop([first, plain, second])
    assert loop.hook_states() == {"CountSteps": {"steps": 4, "epochs": 0}, "CountSteps#2": {"steps": 7, "epochs": 0}}
    fresh = [CountSteps(), CountSteps()]
    resumed = _loop(fresh)
    resumed.restore_hook_states({"CountSteps#2": {"steps": 7, "epochs": 1}})
    assert fresh[1].steps == 0  # restored when training starts
    assert resumed.train() == FINISHED and (fresh[0].steps, fresh[1].steps, fresh[1].epochs) == (3, 10, 2)
