"""Ornstein-Uhlenbeck (temporally correlated) noise."""

from __future__ import annotations

import torch

from skrl_isaac.resources.noises.torch.base import Noise


class OrnsteinUhlenbeckNoise(Noise):
    """Ornstein-Uhlenbeck process ``x <- x - theta * x + sigma * N(mean, std)``; samples are ``base_scale * x``.

    The state starts at 0 and has the shape of the samples; asking for another shape restarts it at 0.

    :param theta: rate of mean reversion (``0 <= theta <= 1``)
    :param sigma: scale of the random increments
    :param base_scale: factor applied to the state to give the sample
    :param mean: mean of the normal increments
    :param std: standard deviation of the normal increments (> 0)
    :param device: device on which the samples are drawn
    """

    def __init__(self, theta: float, sigma: float, base_scale: float, mean: float = 0, std: float = 1,
                 device: str | torch.device | None = None) -> None:
        super().__init__(device)
        if not float(std) > 0:
            raise ValueError(f"OrnsteinUhlenbeckNoise: std must be > 0, got {std}")
        self.theta = float(theta)
        self.sigma = float(sigma)
        self.base_scale = float(base_scale)
        self.mean = float(mean)
        self.std = float(std)
        self.state: torch.Tensor | None = None

    def reset(self) -> None:
        """Restart the process at 0."""
        self.state = None

    def state_dict(self) -> dict:
        """The process' current state (absent before the first sample)."""
        return {} if self.state is None else {"state": self.state.clone()}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` (an empty one restarts the process at 0)."""
        self.state = state["state"].to(self.device).clone() if "state" in state else None

    def sample(self, size: tuple[int, ...] | torch.Size) -> torch.Tensor:
        """Advance the process one step and return ``base_scale * state`` of shape ``size``."""
        size = torch.Size(size)
        if self.state is None or self.state.shape != size:
            self.state = torch.zeros(size, device=self.device)
        increment = torch.randn(size, device=self.device).mul_(self.std).add_(self.mean)
        self.state.mul_(1.0 - self.theta).add_(increment, alpha=self.sigma)
        return self.state * self.base_scale
