"""Deterministic model: ``compute`` returns actions (policies) or values (critics)."""

from __future__ import annotations

from typing import Any

import numpy as np
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
        self.clip_actions = bool(clip_actions) and hasattr(action_space, "low")
        if self.clip_actions:
            self.register_buffer("_clip_low", torch.as_tensor(np.asarray(action_space.low), dtype=torch.float32,
                                                              device=self.device), persistent=False)
            self.register_buffer("_clip_high", torch.as_tensor(np.asarray(action_space.high), dtype=torch.float32,
                                                               device=self.device), persistent=False)

    def act(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None, inference: bool = False) -> tuple:
        """Return ``(actions, None, actions)`` (the output of :meth:`compute`, clipped if requested)."""
        actions = full_precision(self.compute(states, taken_actions))  # float32 under autocast
        if self.clip_actions:
            actions = torch.clamp(actions, self._clip_low, self._clip_high)
        return actions, None, actions

    def deterministic_act(self, states: torch.Tensor) -> torch.Tensor:
        """The actions used for evaluation: the output of :meth:`compute` (clipped if requested)."""
        return self.act(states)[0]
