"""Deep Q-Network (Mnih et al., 2015) with a target network and epsilon-greedy exploration, for batched envs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from skrl_isaac.agents.torch.off_policy import (REPLAY_CONFIG, UPDATE_CONFIG, OffPolicyAgent, default_config,
                                                  init_target, linear_schedule)
from skrl_isaac.agents.torch.off_policy import OffPolicyConfig
from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.models.torch.base import Model

DQN_DEFAULT_CONFIG: dict[str, Any] = default_config({
    "gradient_steps": 1,            # gradient steps per update
    "batch_size": 64,               # training batch size

    "discount_factor": 0.99,        # discount factor (gamma)
    "polyak": 1.0,                  # target update factor (1: hard copy every target_update_interval updates)

    "learning_rate": 1e-3,          # learning rate
    "learning_rate_scheduler": None,        # learning rate scheduler class (torch.optim.lr_scheduler class or name)
    "learning_rate_scheduler_kwargs": {},   # learning rate scheduler's kwargs (e.g. {"step_size": 1000})
}, REPLAY_CONFIG, {
    "update_interval": 1,           # agent update interval (timesteps)
    "target_update_interval": 10,   # target network update interval (timesteps)

    "exploration": {
        "initial_epsilon": 1.0,     # initial epsilon for epsilon-greedy exploration
        "final_epsilon": 0.05,      # final epsilon for epsilon-greedy exploration
        "timesteps": 1000,          # timesteps of the linear epsilon decay (0: final_epsilon from the start)
    },
}, UPDATE_CONFIG)  # the shared keys: see off_policy.py


@dataclass(frozen=True)
class DQNConfig(OffPolicyConfig):
    """DQN's typed view of its merged config: the shared off-policy scalars and its own."""

    update_interval: int
    """Environment steps between two updates."""
    target_update_interval: int
    """Updates between two copies of the Q-network into the target network."""


class DQN(OffPolicyAgent):
    """Deep Q-Network.

    :param models: ``{"q_network": DeterministicModel, "target_q_network": DeterministicModel}``, each
                   ``compute(states)`` returning one Q-value per discrete action ``(N, n)``
    :param memory: replay memory (``RandomMemory(memory_size=..., num_envs=..., device=...)``)
    :param observation_space: observation space
    :param action_space: discrete action space
    :param device: device of the computations
    :param cfg: configuration, see ``DQN_DEFAULT_CONFIG`` (unknown keys are an error)
    """

    config_type = DQNConfig

    def __init__(self, models: Mapping[str, Model], memory: Memory | None = None, observation_space: Any = None,
                 action_space: Any = None, device: str | torch.device | None = None,
                 cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__(models, memory, observation_space, action_space, device, cfg, DQN_DEFAULT_CONFIG)
        self._require_models("q_network", "target_q_network")
        if not self._discrete:
            raise ValueError(f"DQN needs a Discrete action space, got {action_space!r}")
        self.q_network: Model = self.models["q_network"]
        self.target_q_network: Model = self.models["target_q_network"]
        self.checkpoint_modules.update(q_network=self.q_network, target_q_network=self.target_q_network)
        self.policy_checkpoint_names = ("q_network", "state_preprocessor")
        init_target(self.target_q_network, self.q_network)

        self._update_interval = max(self.config.update_interval, 1)
        self._target_update_interval = max(self.config.target_update_interval, 1)
        exploration = self.cfg["exploration"]
        self._initial_epsilon = float(exploration["initial_epsilon"])
        self._final_epsilon = float(exploration["final_epsilon"])
        self._epsilon_timesteps = int(exploration["timesteps"] or 0)
        self.optimizer = self.make_optimizer([self.q_network], self.cfg["learning_rate"])

    # -- rollout ------------------------------------------------------------------------------
    def act(self, states: torch.Tensor, timestep: int, timesteps: int) -> tuple:
        """Epsilon-greedy actions ``(N, 1)`` (uniformly random during ``random_timesteps``)."""
        if timestep < self.config.random_timesteps:
            return self.random_actions(states.shape[0]), None, None
        epsilon = linear_schedule(timestep, self._initial_epsilon, self._final_epsilon, self._epsilon_timesteps)
        q_values = self.q_network.act(self._state_preprocessor(states))[0]
        greedy = q_values.argmax(dim=-1, keepdim=True)
        explore = torch.rand((states.shape[0], 1), device=self.device) < epsilon
        actions = torch.where(explore, self.random_actions(states.shape[0]), greedy)
        self.track_data("Exploration / Exploration epsilon", epsilon)
        return actions, None, None

    @torch.no_grad()
    def act_deterministic(self, states: torch.Tensor) -> torch.Tensor:
        """Greedy actions ``(N, 1)`` for evaluation."""
        return self.q_network.act(self._state_preprocessor(states))[0].argmax(dim=-1, keepdim=True)

    # -- update -------------------------------------------------------------------------------
    def _should_update(self, timestep: int) -> bool:
        return timestep % self._update_interval == 0

    def _update_step(self, timestep: int, timesteps: int, gradient_step: int) -> None:
        states, actions, rewards, next_states, not_done = self.sample_batch(gradient_step)

        # target values (max over the target network's Q-values of the next states)
        with torch.no_grad():
            next_q_values = self.target_q_network.act(next_states)[0].amax(dim=-1, keepdim=True)
            target_values = self.bootstrap(rewards, not_done, next_q_values)

        # Q-network loss
        q_values = torch.gather(self.q_network.act(states)[0], dim=1, index=actions.long())
        q_network_loss = F.mse_loss(q_values, target_values)
        self.optimize(self.optimizer, q_network_loss)

        # target network
        if timestep % self._target_update_interval == 0:
            self.soft_update(self.target_q_network, self.q_network)

        self.track_data("Loss / Q-network loss", q_network_loss.detach())
        self.track_stats("Target / Target", target_values)
