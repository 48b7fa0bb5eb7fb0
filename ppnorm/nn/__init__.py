"""Normalization and dropout building blocks (no training logic)."""
from . import functional
from .layers import (ACTIVATIONS, NORM_POSITIONS, ConvNormAct, NormActConv, NormSpec, build_act, build_dropout,
                     check_norm_position)
from .norm import NORM_KINDS, NORM_OPTIONS, NORMS, build_norm, momentum_from_torch, norm_kind
from .norm_layers import (NormTraits, bn_momentum, is_batch_norm, is_norm, norm_epsilon, norm_groups, norm_layer,
                          norm_traits, running_stats, set_bn_momentum, set_running_stats)

__all__ = ["ACTIVATIONS", "NORMS", "NORM_KINDS", "NORM_OPTIONS", "NORM_POSITIONS", "ConvNormAct", "NormActConv",
           "NormSpec", "NormTraits", "bn_momentum", "build_act", "build_dropout", "build_norm", "check_norm_position",
           "functional", "is_batch_norm", "is_norm", "momentum_from_torch", "norm_epsilon", "norm_groups", "norm_kind",
           "norm_layer", "norm_traits", "running_stats", "set_bn_momentum", "set_running_stats"]
