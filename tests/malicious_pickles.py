"""Pickles that run code when loaded: each creates the file ``marker`` (tests assert it never appears).

:func:`payloads` maps a name to ``(bytes, what the refusal names)``. They cover the opcodes that
look up a global (``GLOBAL`` in protocols 0-3, ``STACK_GLOBAL`` in 4-5, ``INST``), names pushed
through the memo, ``builtins.eval``/``exec``, ``subprocess`` and a call hidden in a value of an
otherwise real state_dict.
"""
import os
import pickle
import shlex
import struct
import subprocess

import numpy as np


class Call:
    """Pickles as the call ``function(*args)`` (the classic ``__reduce__`` payload)."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _unicode(text):
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data  # SHORT_BINUNICODE


def memo_stack_global(module, name, argument):
    """Protocol 4: module and name pushed, memoized, popped, fetched back with BINGET, then STACK_GLOBAL."""
    return (b"\x80\x04" + _unicode(module) + b"\x94" + _unicode(name) + b"\x94" + b"00"  # MEMOIZE x2, POP x2
            + b"h\x00h\x01\x93" + _unicode(argument) + b"\x85R.")  # BINGET 0, BINGET 1, STACK_GLOBAL, TUPLE1, REDUCE


def frame_wrapped(module, name, argument):
    """Protocol 5 with a FRAME around a STACK_GLOBAL call."""
    body = _unicode(module) + _unicode(name) + b"\x93" + _unicode(argument) + b"\x85R."
    return b"\x80\x05\x95" + struct.pack("<Q", len(body)) + body


def in_state_dict(call, protocol):
    """A state_dict of real arrays with one value that is a call (first in protocol 5, whose arrays are refused)."""
    state = {"fc.weight": np.ones([4, 3], "float32"), "fc.bias": call, "fc.extra": np.zeros([3], "float32")}
    if protocol >= 5:  # numpy pickles arrays through numpy._core.numeric._frombuffer, which Paddle never writes
        state = {"fc.bias": call, "fc.weight": state["fc.weight"]}
    return pickle.dumps(state, protocol=protocol)


def payloads(marker):
    """``{name: (pickle bytes, the module.name the refusal line names)}``; each creates ``marker``."""
    command = f"touch {shlex.quote(str(marker))}"
    code = f"open({str(marker)!r}, 'w').close()"
    system = Call(os.system, command)
    cases = {f"os.system protocol {p}": (pickle.dumps(system, protocol=p), "posix.system") for p in (0, 2, 3, 4, 5)}
    cases.update({
        "builtins.eval protocol 4": (pickle.dumps(Call(eval, code), protocol=4), "builtins.eval"),
        "builtins.exec protocol 2": (pickle.dumps(Call(exec, code), protocol=2), "__builtin__.exec"),  # py2 name
        "subprocess.call protocol 4": (pickle.dumps(Call(subprocess.call, ["touch", str(marker)]), protocol=4),
                                       "subprocess.call"),
        "in a state_dict protocol 2": (in_state_dict(system, 2), "posix.system"),
        "in a state_dict protocol 4": (in_state_dict(Call(eval, code), 4), "builtins.eval"),
        "in a state_dict protocol 5": (in_state_dict(system, 5), "posix.system"),
        "hand-written GLOBAL": (b"cos\nsystem\n(" + f"S{command!r}\n".encode() + b"tR.", "os.system"),
        "hand-written INST": (b"(" + f"S{command!r}\n".encode() + b"ios\nsystem\n.", "os.system"),
        "STACK_GLOBAL through the memo": (memo_stack_global("os", "system", command), "os.system"),
        "STACK_GLOBAL in a protocol 5 frame": (frame_wrapped("builtins", "exec", code), "builtins.exec"),
        "python 2 name": (b"c__builtin__\neval\n(" + f"S{code!r}\n".encode() + b"tR.", "__builtin__.eval"),
    })
    return cases
