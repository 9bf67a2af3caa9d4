"""KL-adaptive learning rate scheduler (as in rl_games / IsaacGymEnvs), kept on the device."""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import LRScheduler


class KLAdaptiveRL(LRScheduler):
    """Adapt the learning rate to the KL divergence between the old and the updated policy.

    ``lr <- max(lr / lr_factor, min_lr)`` if ``kl > kl_factor * kl_threshold``;
    ``lr <- min(lr * lr_factor, max_lr)`` if ``kl < kl_threshold / kl_factor``.

    When the optimizer's learning rate is a tensor (e.g. ``torch.optim.Adam(..., lr=torch.tensor(1e-3),
    fused=True)``) the update happens in place on the device and :meth:`step` never synchronizes
    with the host; with a float learning rate the KL value is read on the host.

    :param optimizer: wrapped optimizer
    :param kl_threshold: target KL divergence
    :param min_lr: lower bound of the learning rate
    :param max_lr: upper bound of the learning rate
    :param kl_factor: factor of the threshold that triggers a change
    :param lr_factor: factor by which the learning rate changes
    """

    def __init__(self, optimizer: torch.optim.Optimizer, kl_threshold: float = 0.008, min_lr: float = 1e-6,
                 max_lr: float = 1e-2, kl_factor: float = 2, lr_factor: float = 1.5, last_epoch: int = -1) -> None:
        if kl_threshold <= 0 or kl_factor <= 1 or lr_factor <= 1 or not 0 < min_lr <= max_lr:
            raise ValueError("KLAdaptiveRL needs kl_threshold > 0, kl_factor > 1, lr_factor > 1 and 0 < min_lr <= max_lr; "
                             f"got kl_threshold={kl_threshold}, kl_factor={kl_factor}, lr_factor={lr_factor}, "
                             f"min_lr={min_lr}, max_lr={max_lr}")
        self.kl_threshold = kl_threshold
        self.min_lr = min_lr
        self.max_lr = max_lr
        self._kl_factor = kl_factor
        self._lr_factor = lr_factor
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self, kl: torch.Tensor | float | None = None, epoch: int | None = None) -> None:
        """Adapt the learning rate to ``kl`` (a 0-dim tensor or float); without ``kl`` nothing changes."""
        if kl is None:
            super().step()
            return
        for group in self.optimizer.param_groups:
            lr = group["lr"]
            if isinstance(lr, torch.Tensor):
                kl_t = torch.as_tensor(kl, device=lr.device, dtype=lr.dtype)
                new = torch.where(kl_t > self.kl_threshold * self._kl_factor, torch.clamp(lr / self._lr_factor, min=self.min_lr),
                                  torch.where(kl_t < self.kl_threshold / self._kl_factor,
                                              torch.clamp(lr * self._lr_factor, max=self.max_lr), lr))
                lr.copy_(new)
            else:
                kl_f = float(kl)
                if kl_f > self.kl_threshold * self._kl_factor:
                    group["lr"] = max(lr / self._lr_factor, self.min_lr)
                elif kl_f < self.kl_threshold / self._kl_factor:
                    group["lr"] = min(lr * self._lr_factor, self.max_lr)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
