"""sequence_norm: masked BN, masked pooling and per-time-step LN against numpy; the waveform generator's
determinism; the seq_conv1d model; the experiment's data, batch / padding gaps, cell and claims.
(The framework's seeding, runs, aggregation and verdicts: tests/test_experiment_framework.py.)"""

import numpy as np
import paddle
import pytest
from experiment_runs import quick_context

import ppnorm
from ppnorm.data.waveforms import pad_batch, waveforms
from ppnorm.engine.config import ConfigError
from ppnorm.engine.loop import TrainLoop
from ppnorm.experiments import experiments, sequence_norm
from ppnorm.experiments.config import load_experiment_config
from ppnorm.nn.norm import build_norm
from ppnorm.nn.sequence import MaskedBatchNorm1D, TimeLayerNorm, masked_batch_norm, masked_mean


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 3.0, size=(3, 4, 6)).astype("float32")
    mask = np.zeros((3, 6), dtype="float32")
    for i, n in enumerate((6, 2, 4)):
        mask[i, :n] = 1.0
    return x, mask


def test_masked_batch_norm_forward_and_gradient_match_numpy():
    x, mask = _batch()
    gamma, beta = np.array([1.0, 2.0, 0.5, -1.0], "float32"), np.array([0.0, 1.0, -1.0, 0.5], "float32")
    dy = np.random.default_rng(1).normal(size=x.shape).astype("float32")
    xt, w, b = (paddle.to_tensor(a, stop_gradient=False) for a in (x, gamma, beta))
    y, mean, var = masked_batch_norm(xt, paddle.to_tensor(mask), w, b, epsilon=1e-5)
    (y * paddle.to_tensor(dy)).sum().backward()
    m = mask[:, None, :]
    valid = np.stack([x[:, c, :][mask > 0] for c in range(4)])  # [C, number of valid steps]
    mu, sigma2 = valid.mean(1), valid.var(1)
    xhat = (x - mu[None, :, None]) / np.sqrt(sigma2[None, :, None] + 1e-5)
    np.testing.assert_allclose(mean.numpy(), mu, rtol=1e-5)
    np.testing.assert_allclose(var.numpy(), sigma2, rtol=1e-5)
    np.testing.assert_allclose(y.numpy(), (xhat * gamma[None, :, None] + beta[None, :, None]) * m, atol=1e-5)
    g = dy * m  # only valid positions reach the loss
    count = mask.sum()
    dxhat = g * gamma[None, :, None]
    dx = (dxhat - dxhat.sum((0, 2), keepdims=True) / count
          - xhat * (dxhat * xhat * m).sum((0, 2), keepdims=True) / count) / np.sqrt(sigma2[None, :, None] + 1e-5) * m
    np.testing.assert_allclose(xt.grad.numpy(), dx, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), (g * xhat).sum((0, 2)), rtol=1e-4)
    np.testing.assert_allclose(b.grad.numpy(), g.sum((0, 2)), rtol=1e-5)


def test_masked_batch_norm_layer_running_stats_and_eval():
    x, mask = _batch()
    layer = MaskedBatchNorm1D(4, momentum=0.9)
    layer(paddle.to_tensor(x), paddle.to_tensor(mask))
    valid = np.stack([x[:, c, :][mask > 0] for c in range(4)])
    np.testing.assert_allclose(layer._mean.numpy(), 0.1 * valid.mean(1), rtol=1e-5)
    np.testing.assert_allclose(layer._variance.numpy(), 0.9 + 0.1 * valid.var(1), rtol=1e-5)
    layer.eval()
    out = layer(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy()
    expected = (x - layer._mean.numpy()[None, :, None]) / np.sqrt(layer._variance.numpy()[None, :, None] + 1e-5)
    np.testing.assert_allclose(out, expected * mask[:, None, :], atol=1e-5)


def test_masked_mean_matches_numpy():
    x, mask = _batch()
    got = masked_mean(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy()
    expected = np.stack([x[i][:, mask[i] > 0].mean(1) for i in range(3)])
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_time_layer_norm_normalizes_channels_of_each_time_step():
    x, _ = _batch()
    got = TimeLayerNorm(4)(paddle.to_tensor(x)).numpy()
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)  # over C, separately for every (n, t)
    np.testing.assert_allclose(got, (x - mu) / np.sqrt(var + 1e-5), atol=1e-4)
    # the factory's dims=1 LayerNorm is built for [N, K]: on [N, C, L] it normalizes the LAST axis (time)
    last_axis = build_norm("ln", 6, dims=1)(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(last_axis, (x - x.mean(2, keepdims=True)) / np.sqrt(x.var(2, keepdims=True) + 1e-5),
                               atol=1e-4)
    assert np.abs(last_axis - got).max() > 0.1


def test_waveforms_are_deterministic_from_their_seed():
    a, la = waveforms(20, 10, 60, seed=3)
    b, lb = waveforms(20, 10, 60, seed=3)
    c, _ = waveforms(20, 10, 60, seed=4)
    assert all(np.array_equal(s, t) for s, t in zip(a, b)) and np.array_equal(la, lb)
    assert not all(len(s) == len(t) and np.allclose(s, t) for s, t in zip(a, c))
    assert {len(s) for s in a} <= set(range(10, 61)) and set(la) <= {0, 1, 2, 3}
    x, mask = pad_batch(a)
    assert x.shape == (20, 1, max(len(s) for s in a)) and mask.sum() == sum(len(s) for s in a)
    np.testing.assert_array_equal(x[0, 0, :len(a[0])], a[0])


@pytest.mark.parametrize("norm", ["none", "bn", "bn_masked", "ln"])
def test_seq_conv1d_ignores_padding_in_eval(norm):
    paddle.seed(0)
    model = ppnorm.build_model("seq_conv1d", widths=[8, 8], num_classes=4, norm=norm)
    model.eval()
    seqs, _ = waveforms(4, 10, 30, seed=0)
    x, mask = pad_batch(seqs)
    batched = model(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy()
    alone = np.concatenate([model(paddle.to_tensor(s[None, None, :])).numpy() for s in seqs])
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    with pytest.raises(ValueError, match="seq_conv1d norm must be one of none, bn, bn_masked, ln, got .gn."):
        ppnorm.build_model("seq_conv1d", norm="gn")


def test_the_data_are_the_waveforms_data_set_packed_with_their_mask():
    samples, labels = sequence_norm.waveform_tensors(5, [8, 16], 7, "test")
    sequences, expected = waveforms(5, 8, 16, [7, 1])  # the test split's draw of seed 7
    x, mask = pad_batch(sequences, 16)
    np.testing.assert_array_equal(samples.numpy(), np.concatenate([x, mask[:, None]], axis=1))
    np.testing.assert_array_equal(labels.numpy(), expected)


@pytest.mark.parametrize("norm, zero_gaps", [("ln", ("eval_gap", "pad_gap", "alone_gap")),
                                             ("bn_masked", ("eval_gap", "pad_gap")), ("bn", ("eval_gap",))])
def test_batch_gaps_are_zero_exactly_where_the_norm_ignores_batch_and_padding(norm, zero_gaps):
    paddle.seed(0)
    model = ppnorm.build_model("seq_conv1d", in_channels=2, mask_channel=True, widths=[8, 8], norm=norm)
    sequences, _ = waveforms(6, 5, 20, seed=1)
    gaps = sequence_norm.batch_gaps(model, sequences, extra_pad=10)
    for gap, value in gaps.items():
        assert (value < 1e-5) if gap in zero_gaps else (value > 1e-3), (gap, value)
    plain = ppnorm.build_model("seq_conv1d", in_channels=1, widths=[8, 8], norm=norm)
    plain.set_state_dict(model.state_dict())
    plain.eval()
    x, mask = pad_batch(sequences, 30)
    np.testing.assert_allclose(sequence_norm.logits(model, sequences, 30),
                               plain(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy(), rtol=1e-5, atol=1e-6)


def test_the_claims_are_accuracy_differences_paired_by_seed_on_one_split():
    claims = sequence_norm._claims(dict(sequence_norm.DEFAULTS))
    assert [(c.a["norm"], c.b["norm"], c.metric, c.side, c.paired) for c in claims.values()] == [
        ("ln", "none", "acc_mix_pct", "greater", True), ("ln", "bn", "acc_mix_pct", "greater", True),
        ("ln", "bn", "acc_short_pct", "greater", True), ("ln", "bn", "acc_long_pct", "greater", True),
        ("ln", "bn_masked", "acc_long_pct", "greater", True), ("bn_masked", "bn", "acc_long_pct", "greater", True)]
    assert list(sequence_norm._claims(dict(sequence_norm.DEFAULTS, norms=["ln", "bn"]))) == [
        "ln_beats_bn_mix", "ln_beats_bn_short", "ln_beats_bn_long"]
    _, settings, params = load_experiment_config("configs/experiments/sequence_norm.yaml", [], experiments())
    resolved = sequence_norm.EXPERIMENT.resolve(params, settings["claims"])
    assert {(c.sesoi, c.expected, c.margin) for c in resolved.values()} == {(2.0, 2.0, 0.0)}
    with pytest.raises(ConfigError, match="params.norms must be some of none, bn, bn_masked, ln"):
        load_experiment_config("configs/experiments/sequence_norm.yaml", ["params.norms=[ln, gn]"], experiments())


def test_full_preset_trains_longer_on_more_data():
    _, settings, params = load_experiment_config("configs/experiments/sequence_norm_full.yaml", [], experiments())
    assert (params["epochs"], params["train_size"], params["seeds"]) == (20, 4000, 30)
    assert settings["output_dir"].endswith("sequence_norm_full")


@pytest.mark.slow
def test_the_cell_trains_through_the_engine_loop_and_measures_accuracy_by_numpy(tmp_path, monkeypatch):
    built, steps = [], []
    build, run_step = sequence_norm.build_model, TrainLoop.run_step
    monkeypatch.setattr(sequence_norm, "build_model", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    monkeypatch.setattr(TrainLoop, "run_step", lambda loop, batch: steps.append(batch[0].shape) or run_step(loop, batch))
    ctx = quick_context(sequence_norm, tmp_path)
    params = ctx.params
    ctx.seed_everything(3)
    m = sequence_norm.cell(ctx, {"norm": "bn"}, 3)
    assert len(steps) == params["epochs"] * (params["train_size"] // params["batch"]) and steps[0] == [64, 2, 40]
    (model,) = built
    model.eval()
    for k, (split, key) in enumerate(sequence_norm.SPLITS.items()):
        samples, labels = sequence_norm.waveform_tensors(params["test_size"], params[key], 10_000 + 300 + k, "test")
        predicted = model(samples).numpy().argmax(axis=1)
        assert m[f"acc_{split}_pct"] == pytest.approx(100 * (predicted == labels.numpy()).mean())
    assert len(m["acc_mix_curve"]) == params["epochs"] and m["acc_mix_curve"][-1] == pytest.approx(m["acc_mix_pct"])
    assert m["pad_gap"] > 1e-3 and m["eval_gap"] < 1e-4
