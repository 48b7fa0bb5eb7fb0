"""Data sets read tiny files built here in the exact real formats; transforms and sampling, in pixels."""
import gzip
import io
import pickle
import re
import struct
import tarfile

import numpy as np
import paddle
import pytest
from PIL import Image

from ppnorm.data import DataError, EpochBatchSampler, build_dataloader, build_dataset, build_transforms

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)


def test_digits_default_split():
    train, test = (build_dataset({"name": "digits", "split": split}) for split in ("train", "test"))
    assert (len(train), len(test)) == (1437, 360)
    assert np.bincount(test.labels).min() >= 35  # stratified: 35-37 of each digit
    image, label = train[0]
    assert image.shape == (1, 8, 8) and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
    assert build_dataset({"name": "digits", "resize": 16})[0][0].shape == (1, 16, 16)


# ------------------------------------------------------------------ CIFAR
def _add_pickle(archive, name, obj):
    data = pickle.dumps(obj, protocol=2)
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def make_cifar10(path, per_batch=4):
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as archive:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            _add_pickle(archive, f"cifar-10-batches-py/{name}", {
                b"batch_label": name.encode(), b"labels": list(rng.integers(0, 10, per_batch)),
                b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                b"filenames": [f"img{i}.png".encode() for i in range(per_batch)]})
        _add_pickle(archive, "cifar-10-batches-py/batches.meta", {
            b"label_names": [n.encode() for n in ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                  "horse", "ship", "truck"]], b"num_vis": 3072})


def make_cifar100(path, n=6):
    rng = np.random.default_rng(1)
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "test"):
            _add_pickle(archive, f"cifar-100-python/{split}", {
                b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"fine_labels": list(rng.integers(0, 100, n)), b"coarse_labels": list(rng.integers(0, 20, n))})
        _add_pickle(archive, "cifar-100-python/meta", {
            b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})


def test_cifar10_reads_the_python_archive(tmp_path):
    path = str(tmp_path / "cifar-10-python.tar.gz")
    make_cifar10(path)
    train = build_dataset({"name": "cifar10", "data_file": path, "split": "train"})
    test = build_dataset({"name": "cifar10", "data_file": path, "split": "test"})
    assert (len(train), len(test)) == (20, 4)
    assert train.classes[0] == "airplane" and train.num_classes == 10
    with tarfile.open(path) as archive:
        raw = pickle.load(archive.extractfile("cifar-10-batches-py/test_batch"), encoding="bytes")
    expected = raw[b"data"][1].reshape(3, 32, 32) / 255.0  # row-major R, G, B planes
    np.testing.assert_allclose(test[1][0], expected, atol=1e-7)
    assert test[1][1] == raw[b"labels"][1]


@pytest.mark.parametrize("kind, make", [("cifar10", make_cifar10), ("cifar100", make_cifar100)])
def test_cifar_reads_the_extracted_folder_like_the_archive(tmp_path, kind, make):
    path = str(tmp_path / "archive.tar.gz")
    make(path)
    with tarfile.open(path) as archive:
        archive.extractall(tmp_path / "data", filter="data")
    folder = next((tmp_path / "data").iterdir())  # cifar-10-batches-py / cifar-100-python
    for split in ("train", "test"):
        packed = build_dataset({"name": kind, "data_file": path, "split": split})
        for data_file in (folder, folder.parent):  # the extracted folder, or the folder holding it
            unpacked = build_dataset({"name": kind, "data_file": str(data_file), "split": split})
            assert np.array_equal(unpacked.images, packed.images) and np.array_equal(unpacked.labels, packed.labels)
            assert unpacked.classes == packed.classes
    test_file = folder / ("test_batch" if kind == "cifar10" else "test")
    test_file.unlink()
    with pytest.raises(DataError, match=rf"{kind}: {folder} is not a readable {folder.name} folder "
                                        rf"\(FileNotFoundError: .*{test_file.name}'\)$"):
        build_dataset({"name": kind, "data_file": str(folder), "split": "test"})


def test_cifar100_fine_and_coarse(tmp_path):
    path = str(tmp_path / "cifar-100-python.tar.gz")
    make_cifar100(path)
    fine = build_dataset({"name": "cifar100", "data_file": path})
    coarse = build_dataset({"name": "cifar100", "data_file": path, "split": "test", "label_type": "coarse"})
    assert fine.num_classes == 100 and coarse.num_classes == 20 and coarse.classes[3] == "coarse3"
    assert len(fine) == 6 and fine[0][0].shape == (3, 32, 32)


# ------------------------------------------------------------------ MNIST
def _idx(array, magic):
    header = struct.pack(">i", magic) + b"".join(struct.pack(">i", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_mnist(folder, n_train=5, n_test=3, compress=True):
    rng = np.random.default_rng(2)
    files = {"train-images-idx3-ubyte": _idx(rng.integers(0, 256, (n_train, 28, 28)), 2051),
             "train-labels-idx1-ubyte": _idx(rng.integers(0, 10, n_train), 2049),
             "t10k-images-idx3-ubyte": _idx(rng.integers(0, 256, (n_test, 28, 28)), 2051),
             "t10k-labels-idx1-ubyte": _idx(rng.integers(0, 10, n_test), 2049)}
    for name, data in files.items():
        if compress:
            with gzip.open(folder / (name + ".gz"), "wb") as handle:
                handle.write(data)
        else:
            (folder / name).write_bytes(data)
    return files


@pytest.mark.parametrize("name,compress", [("mnist", True), ("fashion_mnist", False)])
def test_mnist_idx_files(tmp_path, name, compress):
    files = make_mnist(tmp_path, compress=compress)
    test = build_dataset({"name": name, "data_dir": str(tmp_path), "split": "test"})
    assert len(test) == 3 and test[0][0].shape == (1, 28, 28)
    raw = np.frombuffer(files["t10k-images-idx3-ubyte"], dtype=np.uint8, offset=16).reshape(3, 28, 28)
    np.testing.assert_allclose(test[2][0][0], raw[2] / 255.0, atol=1e-7)
    assert test[2][1] == files["t10k-labels-idx1-ubyte"][8 + 2]
    assert (test.classes[0] == "T-shirt/top") == (name == "fashion_mnist")


# ------------------------------------------------------------------ image files
def _save_png(path, value, size=(6, 5)):
    Image.fromarray(np.full((size[1], size[0], 3), value, dtype=np.uint8)).save(path)


def test_image_folder_and_file_list(tmp_path):
    for cls, value in (("cat", 10), ("dog", 200)):
        (tmp_path / cls).mkdir()
        for i in range(2):
            _save_png(tmp_path / cls / f"{i}.png", value + i)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    folder = build_dataset({"name": "image_folder", "root": str(tmp_path)})
    assert folder.classes == ["cat", "dog"] and list(folder.labels) == [0, 0, 1, 1]
    image, label = folder[3]
    assert image.shape == (3, 5, 6) and label == 1 and image[0, 0, 0] == pytest.approx(201 / 255)
    listing = tmp_path / "train_list.txt"
    listing.write_text("dog/1.png 1\ncat/0.png 0\n\n")
    files = build_dataset({"name": "file_list", "list_file": str(listing), "root": str(tmp_path), "mode": "L"})
    assert len(files) == 2 and files[0][0].shape == (1, 5, 6) and files[0][1] == 1


# ------------------------------------------------------------------ transforms and sampling
def test_transforms_values():
    image = np.arange(2 * 4 * 6, dtype="float32").reshape(2, 4, 6)
    flip = build_transforms([{"RandomHorizontalFlip": {"prob": 1.0}}])(image, np.random.default_rng(0))
    np.testing.assert_array_equal(flip, image[:, :, ::-1])
    norm = build_transforms([{"Normalize": {"mean": [1.0, 2.0], "std": [2.0, 4.0]}}])(image, None)
    np.testing.assert_allclose(norm[1], (image[1] - 2.0) / 4.0)
    grey = np.full((1, 4, 6), 0.25, dtype="float32")
    shorter = build_transforms([{"Resize": {"size": 6}}])(grey, None)  # shorter side 4 -> 6: 6x9
    np.testing.assert_allclose(shorter, np.full((1, 6, 9), 0.25), atol=1e-6)
    with pytest.raises(ValueError, match=r"unknown option 'sizes' for transforms RandomCrop \(did you mean 'size'"):
        build_transforms([{"RandomCrop": {"sizes": 4}}])


def test_sampler_skips_batches_and_covers_all_ranks():
    sampler = EpochBatchSampler(10, 3, shuffle=True, seed=1)
    sampler.set_epoch(4, skip_batches=2)
    assert len(sampler) == len(list(sampler)) == 2
    ranks = [EpochBatchSampler(10, 2, shuffle=True, rank=r, nranks=3) for r in range(3)]
    seen = [i for s in ranks for batch in s for i in batch]
    assert len(seen) == 12 and set(seen) == set(range(10))  # 2 padded samples, every rank 4
    assert [len(list(s)) for s in ranks] == [2, 2, 2]
    assert len(list(EpochBatchSampler(10, 3, drop_last=True))) == 3


# ------------------------------------------------------------------ data semantics, in pixels (numpy reference)
def _crops(image, padding, size, fill=0.0):
    """Every crop RandomCrop may return, by (top, left), cut from numpy's own padding."""
    padded, (h, w) = np.pad(image, ((0, 0), (padding, padding), (padding, padding)), constant_values=fill), size
    return {(t, c): padded[:, t:t + h, c:c + w] for t in range(padded.shape[1] - h + 1)
            for c in range(padded.shape[2] - w + 1)}


def _offset(crops, out):
    (match,) = [k for k, crop in crops.items() if np.array_equal(crop, out)]  # exactly one crop matches
    return match


def test_random_crop_reaches_every_offset_and_the_full_padded_size():
    image = np.arange(1, 2 * 4 * 5 + 1, dtype="float32").reshape(2, 4, 5)
    crops = _crops(image, 1, (4, 4))  # padded 6x7: top 0..2, left 0..3
    crop = build_transforms([{"RandomCrop": {"size": 4, "padding": 1}}])
    assert {_offset(crops, crop(image, np.random.default_rng([0, i]))) for i in range(300)} == set(crops)
    full = build_transforms([{"RandomCrop": {"size": [6, 7], "padding": 1}}])(image, np.random.default_rng(0))
    np.testing.assert_array_equal(full, np.pad(image, ((0, 0), (1, 1), (1, 1))))


@pytest.mark.parametrize("shape,size,top,left", [((5, 7), (2, 4), 1, 1), ((6, 9), (3, 4), 1, 2),
                                                 ((4, 4), (4, 4), 0, 0)])
def test_center_crop_puts_the_odd_pixel_bottom_right(shape, size, top, left):
    image = np.arange(np.prod(shape), dtype="float32").reshape(1, *shape)
    out = build_transforms([{"CenterCrop": {"size": list(size)}}])(image, None)
    np.testing.assert_array_equal(out, image[:, top:top + size[0], left:left + size[1]])


def _loader(transforms=(), seed=5, layout="NCHW", workers=0):
    section = {"dataset": {"name": "synthetic", "num_samples": 24, "image_shape": [3, 5, 7], "noise": 0.1},
               "transforms": list(transforms), "batch_size": 8, "shuffle": True, "num_workers": workers}
    return build_dataloader(section, seed=seed, layout=layout)


def _epoch(loader, sampler, data, epoch, skip=0):
    """One epoch's (images, labels, indices) from batch ``skip`` on, batches concatenated."""
    sampler.set_epoch(epoch, skip)
    data.set_epoch(epoch)
    return [np.concatenate(field) for field in zip(*[[t.numpy() for t in batch] for batch in loader])]


def test_each_epoch_has_a_new_order_reproducible_from_the_seed():
    loader, sampler, data = _loader()
    orders = []
    for epoch in range(3):
        images, labels, order = _epoch(loader, sampler, data, epoch)
        assert sorted(order) == list(range(24))
        np.testing.assert_array_equal(images, data.dataset.images[order])
        np.testing.assert_array_equal(labels, data.dataset.labels[order])
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    np.testing.assert_array_equal(_epoch(*_loader(), 1)[2], orders[1])  # a new run, the same seed
    assert not np.array_equal(_epoch(*_loader(seed=6), 1)[2], orders[1])


def test_a_resumed_epoch_sees_the_batches_an_uninterrupted_one_would():
    loader, sampler, data = _loader([{"RandomCrop": {"size": 5, "padding": 2}}])
    for full, resumed in zip(_epoch(loader, sampler, data, 1), _epoch(loader, sampler, data, 1, skip=2)):
        np.testing.assert_array_equal(full[16:], resumed)  # 2 batches of 8 left out


def test_augmentation_differs_across_samples_and_epochs():
    loader, sampler, data = _loader([{"RandomCrop": {"size": [5, 7], "padding": 2, "fill": -1.0}}])
    offsets = {}
    for epoch in range(2):
        images, _, order = _epoch(loader, sampler, data, epoch)
        for image, i in zip(images, order):
            offsets[epoch, i] = _offset(_crops(data.dataset.images[i], 2, (5, 7), -1.0), image)
    assert len({offsets[0, i] for i in range(24)}) >= 10  # 25 offsets for 24 samples
    assert sum(offsets[0, i] != offsets[1, i] for i in range(24)) >= 20


def test_nhwc_batches_on_non_square_images():
    nchw, nhwc = (_epoch(*_loader([{"RandomHorizontalFlip": {}}], layout=layout), 0)[0] for layout in ("NCHW", "NHWC"))
    assert nhwc.shape == (24, 5, 7, 3)
    np.testing.assert_array_equal(nhwc, nchw.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("workers", [0, 2])
def test_batches_are_bitwise_those_of_paddle_dataloader(workers):
    loader, sampler, data = _loader([{"RandomCrop": {"size": 5, "padding": 1}}, {"RandomHorizontalFlip": {}}],
                                    layout="NHWC", workers=workers)
    sampler.set_epoch(1)
    data.set_epoch(1)
    reference = paddle.io.DataLoader(data, batch_sampler=sampler, return_list=True)
    for mine, theirs in zip(loader, reference, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            assert (a.dtype, a.shape, a.stop_gradient) == (b.dtype, b.shape, b.stop_gradient)
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("options, message", [
    ({"num_samples": 0}, "synthetic: num_samples must be an integer >= 1, got 0"),
    ({"num_classes": 0}, "synthetic: num_classes must be an integer >= 1, got 0"),
    ({"image_shape": [3, 0, 8]}, "synthetic: image_shape H must be an integer >= 1, got 0"),
    ({"image_shape": [8, 8]}, "synthetic: image_shape must be [C, H, W], got [8, 8]"),
    ({"image_shape": [1, 8, 8.5]}, "synthetic: image_shape W must be an integer >= 1, got 8.5"),
])
def test_synthetic_options_are_one_line_errors(options, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        build_dataset({"name": "synthetic", **options})
