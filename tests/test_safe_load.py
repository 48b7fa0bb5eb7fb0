"""Weights files are unpickled safely: a file that would run code is refused before any of it runs, and real
files of every origin load exactly as ``paddle.load`` loads them (the tools end to end: test_safe_load_tools.py)."""
import _compat_pickle
import copyreg
import glob
import hashlib
import importlib
import importlib.util
import io
import os
import pickle
import sys
import tarfile
import zipfile

import numpy as np
import paddle
import pytest
from helpers import message_of

import ppnorm
from ppnorm.engine import CheckpointError, load_checkpoint, load_pretrained, save_checkpoint
from ppnorm import safe_pickle
from ppnorm.weights import read_file
from ppnorm.engine.ema import ModelEma
from ppnorm.models import pretrained as pretrained_module

from malicious_pickles import memo_stack_global, payloads

pytestmark = pytest.mark.oldest_paddle  # runs on the oldest supported Paddle too (.ci/run)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "weights")
REFUSED = ("which a Paddle {what} file never needs (they hold only arrays, numbers, strings and containers) and "
           "which could run code; nothing of it was run: use a file from a source you trust")


def refusal(path, name, what="weights"):
    return f"{path}: refused to load: it asks for {name}, " + REFUSED.format(what=what)


def _message(function, *args, **kwargs):
    return message_of(CheckpointError, function, *args, **kwargs)


# ------------------------------------------------------------------ the payloads are live; every one is refused
def test_every_payload_runs_its_code_under_plain_pickle(tmp_path):
    """The control: without the check each payload does create its marker, so the tests below can fail."""
    marker = tmp_path / "marker"
    for name, (data, _) in payloads(marker).items():
        try:
            pickle.loads(data)
        except Exception:  # noqa: BLE001 - some calls fail after running (os.system returns an int, fine)
            pass
        assert marker.exists(), name
        marker.unlink()


def test_every_payload_is_refused_by_read_file_naming_file_and_global(tmp_path):
    marker = tmp_path / "marker"
    for index, (name, (data, what)) in enumerate(payloads(marker).items()):
        path = tmp_path / f"w{index}.pdparams"
        path.write_bytes(data)
        assert _message(read_file, str(path), "weights") == refusal(path, what), name
        assert not marker.exists(), name


def test_the_refusal_is_one_printable_line_even_for_a_crafted_name(tmp_path):
    path = tmp_path / "w.pdparams"
    path.write_bytes(memo_stack_global("os\nerror: all fine", "system", "true"))
    message = _message(read_file, str(path), "weights")
    assert "\n" not in message and "it asks for 'os\\nerror: all fine.system'," in message


def test_a_dotted_name_or_another_callable_of_an_allowed_module_is_refused(tmp_path):
    """Only exact (module, name) pairs pass: no attribute of an allowed class, no other numpy function, and
    _codecs.encode only with the latin1 codec protocol 2 writes bytes with."""
    for module, name in (("collections", "OrderedDict.fromkeys"), ("numpy", "load"), ("builtins", "getattr"),
                         ("numpy.core.multiarray", "_reconstruct.__globals__")):
        path = tmp_path / "w.pdparams"
        path.write_bytes(memo_stack_global(module, name, "x"))
        assert _message(read_file, str(path), "weights") == refusal(path, f"{module}.{name}")
    path.write_bytes(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R.")
    assert pickle.loads(path.read_bytes()) == "nop"  # the control: a real call of another codec
    assert _message(read_file, str(path), "weights") == refusal(path, "_codecs.encode with the codec 'rot13'")


def test_a_copyreg_extension_code_is_refused_even_once_a_plain_load_cached_it(tmp_path):
    """EXT opcodes name a global by a number a library registered; after one plain load the unpickler takes it
    from a cache without asking find_class, so every extension code is refused."""
    marker = tmp_path / "marker"
    command = f"touch {marker}".encode()
    data = b"\x80\x02\x83\x11\x7a" + b"X" + len(command).to_bytes(4, "little") + command + b"\x85R."  # EXT2
    (tmp_path / "w.pdparams").write_bytes(data)
    expected = refusal(tmp_path / "w.pdparams", "copyreg extension code 31249")
    copyreg.add_extension("posix", "system", 0x7A11)
    try:
        assert _message(read_file, str(tmp_path / "w.pdparams"), "weights") == expected
        pickle.loads(data)  # the control: plain pickle runs it (and caches code 0x7A11 -> posix.system)
        assert marker.exists()
        marker.unlink()
        assert _message(read_file, str(tmp_path / "w.pdparams"), "weights") == expected
    finally:
        copyreg.remove_extension("posix", "system", 0x7A11)
    assert not marker.exists()


def test_containers_paddle_load_does_not_read_are_not_unpacked(tmp_path):
    """paddle.load reads no zip or tar; such a file (e.g. a torch-style zip with a payload) is unreadable."""
    marker = tmp_path / "marker"
    data = payloads(marker)["os.system protocol 2"][0]
    with zipfile.ZipFile(tmp_path / "w.pdparams", "w") as archive:
        archive.writestr("archive/data.pkl", data)
    with tarfile.open(tmp_path / "t.pdparams", "w") as archive:
        info = tarfile.TarInfo("data.pkl")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    for path in (tmp_path / "w.pdparams", tmp_path / "t.pdparams"):
        message = _message(read_file, str(path), "weights")
        assert message.startswith(f"{path} cannot be read as Paddle weights (") and "truncated or not a" in message
    assert not marker.exists()


def test_allowed_names_are_not_renamed_by_the_python_2_import_mapping():
    """find_class checks the name as written; the base class then maps Python 2 names, which must not touch ours."""
    for module, name in safe_pickle.ALLOWED:
        assert module not in _compat_pickle.IMPORT_MAPPING and (module, name) not in _compat_pickle.NAME_MAPPING
        assert callable(importlib.import_module(module).__dict__[name]) or name == "ndarray"


# ------------------------------------------------------------------ through every loading path of the API
def _tiny():
    model = paddle.nn.Sequential(paddle.nn.Linear(3, 2), paddle.nn.BatchNorm1D(2))
    return model, paddle.optimizer.Momentum(learning_rate=0.1, parameters=model.parameters())


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plant(prefix, suffix, data):
    """Replace ``prefix + suffix`` by ``data`` and, as an attacker would, its hash in ``.pdstates``."""
    target = prefix.parent / (prefix.name + suffix)
    target.write_bytes(data)
    if suffix != ".pdstates":
        states_file = prefix.parent / (prefix.name + ".pdstates")
        states = paddle.load(str(states_file))
        states["files"][suffix] = _sha(target)
        paddle.save(states, str(states_file))


@pytest.mark.parametrize("suffix,what", [(".pdstates", "training states"), (".pdparams", "weights"),
                                         (".pdtrain", "weights"), (".pdopt", "optimizer state")])
def test_a_payload_in_any_file_of_a_real_checkpoint_is_refused_on_resume(tmp_path, suffix, what):
    model, optimizer = _tiny()
    model(paddle.ones([4, 3])).sum().backward()
    optimizer.step()
    ema = ModelEma(model, 0.9)
    save_checkpoint(str(tmp_path / "ck"), model, optimizer,
                    {"epoch": 1, "step": 0, "global_step": 4, "best_top1": 0.5, "best_epoch": 1}, ema)
    load_checkpoint(str(tmp_path / "ck"), *_tiny(), ModelEma(_tiny()[0], 0.9))  # the real checkpoint loads
    marker = tmp_path / "marker"
    name = "in a state_dict protocol 4" if suffix != ".pdstates" else "STACK_GLOBAL through the memo"
    data, named = payloads(marker)[name]
    _plant(tmp_path / "ck", suffix, data)
    model, optimizer = _tiny()
    assert _message(load_checkpoint, str(tmp_path / "ck"), model, optimizer, ModelEma(model, 0.9)) == refusal(
        tmp_path / ("ck" + suffix), named, what)
    assert not marker.exists()


def test_pretrained_payloads_are_refused_by_load_pretrained_and_build_model(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    cases = payloads(marker)
    (tmp_path / "a.pdparams").write_bytes(cases["os.system protocol 0"][0])
    assert _message(load_pretrained, str(tmp_path / "a"), _tiny()[0]) == refusal(tmp_path / "a.pdparams",
                                                                                 "posix.system")
    (tmp_path / "b.pdparams").write_bytes(cases["in a state_dict protocol 5"][0])
    assert _message(ppnorm.build_model, "resnet20", pretrained=str(tmp_path / "b.pdparams")) == refusal(
        tmp_path / "b.pdparams", "posix.system")
    cache = tmp_path / "hapi"  # pretrained=True: a poisoned file in Paddle's download cache
    cache.mkdir()
    (cache / "resnet18.pdparams").write_bytes(cases["builtins.eval protocol 4"][0])
    monkeypatch.setattr(paddle.utils.download, "WEIGHTS_HOME", str(cache))
    monkeypatch.setattr(pretrained_module, "PADDLECLAS_CACHE", str(tmp_path / "paddleclas"))
    assert _message(ppnorm.build_model, "resnet18", pretrained=True) == refusal(cache / "resnet18.pdparams",
                                                                                "builtins.eval")
    assert not marker.exists()


# ------------------------------------------------------------------ real files of every origin
def _flat(obj, prefix=""):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _flat(value, f"{prefix}/{key}")
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            yield from _flat(value, f"{prefix}/{index}")
    else:
        yield prefix, obj


def assert_same_as_paddle_load(path, what="weights"):
    """``read_file`` and ``paddle.load`` give the same structure, tensor names, dtypes and values."""
    ours, theirs = dict(_flat(read_file(str(path), what))), dict(_flat(paddle.load(str(path))))
    assert ours.keys() == theirs.keys(), path
    for key, expected in theirs.items():
        got = ours[key]
        assert type(got) is type(expected), (path, key)
        if isinstance(expected, paddle.Tensor):
            assert got.dtype == expected.dtype, (path, key)
            if not expected.name.startswith("generated_tensor"):  # a name the file holds, not one made on loading
                assert got.name == expected.name, (path, key)
            np.testing.assert_array_equal(got.numpy(), expected.numpy())
        elif isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(got, expected)
        else:
            assert got == expected, (path, key)
    return ours


def test_ppnorm_checkpoints_with_ema_load_as_paddle_load(tmp_path):
    model, optimizer = _tiny()
    model(paddle.ones([4, 3])).sum().backward()
    optimizer.step()
    save_checkpoint(str(tmp_path / "ck"), model, optimizer,
                    {"epoch": 1, "step": 0, "global_step": 4, "best_top1": 0.5, "best_epoch": 1}, ModelEma(model, 0.9))
    for suffix, what in ((".pdparams", "weights"), (".pdtrain", "weights"), (".pdopt", "optimizer state"),
                         (".pdstates", "training states")):
        assert len(assert_same_as_paddle_load(tmp_path / ("ck" + suffix), what)) >= 3


def test_paddle_vision_weights_in_every_protocol_paddle_writes_and_older_formats(tmp_path):
    """paddle.vision's LeNet (small: the format is the same for every model; resnet18 files: test_pretrained.py)."""
    from paddle.framework import io as paddle_io
    state = paddle.vision.models.LeNet().state_dict()
    for protocol in (2, 3, 4):
        paddle.save(state, str(tmp_path / f"p{protocol}.pdparams"), protocol=protocol)
    paddle.save({k: v.numpy() for k, v in state.items()}, str(tmp_path / "numpy.pdparams"))  # a dict of arrays
    paddle_io._legacy_save(state, str(tmp_path / "v20.pdparams"), protocol=2)  # Paddle 2.0's paddle.save
    paddle.save(state["fc.0.weight"], str(tmp_path / "tensor.pdparams"))  # one tensor: (name, array) via tuple
    paddle.save({"model": state, "epoch": 3, "lr": np.float32(0.1)}, str(tmp_path / "nested.pdparams"))
    for path in sorted(tmp_path.glob("*.pdparams")):
        assert_same_as_paddle_load(path)
    np.testing.assert_array_equal(read_file(str(tmp_path / "p2.pdparams"), "weights")["fc.0.weight"].numpy(),
                                  state["fc.0.weight"].numpy())


def test_files_written_with_numpy_1_load_with_their_values():
    """tests/data/weights: Paddle 3.0.0 + numpy 1.26 files (numpy.core names), see make_files.py there."""
    weight = np.arange(12, dtype="float32").reshape(4, 3)
    files = sorted(glob.glob(os.path.join(DATA, "*.pd*")))
    assert len(files) == 5
    for path in files:
        assert_same_as_paddle_load(path)
    for name in ("numpy1_p4", "numpy1_p2", "numpy1_pickle_p2"):
        state = read_file(os.path.join(DATA, name + ".pdparams"), "weights")
        np.testing.assert_array_equal(state["weight"].numpy(), weight)
        np.testing.assert_array_equal(state["bias"].numpy(), np.arange(100, 103, dtype="float32"))
    assert read_file(os.path.join(DATA, "numpy1.pdstates"), "training states") == {"metric": 0.5, "epoch": 1}
    velocities = read_file(os.path.join(DATA, "numpy1_list.pdopt"), "optimizer state")[0]
    assert sorted(velocities) == ["linear_0.b_0_velocity_0", "linear_0.w_0_velocity_0"]


@pytest.mark.slow
def test_paddleclas_checkpoint_files_load_as_paddle_load(tmp_path):
    """PaddleClas's own save_model: .pdparams, .pdopt (a list of optimizer states) and .pdstates."""
    spec = importlib.util.find_spec("paddleclas")
    if spec is None:
        pytest.skip("paddleclas is not installed (pip install --no-deps paddleclas==2.6.0 six requests tqdm)")
    root = os.path.dirname(spec.origin)
    if root not in sys.path:
        sys.path.insert(0, root)
    importlib.import_module("ppcls.utils.logger").init_logger()
    net = importlib.import_module("ppcls.arch.backbone").ResNet18_vd(class_num=10)
    optimizer = paddle.optimizer.Momentum(parameters=net.parameters(), learning_rate=0.1)
    net(paddle.rand([1, 3, 32, 32])).mean().backward()
    optimizer.step()
    importlib.import_module("ppcls.utils.save_load").save_model(
        net, [optimizer], {"metric": np.float64(0.5), "epoch": 1}, str(tmp_path), prefix="latest")
    for suffix, what in ((".pdparams", "weights"), (".pdopt", "optimizer state"), (".pdstates", "training states")):
        assert_same_as_paddle_load(tmp_path / ("latest" + suffix), what)
    model = ppnorm.build_model("resnet18_vd", num_classes=10, pretrained=str(tmp_path / "latest.pdparams"))
    net.eval(), model.eval()
    x = paddle.rand([1, 3, 32, 32])
    np.testing.assert_allclose(model(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-5)
