"""The training engine: config, data loaders, trainer, evaluation, checkpoints, logging."""
from .checkpoint import CheckpointError, load_checkpoint, load_pretrained, save_checkpoint
from .config import ConfigError, load_config
from .evaluator import evaluate
from .trainer import Trainer, TrainingError

__all__ = ["CheckpointError", "ConfigError", "Trainer", "TrainingError", "evaluate", "load_checkpoint",
           "load_config", "load_pretrained", "save_checkpoint"]
