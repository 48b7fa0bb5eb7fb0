"""Refuse a weights file whose pickle would run code, before any of it runs.

Every file ppnorm reads with ``paddle.load`` (pretrained weights, a checkpoint's ``.pdparams``,
``.pdopt``, ``.pdstates``, ``.pdtrain``) is a pickle, and a pickle can name any Python callable
(``os.system``, ``builtins.eval``) to be called while it is read. :func:`check` unpickles the
bytes with :class:`WeightsUnpickler`, whose ``find_class`` hands out only the globals in
:data:`ALLOWED` and raises :class:`Refused` for any other, so a forbidden callable is never even
looked up, let alone called. Only when the whole pickle unpickles that way are the same bytes
given to ``paddle.load``, which then meets exactly the same globals.

Why an Unpickler and not a scan of the opcodes (``pickletools.genops``): the Unpickler gets every
name from the same C parser ``paddle.load`` uses, after the stack and the memo are resolved, so
``GLOBAL``, ``STACK_GLOBAL`` (names pushed by string opcodes, possibly through ``MEMOIZE`` /
``BINGET``) and ``INST`` all pass through ``find_class``; a scan would have to re-implement that
bookkeeping, and any place where it disagreed with the real parser would let a callable through.
The one exception are copyreg extension codes (``EXT1/2/4``): the unpickler returns the object an
earlier load in the process cached for a code without asking ``find_class``, so a pickle that uses
one is refused from a scan first (those opcodes carry the code itself; no bookkeeping is needed).
"""
import io
import pickle
import pickletools

# (module, name) of every global that the weights, optimizer and training-state files Paddle and
# ppnorm write ask for, each found by unpickling real files (tests/test_safe_load.py loads one of each).
ALLOWED = frozenset({
    ("numpy._core.multiarray", "_reconstruct"),  # every numpy array pickled with numpy >= 2: all paddle.save files
    ("numpy.core.multiarray", "_reconstruct"),   # the same with numpy 1.x (files saved before numpy 2)
    ("numpy", "ndarray"),                        # the array type _reconstruct builds
    ("numpy", "dtype"),                          # the array's dtype
    ("numpy._core.multiarray", "scalar"),        # a numpy number as a value: PaddleClas's .pdstates {"metric": ...}
    ("numpy.core.multiarray", "scalar"),         # the same, numpy 1.x
    ("_codecs", "encode"),                       # bytes in a protocol-2 pickle (latin1 only): Paddle 2.0 / fluid
    ("builtins", "tuple"),                       # paddle.save's (name, array) of a tensor outside a flat state_dict:
                                                 # PaddleClas's .pdopt (a list of optimizer states), a lone tensor
    ("collections", "OrderedDict"),              # a Layer's state_dict() saved inside another dict
})


class Refused(pickle.UnpicklingError):
    """The pickle asks for something outside :data:`ALLOWED`; ``str()`` says what (``module.name``), printable."""

    def __init__(self, what):
        super().__init__(what if what.isprintable() and len(what) <= 120 else repr(what[:120]))


class WeightsUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that gives out only the globals in :data:`ALLOWED`."""

    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise Refused(f"{module}.{name}")
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        return super().find_class(module, name)


def _latin1_encode(text, encoding):
    """``_codecs.encode`` as a protocol-2 pickle uses it, for bytes: ``(text, 'latin1')``; other codecs are refused."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise Refused(f"_codecs.encode with the codec {encoding!r}")
    return text.encode("latin1")


def _extension_code(data):
    """The first copyreg extension code the pickle ``data`` uses, else None (no object is built)."""
    for opcode, argument, _ in pickletools.genops(data):
        if opcode.name in ("EXT1", "EXT2", "EXT4"):
            return argument
    return None


def check(data, encoding="latin1"):
    """Unpickle ``data`` (bytes) as ``paddle.load`` would, refusing other globals; returns the object.

    Raises :class:`Refused` for a forbidden global or any extension code, and the usual pickle,
    EOF, import or value errors for bytes that are not a complete pickle.
    """
    code = _extension_code(data)
    if code is not None:
        raise Refused(f"copyreg extension code {code}")
    return WeightsUnpickler(io.BytesIO(data), encoding=encoding).load()
