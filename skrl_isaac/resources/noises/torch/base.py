"""Noise base class: samples drawn on the device, shaped like the actions they perturb."""

from __future__ import annotations

import torch


class Noise:
    """Base class of the exploration noises.

    :param device: device on which the samples are drawn (``None``: ``cuda:0`` if available, else ``cpu``)
    """

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = torch.device("cuda:0" if device is None and torch.cuda.is_available() else (device or "cpu"))

    def sample_like(self, tensor: torch.Tensor) -> torch.Tensor:
        """A sample with the shape of ``tensor`` (e.g. the actions to perturb)."""
        return self.sample(tensor.shape)

    def sample(self, size: tuple[int, ...] | torch.Size) -> torch.Tensor:
        """A sample of shape ``size`` on :attr:`device`."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample(size)")

    def state_dict(self) -> dict:
        """The noise's internal state (empty for memoryless noises), saved in agent checkpoints."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`."""
