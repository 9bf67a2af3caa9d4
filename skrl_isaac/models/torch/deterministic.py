"""Deterministic model: ``compute`` returns actions (policies) or values (critics)."""

from __future__ import annotations

from typing import Any

import torch

from skrl_isaac.models.torch.base import Model, full_precision


class DeterministicModel(Model):
    """Deterministic model.

    :param observation_space: observation/state space
    :param action_space: action space
    :param device: device of the parameters
    :param clip_actions: clip the computed actions to the action space's bounds
    """

    def __init__(self, observation_space: Any, action_space: Any, device: str | torch.device = "cpu",
                 clip_actions: bool = False) -> None:
        super().__init__(observation_space, action_space, device)
        self._init_action_clipping(clip_actions)

    def act(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None, inference: bool = False) -> tuple:
        """Return ``(actions, None, actions)`` (the output of :meth:`compute`, clipped if requested)."""
        actions = full_precision(self.compute(states, taken_actions))  # float32 under autocast
        actions = self.clip_to_action_space(actions)
        return actions, None, actions

    def deterministic_act(self, states: torch.Tensor) -> torch.Tensor:
        """The actions used for evaluation: the output of :meth:`compute` (clipped if requested)."""
        return self.act(states)[0]
