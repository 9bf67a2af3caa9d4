"""Running standard scaler: normalizes inputs with running mean/variance kept as module buffers."""

from __future__ import annotations

from typing import Any

import torch

from skrl_isaac.utils.spaces import flatten_size


class RunningStandardScaler(torch.nn.Module):
    """Standardize inputs with running statistics (parallel Welford update over each batch).

    The statistics are buffers (``running_mean``, ``running_variance``, ``current_count``), so they
    ride in ``state_dict`` and in checkpoints.

    :param size: input size, or a space whose flattened size is used
    :param epsilon: small value that avoids division by zero
    :param clip_threshold: clip the standardized values to ``[-clip_threshold, clip_threshold]``
    :param device: device of the buffers
    """

    def __init__(self, size: Any, epsilon: float = 1e-8, clip_threshold: float = 5.0,
                 device: str | torch.device | None = None) -> None:
        super().__init__()
        self.epsilon = float(epsilon)
        self.clip_threshold = float(clip_threshold)
        size = flatten_size(size)
        device = torch.device("cuda:0" if device is None and torch.cuda.is_available() else (device or "cpu"))
        self.register_buffer("running_mean", torch.zeros(size, dtype=torch.float64, device=device))
        self.register_buffer("running_variance", torch.ones(size, dtype=torch.float64, device=device))
        self.register_buffer("current_count", torch.ones((), dtype=torch.float64, device=device))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold the batch ``x`` (``(..., size)``) into the running statistics, on the device."""
        x = x.reshape(-1, self.running_mean.shape[0]).to(torch.float64)
        batch_var, batch_mean = torch.var_mean(x, dim=0, correction=0)
        batch_count = x.shape[0]
        delta = batch_mean - self.running_mean
        total = self.current_count + batch_count
        m2 = (self.running_variance * self.current_count + batch_var * batch_count
              + delta.square() * self.current_count * batch_count / total)
        self.running_mean.add_(delta * batch_count / total)
        self.running_variance.copy_(m2 / total)
        self.current_count.copy_(total)

    def forward(self, x: torch.Tensor, train: bool = False, inverse: bool = False, no_grad: bool = True) -> torch.Tensor:
        """Standardize ``x`` (or undo it with ``inverse=True``); with ``train=True`` update the statistics first."""
        if train:
            self.update(x)
        with torch.set_grad_enabled(not no_grad and torch.is_grad_enabled()):
            mean = self.running_mean.to(x.dtype)
            std = torch.sqrt(self.running_variance.to(x.dtype) + self.epsilon)
            if inverse:
                return torch.clamp(x, -self.clip_threshold, self.clip_threshold) * std + mean
            return torch.clamp((x - mean) / std, -self.clip_threshold, self.clip_threshold)
