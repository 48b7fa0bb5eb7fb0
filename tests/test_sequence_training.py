"""The sequence model through the training tools: the ``waveforms`` data set (sequence + mask channel),
``seq_conv1d`` with ``mask_channel``, train / eval / export / infer, and one-line errors for mixed-up inputs."""
import os
import re

import numpy as np
import paddle
import pytest
from helpers import assert_says, error_line, run_tool

import ppnorm
from ppnorm.data import DataError, build_dataloader, check_same_sample_size
from ppnorm.data.waveforms import Waveforms, pad_batch, waveforms
from ppnorm.deploy.inputs import pad_to_longest, read_sequences
from ppnorm.deploy.predictor import PredictorError, _check_description
from ppnorm.engine.builder import check_input_kind
from ppnorm.engine.config import ConfigError

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

CONFIG = "configs/sequence/seq_conv1d.yaml"


def test_waveforms_samples_pack_the_padded_sequence_and_its_mask():
    data = Waveforms(num_samples=6, min_len=3, max_len=7, pad_to=9, seed=5, split="test")
    sequences, labels = waveforms(6, 3, 7, [5, 1])  # the test split's draw
    assert data.images.shape == (6, 2, 9) and data.classes == ["sine", "square", "triangle", "sawtooth"]
    np.testing.assert_array_equal(data.labels, labels)
    for sample, sequence in zip(data.images, sequences):
        n = len(sequence)
        np.testing.assert_array_equal(sample[0, :n], sequence)
        np.testing.assert_array_equal(sample[0, n:], 0)
        np.testing.assert_array_equal(sample[1], (np.arange(9) < n).astype("float32"))
    train = Waveforms(num_samples=6, min_len=3, max_len=7, seed=5)
    assert train.images.shape == (6, 2, 7)  # pad_to defaults to max_len
    assert not np.array_equal(train.images[:, 1].sum(1), data.images[:, 1].sum(1)) or \
        not np.array_equal(train.labels, data.labels)  # the splits are different draws
    np.testing.assert_array_equal(Waveforms(num_samples=6, min_len=3, max_len=7, seed=5).images, train.images)


@pytest.mark.parametrize("options, message", [
    ({"min_len": 0}, "waveforms: min_len must be an integer >= 1, got 0"),
    ({"min_len": 9, "max_len": 8}, "waveforms: max_len must be an integer >= 9 (and >= min_len), got 8"),
    ({"max_len": 8, "pad_to": 7}, "waveforms: pad_to must be an integer >= 8 (and >= max_len; null pads to max_len)"),
    ({"num_samples": True}, "waveforms: num_samples must be an integer >= 1, got True"),
    ({"noise": -0.1}, "waveforms: noise must be a finite number >= 0, got -0.1"),
    ({"noise": float("inf")}, "waveforms: noise must be a finite number >= 0"),
    ({"seed": -1}, "waveforms: seed must be an integer >= 0, got -1"),
    ({"split": "val"}, "waveforms: split must be one of train, test"),
])
def test_waveforms_options_are_checked(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Waveforms(**{"num_samples": 4, "min_len": 2, "max_len": 8, **options})


def test_mask_channel_model_equals_the_two_input_model():
    paddle.seed(1)
    packed = ppnorm.build_model("seq_conv1d", in_channels=2, mask_channel=True, widths=[8, 8], norm="bn_masked")
    plain = ppnorm.build_model("seq_conv1d", in_channels=1, widths=[8, 8], norm="bn_masked")
    plain.set_state_dict(packed.state_dict())
    x, mask = pad_batch(waveforms(5, 4, 12, seed=2)[0], 15)
    together = paddle.to_tensor(np.concatenate([x, mask[:, None]], axis=1))
    for mode in ("train", "eval"):
        getattr(packed, mode)(), getattr(plain, mode)()
        np.testing.assert_allclose(packed(together).numpy(), plain(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy(),
                                   rtol=1e-6, atol=1e-6)
    assert packed.input_kind == "sequence+mask" and plain.input_kind == "sequence"
    with pytest.raises(ValueError, match=re.escape("in_channels must be an integer >= 2 (with mask_channel the mask")):
        ppnorm.build_model("seq_conv1d", in_channels=1, mask_channel=True)
    with pytest.raises(ValueError, match="mask_channel must be true or false, got 'yes'"):
        ppnorm.build_model("seq_conv1d", mask_channel="yes")
    with pytest.raises(ValueError, match="takes the mask as the last channel of x, not as mask"):
        packed(together, paddle.to_tensor(mask))


def test_input_kind_check_names_model_data_and_fix():
    image_model, digits = ppnorm.build_model("simple_cnn", num_classes=10, in_channels=1), \
        ppnorm.data.DATASETS.build("digits", split="test")
    seq = Waveforms(num_samples=2)
    check_input_kind(image_model, digits, "simple_cnn")  # same kind: no error
    with pytest.raises(ConfigError, match=re.escape(
            "Arch.name=simple_cnn takes images [C, H, W] but DataLoader.Train.dataset yields padded sequences "
            "[C + 1, L] whose last channel is the padding mask; use Arch.name=seq_conv1d with Arch.mask_channel: true")):
        check_input_kind(image_model, seq, "simple_cnn")
    with pytest.raises(ConfigError, match=re.escape("yields images [C, H, W]; give it a sequence data set")):
        check_input_kind(ppnorm.build_model("seq_conv1d", in_channels=2, mask_channel=True), digits, "seq_conv1d")


def _section(**dataset):
    return {"dataset": {"name": "waveforms", "num_samples": 4, **dataset}, "transforms": [], "batch_size": 2}


def test_sequences_of_other_lengths_may_be_evaluated_but_not_other_channels_or_kinds():
    _, _, train = build_dataloader(_section(min_len=5, max_len=10))
    _, _, longer = build_dataloader(_section(min_len=20, max_len=30), where="DataLoader.Eval")
    check_same_sample_size(train, longer)  # [2, 10] vs [2, 30]: fine for a model that pools over valid steps
    image_section = {"dataset": {"name": "digits", "split": "test"}, "transforms": [], "batch_size": 2}
    _, _, images = build_dataloader(image_section)
    with pytest.raises(DataError, match=re.escape("DataLoader.Train.dataset yields sequence+mask samples but "
                                                  "DataLoader.Eval.dataset yields image samples")):
        check_same_sample_size(train, images)
    with pytest.raises(DataError, match=re.escape("DataLoader.Train.transforms are image transforms but "
                                                  "DataLoader.Train.dataset 'waveforms' yields sequences")):
        build_dataloader(dict(_section(), transforms=[{"Normalize": {"mean": [0.5], "std": [0.5]}}]),
                         where="DataLoader.Train")


def test_read_sequences_and_padding_for_infer(tmp_path):
    a = Waveforms(num_samples=2, min_len=3, max_len=5, seed=1).images
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "one.npy", a[0][:, :4])
    items = read_sequences(str(tmp_path / "a.npy"), 2) + read_sequences(str(tmp_path / "one.npy"), 2)
    assert [name.rsplit("/", 1)[-1] for name, _ in items] == ["a.npy[0]", "a.npy[1]", "one.npy[0]"]
    batch = pad_to_longest([s for _, s in items])
    assert batch.shape == (3, 2, 5)
    np.testing.assert_array_equal(batch[:2], a)
    np.testing.assert_array_equal(batch[2, :, :4], a[0][:, :4])
    np.testing.assert_array_equal(batch[2, :, 4], 0)
    bad = a.copy()
    bad[1, 1, 2] = 0.5
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(DataError, match=re.escape("the last channel is the padding mask and must hold only 0 and 1, "
                                                  "got 0.5 in sequence 1 at step 2 (1 such value(s))")):
        read_sequences(str(tmp_path / "bad.npy"), 2)
    bad = a.copy()
    bad[1, 1] = 0
    np.save(tmp_path / "empty.npy", bad)
    with pytest.raises(DataError, match=re.escape("sequence 1 has no real time step (its mask channel is all 0; "
                                                  "1 such sequence(s))")):
        read_sequences(str(tmp_path / "empty.npy"), 2)
    np.save(tmp_path / "img.npy", np.zeros((1, 2, 3, 3), "float32"))
    with pytest.raises(DataError, match=re.escape("expected numbers [C, L] or [N, C, L] with C=2")):
        read_sequences(str(tmp_path / "img.npy"), 2)
    with pytest.raises(DataError, match="this model reads sequences; give .npy arrays"):
        read_sequences(str(tmp_path / "x.png"), 2)


def test_inference_description_input_kind_sets_the_rank_of_input_shape():
    base = {"data_format": "NCHW", "channels": 2, "transforms": [], "classes": ["a"], "topk": [1]}
    _check_description(dict(base, input_kind="sequence+mask", input_shape=[2, 40]), "x.yml")
    _check_description(dict(base, input_shape=[2, 8, 8]), "x.yml")  # older exports: images
    for bad in ({"input_kind": "sequence+mask", "input_shape": [2, 8, 8]}, {"input_shape": [2, 40]},
                {"input_kind": "audio", "input_shape": [2, 40]}):
        with pytest.raises(PredictorError, match="is missing or invalid"):
            _check_description(dict(base, **bad), "x.yml")


def _tool(tool, *args):
    done = run_tool(tool, *args)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
@pytest.mark.e2e
def test_train_eval_export_infer_through_the_tools(tmp_path):
    run, exported = tmp_path / "run", tmp_path / "export"
    code, out, err = _tool("train", "-c", CONFIG, "-o", "Global.epochs=2", f"Global.output_dir={run}",
                           "DataLoader.Train.dataset.num_samples=512", "DataLoader.Eval.dataset.num_samples=100",
                           "Arch.widths=[8,8]", "Arch.norm=bn")
    assert code == 0, err
    top1 = float(re.search(r"\[Done\] top1 ([0-9.]+) on 100 eval samples", out).group(1))
    code, out, err = _tool("eval", "-c", str(run / "config.yaml"),
                           "-o", f"Global.pretrained_model={run / 'latest'}")
    assert code == 0, err
    assert float(re.search(r"top1: ([0-9.]+), samples: 100", out).group(1)) == pytest.approx(top1, abs=1e-4)
    code, out, err = _tool("export", "-c", str(run / "config.yaml"),
                           "-o", f"Global.pretrained_model={run / 'latest'}", f"Export.save_dir={exported}")
    assert code == 0, err
    assert "folded 2 BatchNorm layer(s)" in out and "--input <sequences.npy>" in out
    # sequences longer than trained on, of mixed lengths: the export's length axis is dynamic
    long = Waveforms(num_samples=3, min_len=50, max_len=70, seed=9).images
    np.save(tmp_path / "long.npy", long)
    code, out, err = _tool("infer", "--model_dir", str(exported), "--input", str(tmp_path / "long.npy"),
                           "--topk", "1")
    assert code == 0, err
    model = ppnorm.build_model("seq_conv1d", in_channels=2, mask_channel=True, widths=[8, 8], norm="bn")
    model.set_state_dict(paddle.load(str(run / "latest.pdparams")))
    model.eval()
    expected = model(paddle.to_tensor(long)).numpy().argmax(1)
    classes = ["sine", "square", "triangle", "sawtooth"]
    predicted = re.findall(r"long\.npy\[\d\]: (\w+) \(", out)
    assert predicted == [classes[i] for i in expected]


@pytest.mark.parametrize("overrides, parts", [  # the keys that disagree, in order, then the fix
    (["-c", "configs/digits/resnet20.yaml", "-o"] + [f"DataLoader.{m}.{key}" for m in ("Train", "Eval") for key in
                                                     ("dataset={name: waveforms}", "transforms=[]")],
     ("Arch.name=resnet20 ", "DataLoader.Train.dataset ", "padded sequences", "Arch.name=seq_conv1d",
      "Arch.mask_channel: true")),
    (["Arch.mask_channel=false"], ("Arch.name=seq_conv1d ", "a separate mask", "DataLoader.Train.dataset ",
                                   "[C + 1, L]")),
    (["DataLoader.Eval.transforms=[{Normalize: {mean: [0.5], std: [0.5]}}]"],
     ("DataLoader.Eval.transforms ", "DataLoader.Eval.dataset 'waveforms' ", "DataLoader.Eval.transforms: []")),
    (["Arch.in_channels=3"], ("Arch.in_channels=3 ", "DataLoader.Train.dataset ", "2-channel", "Arch.in_channels=2")),
    (["Arch.norm=gn"], ("error: Arch: seq_conv1d norm must be one of none, bn, bn_masked, ln, got 'gn'",)),
])
@pytest.mark.slow
@pytest.mark.e2e
def test_mixed_up_sequence_configs_are_one_line_and_write_no_weights(tmp_path, overrides, parts):
    run = tmp_path / "run"
    line = error_line(run_tool("train", "-c", CONFIG, "-o", "Global.epochs=1", "Global.use_visualdl=false",
                               f"Global.output_dir={run}", *overrides))  # a later -c replaces the first
    assert_says(line, *parts)
    assert not run.exists() or not any(name.endswith(".pdparams") for name in os.listdir(run))
