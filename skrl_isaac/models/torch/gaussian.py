"""Gaussian model: ``compute`` returns ``(mean_actions, log_std)``."""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import Normal

from skrl_isaac.models.torch.base import Model, full_precision


class GaussianModel(Model):
    """Diagonal Gaussian stochastic policy.

    :param observation_space: observation/state space
    :param action_space: action space
    :param device: device of the parameters
    :param clip_actions: clip sampled actions to the action space's bounds
    :param clip_log_std: clip the log standard deviation to ``[min_log_std, max_log_std]``
    :param min_log_std: minimum log standard deviation
    :param max_log_std: maximum log standard deviation
    :param reduction: how to reduce the per-dimension log-probabilities: ``"sum"``, ``"mean"``,
                      ``"prod"`` or ``"none"``
    """

    _REDUCTIONS = ("sum", "mean", "prod", "none")

    def __init__(self, observation_space: Any, action_space: Any, device: str | torch.device = "cpu",
                 clip_actions: bool = False, clip_log_std: bool = True, min_log_std: float = -20,
                 max_log_std: float = 2, reduction: str = "sum") -> None:
        super().__init__(observation_space, action_space, device)
        if reduction not in self._REDUCTIONS:
            raise ValueError(f"reduction must be one of {self._REDUCTIONS}, got {reduction!r}")
        self._init_action_clipping(clip_actions)
        self.clip_log_std = clip_log_std
        self.min_log_std = float(min_log_std)
        self.max_log_std = float(max_log_std)
        self.reduction = reduction
        self._distribution: Normal | None = None

    def _reduce(self, log_prob: torch.Tensor) -> torch.Tensor:
        if self.reduction == "sum":
            return log_prob.sum(dim=-1, keepdim=True)
        if self.reduction == "mean":
            return log_prob.mean(dim=-1, keepdim=True)
        if self.reduction == "prod":
            return log_prob.prod(dim=-1, keepdim=True)
        return log_prob

    def act(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None, inference: bool = False) -> tuple:
        """Sample actions; return ``(actions, log_prob, mean_actions)``.

        ``log_prob`` is that of ``taken_actions`` when given (for the policy update), else of the
        sampled actions. ``mean_actions`` is the deterministic action used for evaluation.
        """
        mean_actions, log_std = self.compute(states, taken_actions)
        mean_actions = full_precision(mean_actions)  # float32 under autocast (PPO's mixed_precision)
        if self.clip_log_std:
            log_std = torch.clamp(log_std, self.min_log_std, self.max_log_std)
        self._distribution = Normal(mean_actions, log_std.exp().expand_as(mean_actions), validate_args=False)
        actions = self._distribution.rsample()
        actions = self.clip_to_action_space(actions)
        log_prob = self._reduce(self._distribution.log_prob(actions if taken_actions is None else taken_actions))
        return actions, log_prob, mean_actions

    def deterministic_act(self, states: torch.Tensor) -> torch.Tensor:
        """The actions used for evaluation: the mean actions (clipped if requested)."""
        mean_actions = full_precision(self.compute(states, None)[0])
        mean_actions = self.clip_to_action_space(mean_actions)
        return mean_actions

    def distribution(self) -> Normal:
        """The distribution of the last :meth:`act` call."""
        if self._distribution is None:
            raise RuntimeError("call act() before distribution()")
        return self._distribution

    def get_entropy(self) -> torch.Tensor:
        """Entropy of the last distribution, reduced like the log-probabilities (``(N, 1)``)."""
        return self._reduce(self.distribution().entropy())

    def get_log_std(self) -> torch.Tensor:
        """Log standard deviation of the last distribution."""
        return self.distribution().stddev.log()
