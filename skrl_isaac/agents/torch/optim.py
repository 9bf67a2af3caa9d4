"""Optimizer construction shared by the agents."""

from __future__ import annotations

from typing import Iterable

import torch


def make_adam(params: Iterable[torch.nn.Parameter], lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam whose learning rate is a device tensor when the fused kernel supports it.

    A tensor learning rate lets schedulers such as :class:`~skrl_isaac.resources.schedulers.torch.KLAdaptiveRL`
    adapt it on the device, without reading the KL divergence back to the host. Falls back to the
    plain (float learning rate) Adam where fused Adam is unavailable.
    """
    params = list({id(p): p for p in params}.values())  # a model shared by two roles: its parameters once
    try:
        return torch.optim.Adam(params, lr=torch.tensor(float(lr), device=device), fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(params, lr=float(lr))

