"""Bad data through the real training tool: one 'error:' line naming the file and sample, never a hang.

Before the data pipeline read batches in the calling thread, most of these cases hung forever, so
every run here is a subprocess with a timeout. The table cases share one subprocess
(``helpers.run_steps``) to pay for Paddle's import once.
"""
import io
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import yaml
from helpers import error_line, image_folders, png, run_steps, start_tool
from PIL import Image

from ppnorm.data import DataError, align_classes, build_dataset
from test_data import _idx, make_cifar100, make_mnist

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

TIMEOUT = 60


def _config(tmp, name, train=None, eval=None, workers=0, **glob):
    """A simple_cnn run on ``{t}/train`` and ``{t}/eval``, ``{t}`` being ``tmp``; ``train``/``eval`` update loaders."""
    loaders = {mode: {"batch_size": 4, "num_workers": workers, "shuffle": mode == "Train",
                      "dataset": {"name": "image_folder", "root": f"{{t}}/{mode.lower()}"}, **(update or {})}
               for mode, update in (("Train", train), ("Eval", eval))}
    config = {"Global": {"device": "cpu", "epochs": 1, "output_dir": f"{{t}}/out/{name}", "save_interval": 0,
                         "eval_interval": 1, "use_visualdl": False, **glob},
              "Arch": {"name": "simple_cnn"}, "Loss": {"name": "CrossEntropy"}, "Metric": {"topk": [1]},
              "Optimizer": {"name": "Momentum", "momentum": 0.9, "lr": {"name": "Cosine", "learning_rate": 0.1}},
              "DataLoader": loaders}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config).replace("{t}", str(tmp)))
    return str(path)


def _train_tool(config):
    return start_tool("train", "-c", config)


# ------------------------------------------------------------------ through tools/train.py itself
@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("workers,split", [(0, "train"), (2, "eval")])
def test_truncated_image_ends_the_run_with_one_line(tmp_path, workers, split):
    image_folders(tmp_path)
    bad = tmp_path / split / "b" / "2.png"
    bad.write_bytes(bad.read_bytes()[:60])
    start, process = time.monotonic(), _train_tool(_config(tmp_path, "corrupt", workers=workers))
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert time.monotonic() - start < 30
    where = "Train" if split == "train" else "Eval"  # sample 6: a/0-3, b/0, b/1, then b/2
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    error_line(result, f"{where}.dataset: sample 6", str(bad), "cannot decode")


@pytest.mark.slow
@pytest.mark.e2e
def test_ctrl_c_with_workers_saves_latest_and_exits(tmp_path):
    image_folders(tmp_path)
    process = _train_tool(_config(tmp_path, "ctrl_c", workers=2, epochs=1000, print_batch_step=1))
    try:
        next(line for line in process.stdout if line.startswith("[Train]"))
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert (tmp_path / "out" / "ctrl_c" / "latest.pdparams").exists()


# ------------------------------------------------------------------ the table, through train_main in one subprocess
def _list(name, split="eval", **options):
    return {"dataset": {"name": "file_list", "list_file": "{t}/" + name, "root": "{t}/" + split, **options}}


def _transform(spec):
    return {"train": {"transforms": [spec]}}


CASES = {  # name: (config options, files to write, fragments of the error line; None: the run must succeed)
    "mixed_sizes": ({"workers": 2, "train": {"dataset": {"name": "image_folder", "root": "{t}/mixed"}}}, {},
                    ["DataLoader.Train.dataset: sample", "mixed/b/9.png", "3x8x10", "Resize"]),
    "list_missing_file": ({"eval": _list("missing.txt")}, {"missing.txt": b"a/0.png 0\nb/7.png 1\n"},
                          ["missing.txt line 2: image file not found", "eval/b/7.png"]),
    "list_not_utf8": ({"train": _list("latin1.txt")}, {"latin1.txt": "a/0.png 0\ncaf\xe9 1\n".encode("latin-1")},
                      ["latin1.txt line 2 is not UTF-8", "0xe9"]),
    "list_with_bom": ({"eval": _list("bom.txt")}, {"bom.txt": "\ufeffa/0.png 0\nb/1.png 1\n".encode()}, None),
    "negative_label": ({"eval": _list("negative.txt")}, {"negative.txt": b"a/0.png 0\nb/1.png -1\n"},
                       ["negative.txt line 2: label -1 is negative"]),
    "label_beyond_classes": ({"eval": _list("named.txt", class_names=["a", "b"])}, {"named.txt": b"a/0.png 2\n"},
                             ["named.txt (2 class_names): sample 0 has label 2, outside 0..1"]),
    "random_crop_too_large": (_transform({"RandomCrop": {"size": 11, "padding": 1}}), {},
                              ["Train.dataset: sample 0", "size 11x11 is larger than the padded image 10x10"]),
    "center_crop_too_large": ({"eval": {"transforms": [{"CenterCrop": {"size": [9, 4]}}]}}, {},
                              ["Eval.dataset: sample 0", "CenterCrop: size 9x4 is larger than the image 8x8"]),
    "normalize_channels": ({"train": {"dataset": {"name": "image_folder", "root": "{t}/train", "mode": "L"},
                                      "transforms": [{"Normalize": {"mean": [0.5] * 3, "std": [0.2] * 3}}]}}, {},
                           ["Train.dataset: sample 0", "3 mean/std values for an image with 1 channel(s)"]),
    "size_string": (_transform({"RandomCrop": {"size": "8"}}), {}, ["Train.transforms: RandomCrop: size must be"]),
    "resize_zero": (_transform({"Resize": {"size": 0}}), {}, ["Train.transforms: Resize: size must be a positive"]),
    "nan_mean": (_transform({"Normalize": {"mean": [float("nan")], "std": [1.0]}}), {},
                 ["DataLoader.Train.transforms[0].Normalize.mean[0] must be a finite number, got nan"]),
    "tiny_std": (_transform({"Normalize": {"mean": [0.5], "std": [1e-45]}}), {}, ["Normalize: std must be", "1e-06"]),
    "flip_prob": (_transform({"RandomHorizontalFlip": {"prob": "often"}}), {}, ["prob must be a finite number"]),
    "nan_in_data": ({"train": {"dataset": {"name": "synthetic", "num_samples": 8, "image_shape": [3, 8, 8],
                                           "num_classes": 2, "noise": float("nan")}}}, {},
                    ["DataLoader.Train.dataset.noise must be a finite number, got nan"]),  # refused at load
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Write every case's files and config, run them all in one subprocess; name -> CompletedProcess."""
    tmp = tmp_path_factory.mktemp("cases")
    image_folders(tmp, ("train", "eval", "mixed"))
    png(tmp / "mixed" / "b" / "9.png", size=(10, 8))
    configs = {}
    for name, (options, files, _) in CASES.items():
        for file, data in files.items():
            (tmp / file).write_bytes(data)
        configs[name] = _config(tmp, name, **options)
    return run_steps([(name, "train", ["-c", config]) for name, config in configs.items()], TIMEOUT * 2)


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("name", list(CASES))
def test_bad_data_through_train_main(outcomes, name):
    assert name in outcomes, f"case {name} did not finish (a hang?)"
    result = outcomes[name]
    if CASES[name][2] is None:
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    else:
        error_line(result, *CASES[name][2])


# ------------------------------------------------------------------ the same checks through the Python API
def test_image_modes_are_converted_like_pillow_or_refused(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    (tmp_path / "a").mkdir()
    for mode, file in (("CMYK", "0.jpg"), ("LA", "1.png"), ("P", "2.png"), ("RGBA", "3.png")):
        Image.fromarray(rgb).convert(mode).save(tmp_path / "a" / file)
    Image.fromarray(np.full((5, 6), 40000, dtype=np.uint16)).save(tmp_path / "a" / "4.png")
    data = build_dataset({"name": "image_folder", "root": str(tmp_path)})
    for index, path in enumerate(data.paths[:4]):
        with Image.open(path) as image:
            assert image.mode in ("CMYK", "LA", "P", "RGBA")
            expected = np.asarray(image.convert("RGB"), dtype="float32").transpose(2, 0, 1) / 255.0
        np.testing.assert_array_equal(data[index][0], expected)
    with pytest.raises(DataError, match=r"4.png has mode I.* \(16/32-bit\); save it as 8-bit RGB or L"):
        data[4]


def test_image_file_errors(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=rf"^image_folder: directory not found: {tmp_path / 'none'}; expected root/"):
        build_dataset({"name": "image_folder", "root": str(tmp_path / "none")})
    monkeypatch.chdir(tmp_path)  # a relative path names the folder it was looked for in
    with pytest.raises(DataError, match=rf"^image_folder: directory not found: data/none \(in {tmp_path}\); expected"):
        build_dataset({"name": "image_folder", "root": "data/none"})
    with pytest.raises(DataError, match=rf"^cifar10: file not found: c.tar.gz \(in {tmp_path}\); expected"):
        build_dataset({"name": "cifar10", "data_file": "c.tar.gz"})
    listing = tmp_path / "list.txt"
    listing.write_text("a.png 0\nb.png\n")
    png(tmp_path / "a.png")
    with pytest.raises(DataError, match=r"list.txt line 2: expected 'path label', got 'b.png'"):
        build_dataset({"name": "file_list", "list_file": str(listing), "root": str(tmp_path)})
    listing.write_text("broken.png 0\n")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    files = build_dataset({"name": "file_list", "list_file": str(listing), "root": str(tmp_path)})
    with pytest.raises(DataError, match=r"cannot decode image .*broken.png \(UnidentifiedImageError"):
        files[0]


def test_cifar_missing_and_corrupt_files_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match=r"cifar10: file not found: .*nope.tar.gz; expected cifar-10-python.tar.gz"):
        build_dataset({"name": "cifar10", "data_file": str(tmp_path / "nope.tar.gz")})
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"this is not a tar file")
    with pytest.raises(DataError, match=r"is not a readable cifar-10-python.tar.gz \(ReadError: [^\n]*$"):
        build_dataset({"name": "cifar10", "data_file": str(bad)})
    make_cifar100(str(tmp_path / "c100.tar.gz"))
    with pytest.raises(DataError, match="KeyError"):
        build_dataset({"name": "cifar10", "data_file": str(tmp_path / "c100.tar.gz")})


def test_mnist_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"mnist: file not found: .*train-images-idx3-ubyte.gz"):
        build_dataset({"name": "mnist", "data_dir": str(tmp_path)})
    make_mnist(tmp_path, compress=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros(5), 2051))  # an images magic number
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte is not a valid idx file \(magic number 2051"):
        build_dataset({"name": "mnist", "data_dir": str(tmp_path)})
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.array([3, 10, 1]), 2049))
    with pytest.raises(DataError, match=r"mnist: .*t10k-labels-idx1-ubyte: sample 1 has label 10, outside 0..9"):
        build_dataset({"name": "mnist", "data_dir": str(tmp_path), "split": "test"})


def test_eval_classes_are_matched_by_name(tmp_path):
    for name, classes in (("train", "abc"), ("eval", "ac"), ("other", "ad")):
        image_folders(tmp_path, (name,), classes)
    train, evaluation, other = (build_dataset({"name": "image_folder", "root": str(tmp_path / n)})
                                for n in ("train", "eval", "other"))
    assert list(align_classes(train, evaluation).labels) == [0] * 4 + [2] * 4 and evaluation.classes == list("abc")
    with pytest.raises(DataError, match=r"DataLoader.Eval.dataset has class\(es\) 'd' that DataLoader.Train"):
        align_classes(train, other)
    with pytest.raises(DataError, match=r"model of 2 classes\): sample 4 has label 2, outside 0..1"):
        align_classes(train, evaluation, num_classes=2)




class _RunsCode:
    """Unpickling this runs ``touch <marker>``: the classic payload of a poisoned pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("member", ["cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/batches.meta"])
def test_a_cifar_archive_whose_pickle_runs_code_is_refused_before_it_runs(tmp_path, member):
    import pickle
    import tarfile
    from test_data import make_cifar10
    clean, poisoned, marker = tmp_path / "clean.tar.gz", tmp_path / "cifar-10-python.tar.gz", tmp_path / "PWNED"
    make_cifar10(str(clean))
    assert pickle.loads(pickle.dumps(_RunsCode(tmp_path / "probe"))) == 0 and (tmp_path / "probe").exists()
    with tarfile.open(clean) as source, tarfile.open(poisoned, "w:gz") as target:
        for info in source.getmembers():
            data = pickle.dumps({b"data": _RunsCode(marker)}) if info.name == member else source.extractfile(info).read()
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match=rf"^cifar10: {poisoned}: refused to load: it asks for posix.system, which a "
                                        r"CIFAR batch never needs"):
        build_dataset({"name": "cifar10", "data_file": str(poisoned), "split": "train"})
    assert not marker.exists()
