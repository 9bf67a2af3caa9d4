"""Categorical model for discrete action spaces: ``compute`` returns logits (or probabilities)."""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import Categorical

from skrl_isaac.models.torch.base import Model, full_precision


class CategoricalModel(Model):
    """Categorical stochastic policy.

    :param observation_space: observation/state space
    :param action_space: discrete action space
    :param device: device of the parameters
    :param unnormalized_log_prob: ``compute`` returns unnormalized log-probabilities (logits) if True,
                                  else probabilities
    """

    def __init__(self, observation_space: Any, action_space: Any, device: str | torch.device = "cpu",
                 unnormalized_log_prob: bool = True) -> None:
        super().__init__(observation_space, action_space, device)
        self.unnormalized_log_prob = unnormalized_log_prob
        self._distribution: Categorical | None = None

    def act(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None, inference: bool = False) -> tuple:
        """Sample actions; return ``(actions (N, 1), log_prob (N, 1), logits_or_probs)``."""
        output = full_precision(self.compute(states, taken_actions))  # float32 under autocast
        if self.unnormalized_log_prob:
            self._distribution = Categorical(logits=output, validate_args=False)
        else:
            self._distribution = Categorical(probs=output, validate_args=False)
        actions = self._distribution.sample()
        taken = actions if taken_actions is None else taken_actions.view(-1).long()
        log_prob = self._distribution.log_prob(taken).unsqueeze(-1)
        return actions.unsqueeze(-1), log_prob, output

    def deterministic_act(self, states: torch.Tensor) -> torch.Tensor:
        """The actions used for evaluation: the most probable action, ``(N, 1)``."""
        return self.compute(states, None).argmax(dim=-1, keepdim=True)

    def distribution(self) -> Categorical:
        """The distribution of the last :meth:`act` call."""
        if self._distribution is None:
            raise RuntimeError("call act() before distribution()")
        return self._distribution

    def get_entropy(self) -> torch.Tensor:
        """Entropy of the last distribution (``(N, 1)``)."""
        return self.distribution().entropy().unsqueeze(-1)
