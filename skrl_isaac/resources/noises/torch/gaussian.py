"""Gaussian (white) noise."""

from __future__ import annotations

import torch

from skrl_isaac.resources.noises.torch.base import Noise


class GaussianNoise(Noise):
    """Independent samples of ``Normal(mean, std)``.

    :param mean: mean of the normal distribution
    :param std: standard deviation of the normal distribution (> 0)
    :param device: device on which the samples are drawn

    Example::

        noise = GaussianNoise(mean=0, std=0.1, device="cuda:0")
        actions = actions + noise.sample_like(actions)
    """

    def __init__(self, mean: float, std: float, device: str | torch.device | None = None) -> None:
        super().__init__(device)
        if not float(std) > 0:
            raise ValueError(f"GaussianNoise: std must be > 0, got {std}")
        self.mean = float(mean)
        self.std = float(std)

    def sample(self, size: tuple[int, ...] | torch.Size) -> torch.Tensor:
        """``mean + std * N(0, 1)`` of shape ``size``, drawn on the device."""
        return torch.randn(tuple(size), device=self.device).mul_(self.std).add_(self.mean)
