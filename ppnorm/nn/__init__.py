"""Normalization and dropout building blocks (no training logic)."""
from . import functional
from .layers import ACTIVATIONS, ConvNormAct, NormActConv, NormSpec, build_act, build_dropout
from .norm import NORM_KINDS, build_norm, is_batch_norm, momentum_from_torch

__all__ = ["ACTIVATIONS", "NORM_KINDS", "ConvNormAct", "NormActConv", "NormSpec", "build_act", "build_dropout",
           "build_norm", "functional", "is_batch_norm", "momentum_from_torch"]
