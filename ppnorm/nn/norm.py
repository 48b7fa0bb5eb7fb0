"""The one norm factory: every normalization layer in ppnorm is built here.

Each norm kind is one builder in the ``NORMS`` registry, called with the checked :class:`NormArgs`;
adding a kind is one decorated function that also names the layer classes it builds and their traits
(see :mod:`.norm_layers`)::

    @norm_kind("my_norm", [MyNorm], reads=("epsilon",), batch_stats=True)
    def _my_norm(args):
        return MyNorm(args.num_channels, epsilon=args.epsilon)

A new option is one row of ``_OPTIONS`` (default, check, what is expected): ``build_norm`` takes it,
``norm_options`` in configs accepts it and builders read it from ``args``; a kind names the options it
reads (``reads``), and another option given to it is one warning line per process, not an error.

Paddle's BatchNorm momentum convention is the opposite of PyTorch's::

    running = momentum * running + (1 - momentum) * batch_statistic   # Paddle, default 0.9
    running = (1 - momentum) * running + momentum * batch_statistic   # PyTorch, default 0.1

so PyTorch's ``momentum=0.1`` is Paddle's ``momentum=0.9`` (see :func:`momentum_from_torch`).
Paddle stores the *biased* batch variance as the running variance; PyTorch stores the unbiased one.
Paddle's private attributes of norm layers (``_mean``, ``_epsilon``, ...) are read only by the
helpers in :mod:`.norm_layers` (:func:`running_stats`, :func:`norm_epsilon`, ...), re-exported here.
"""
from __future__ import annotations

import math
import numbers
import sys
from collections import namedtuple
from collections.abc import Mapping
from typing import Any, Callable, Dict, Optional, Sequence

import paddle.nn as nn

from ..errors import NormOptionError
from ..registry import Registry, unknown_message
from .norm_layers import (bn_momentum, declare_norm_layers, is_batch_norm, is_norm,  # noqa: F401 (re-exported)
                          norm_epsilon, norm_groups, running_stats, set_bn_momentum, set_running_stats)
from .rms_norm import RMSNorm

NORMS = Registry("norm kind", ordered=True, valid="valid kinds")
NORM_KINDS = NORMS.keys()  # a live view: a kind registered later is listed too
_READS = {}  # kind -> the options its builder reads (norm_kind's ``reads``)
_WARNED = set()  # (kind, option) pairs already said in this process

_CHANNELS_LAST = {"NLC", "NHWC", "NDHWC"}
_DATA_FORMATS = {1: ("NCL", "NLC", "NC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
_BATCH_NORMS = {1: nn.BatchNorm1D, 2: nn.BatchNorm2D, 3: nn.BatchNorm3D}
_INSTANCE_NORMS = {1: nn.InstanceNorm1D, 2: nn.InstanceNorm2D, 3: nn.InstanceNorm3D}


def _real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


_OPTIONS = {  # option -> (default, is the value valid?, what is expected); the one list of build_norm's options
    "momentum": (0.9, lambda v: _real(v) and 0 <= v <= 1, "a number in [0, 1] (Paddle's convention, default 0.9)"),
    "epsilon": (1e-5, lambda v: _real(v) and math.isfinite(v) and v > 0, "a positive number (default 1e-5)"),
    "affine": (True, lambda v: isinstance(v, bool), "true or false"),
    "groups": (32, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a positive integer"),
    "use_global_stats": (None, lambda v: v is None or isinstance(v, bool), "None, true or false"),
}
NORM_OPTIONS = tuple(_OPTIONS)  # what norm_options may hold: build_norm's keyword options
_DEFAULTS = {name: default for name, (default, _, _) in _OPTIONS.items()}
_BN_READS = ("momentum", "epsilon", "affine", "use_global_stats")


def momentum_from_torch(torch_momentum: float) -> float:
    """Convert a PyTorch BatchNorm momentum (weight of the new batch) to Paddle's (weight of the old value)."""
    if not 0.0 <= float(torch_momentum) <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {torch_momentum}")
    return 1.0 - float(torch_momentum)


def build_norm(kind: str, num_channels: int, dims: int = 2, data_format: Optional[str] = None,
               **options: Any) -> nn.Layer:
    """Build a normalization layer.

    Args (the ones after ``data_format`` are the options of ``_OPTIONS``, by keyword):
        kind: a registered kind: ``bn``, ``sync_bn``, ``gn``, ``ln``, ``in``, ``none``, ``rms``.
        num_channels: number of channels C (features K for ``[N, K]`` input).
        dims: spatial dimensions of the input: 1 for ``[N, K]`` / ``[N, C, L]``, 2 for
            ``[N, C, H, W]``, 3 for ``[N, C, D, H, W]``.
        momentum: in [0, 1], Paddle convention (``running = momentum * running + (1 - momentum) * batch``),
            used by ``bn`` and ``sync_bn``.
        epsilon: > 0, added to the variance before the square root.
        data_format: Paddle layout string (``NCHW``/``NHWC``, ``NCL``/``NLC``/``NC``, ...);
            defaults to channels-first.
        affine: learn a per-channel scale (gamma) and shift (beta).
        groups: number of groups for ``gn``; must divide ``num_channels``.
        use_global_stats: ``bn`` only, as in Paddle: None = batch statistics in training and running
            statistics in eval; True = running statistics always; False = batch statistics always.

    ``ln`` on feature maps normalizes each sample over (C, H, W) with a per-channel affine, i.e.
    GroupNorm with one group (Wu & He 2018); on ``[N, K]`` input (dims=1) it is ``nn.LayerNorm(K)``.
    ``in`` is ``nn.InstanceNorm*D`` (learnable scale/shift, no running statistics); for
    channels-last layouts, which Paddle's InstanceNorm does not support, it is the equivalent
    GroupNorm with one channel per group. ``rms`` is ``ln`` without the centring (:mod:`.rms_norm`).
    """
    builder = NORMS.get_target(kind)
    data_format = check_layout(dims, data_format)
    if isinstance(num_channels, bool) or not isinstance(num_channels, int) or num_channels < 1:
        raise ValueError(f"num_channels must be a positive integer, got {num_channels!r}")
    given = check_norm_options(options, "build_norm", "")
    warn_unread_options(kind, given)
    options = {**_DEFAULTS, **given}
    return builder(NormArgs(num_channels=num_channels, dims=dims, data_format=data_format, **options))


def norm_kind(name: str, layers: Sequence[type], reads: Sequence[str] = (), **traits: bool) -> Callable:
    """Decorator registering a norm kind's builder as ``name``: ``layers`` are the norm layer classes it builds,
    declared with ``traits`` (see :class:`~ppnorm.nn.norm_layers.NormTraits`); ``reads`` the options of
    ``_OPTIONS`` it reads (another option given to it is said once, see :func:`warn_unread_options`)."""
    unknown = sorted(set(reads) - set(_OPTIONS))
    if unknown:
        raise ValueError(f"norm kind '{name}' reads '{unknown[0]}', which is no option of build_norm; add it to "
                         f"_OPTIONS first")

    def register(builder):
        declare_norm_layers(layers, **traits)
        _READS[name] = frozenset(reads)
        return NORMS.register(name, builder)
    return register


def warn_unread_options(kind: str, options: Mapping[str, Any]) -> None:
    """One stderr line per process and (kind, option) for each of ``options`` that ``kind`` does not read: a
    warning, not an error, so ``-o Arch.norm=gn`` on a config written for bn keeps working."""
    for option, value in options.items():
        if option in _READS.get(kind, _OPTIONS) or (kind, option) in _WARNED:
            continue  # a kind registered without the decorator may read anything
        _WARNED.add((kind, option))
        users = ", ".join(name for name, reads in _READS.items() if option in reads) or "none"
        print(f"warning: norm_options.{option}={value!r} has no effect with norm kind '{kind}' (the kinds that "
              f"read {option}: {users})", file=sys.stderr, flush=True)


@norm_kind("bn", [nn.layer.norm._BatchNormBase], reads=_BN_READS, batch_stats=True)
def _batch_norm(args):
    return _BATCH_NORMS[args.dims](args.num_channels, momentum=args.momentum, epsilon=args.epsilon,
                                   weight_attr=args.param, bias_attr=args.param, data_format=args.data_format,
                                   use_global_stats=args.use_global_stats)


@norm_kind("sync_bn", [nn.SyncBatchNorm], reads=_BN_READS, batch_stats=True)
def _sync_batch_norm(args):
    if args.use_global_stats is not None:  # Paddle's SyncBatchNorm passes use_global_stats=False to its kernel
        raise ValueError(f"use_global_stats={args.use_global_stats} is not supported by sync_bn (Paddle's "
                         f"SyncBatchNorm always uses batch statistics in training, running ones in eval); "
                         f"leave it None or use bn")
    return nn.SyncBatchNorm(args.num_channels, momentum=args.momentum, epsilon=args.epsilon,
                            weight_attr=args.param, bias_attr=args.param, data_format=args.data_format)


@norm_kind("gn", [nn.GroupNorm], reads=("groups", "epsilon", "affine"))
def _gn(args):
    if args.num_channels % args.groups:
        suggestion = _suggest_groups(args.num_channels, args.groups)
        raise NormOptionError(f"GroupNorm: num_channels={args.num_channels} is not divisible by groups={args.groups}; "
                              f"use groups={suggestion} (a divisor of {args.num_channels})", "groups", suggestion)
    return _group_norm(args.groups, args)


@norm_kind("ln", [nn.LayerNorm, nn.GroupNorm], reads=("epsilon", "affine"))
def _layer_norm(args):
    if args.dims == 1:
        if args.epsilon > 1e-3:  # the layer_norm kernel refuses it, but only at the first forward pass
            raise ValueError(f"ln on [N, K] input (paddle.nn.LayerNorm) needs epsilon <= 0.001, got {args.epsilon}")
        return nn.LayerNorm(args.num_channels, epsilon=args.epsilon, weight_attr=args.param, bias_attr=args.param)
    return _group_norm(1, args)


@norm_kind("in", [nn.layer.norm._InstanceNormBase, nn.GroupNorm], reads=("epsilon", "affine"))
def _instance_norm(args):
    if args.data_format in _CHANNELS_LAST:
        return _group_norm(args.num_channels, args)
    return _INSTANCE_NORMS[args.dims](args.num_channels, epsilon=args.epsilon, weight_attr=args.param,
                                      bias_attr=args.param, data_format=args.data_format)


@norm_kind("none", [])
def _no_norm(args):
    return nn.Identity()


@norm_kind("rms", [RMSNorm], reads=("epsilon", "affine"))
def _rms_norm(args):
    return RMSNorm(args.num_channels, epsilon=args.epsilon, weight_attr=args.param, bias_attr=args.param,
                   data_format=args.data_format)


def _group_norm(groups, args):
    data_format = "NCL" if args.data_format == "NC" else args.data_format
    return nn.GroupNorm(groups, args.num_channels, epsilon=args.epsilon, weight_attr=args.param,
                        bias_attr=args.param, data_format=data_format)


def _suggest_groups(num_channels, groups):
    """The divisor of num_channels closest to the requested number of groups."""
    divisors = [d for d in range(1, num_channels + 1) if num_channels % d == 0]
    return min(divisors, key=lambda d: (abs(d - groups), -d))


class NormArgs(namedtuple("NormArgs", ("num_channels", "dims", "data_format") + NORM_OPTIONS)):
    """What a norm builder gets, already checked: the layer's size and layout, and every option."""

    @property
    def param(self) -> Optional[bool]:
        """Paddle's weight/bias attr: None (learned) when affine, False (none) when not."""
        return None if self.affine else False


def check_norm_option(name: str, value: Any, where: str = "") -> None:
    """One-line ``ValueError`` naming ``where + name`` when ``value`` is not valid for build_norm's option."""
    _, valid, expected = _OPTIONS[name]
    if not valid(value):
        raise ValueError(f"{where}{name} must be {expected}, got {value!r}")


def check_norm_options(options: Optional[Mapping[str, Any]], where: str = "norm_options",
                       prefix: Optional[str] = None) -> Dict[str, Any]:
    """A dict copy of ``options`` (None: empty) after checking every name and value; sizes are checked per layer.

    Errors name ``where`` and a value ``prefix + name`` (default ``where + "."``)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"{where} must be a mapping of norm options such as {{'groups': 8}}, got {options!r}")
    for name, value in options.items():
        if name not in _OPTIONS:
            raise ValueError(unknown_message(f"{where} key", name, NORM_OPTIONS))
        check_norm_option(name, value, f"{where}." if prefix is None else prefix)
    return dict(options)


def check_layout(dims: int, data_format: Optional[str]) -> str:
    """The data format for ``dims`` spatial dimensions (None: channels-first), or a one-line ``ValueError``."""
    if isinstance(dims, bool) or dims not in (1, 2, 3):
        raise ValueError(f"dims must be 1, 2 or 3 (spatial dimensions of the input), got {dims!r}")
    if data_format is None:
        return _DATA_FORMATS[dims][0]
    if data_format not in _DATA_FORMATS[dims]:
        raise ValueError(f"data_format '{data_format}' does not fit dims={dims}; "
                         f"use one of {', '.join(_DATA_FORMATS[dims])}")
    return data_format
