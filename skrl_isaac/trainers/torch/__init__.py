"""Trainers."""

from skrl_isaac.trainers.torch.sequential import SEQUENTIAL_TRAINER_DEFAULT_CONFIG, SequentialTrainer

__all__ = ["SequentialTrainer", "SEQUENTIAL_TRAINER_DEFAULT_CONFIG"]
