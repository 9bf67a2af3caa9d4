"""Soft Actor-Critic (Haarnoja et al., 2018) with automatic entropy tuning, for batched environments."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from skrl_isaac.agents.torch.off_policy import (ACTOR_CRITIC_CONFIG, REPLAY_CONFIG, UPDATE_CONFIG, OffPolicyAgent,
                                                  default_config, default_target_entropy, init_target)
from skrl_isaac.agents.torch.off_policy import OffPolicyConfig
from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.models.torch.base import Model

SAC_DEFAULT_CONFIG: dict[str, Any] = default_config(ACTOR_CRITIC_CONFIG, REPLAY_CONFIG, {
    "learn_entropy": True,          # learn the entropy coefficient (adds "Loss / Entropy loss")
    "entropy_learning_rate": 1e-3,  # entropy coefficient learning rate
    "initial_entropy_value": 0.2,   # initial entropy coefficient (alpha)
    "target_entropy": None,         # target entropy (None: -dim(action space))
}, UPDATE_CONFIG)  # the shared keys: see off_policy.py


@dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """SAC's typed view of its merged config: the shared off-policy scalars and its own."""

    initial_entropy_value: float
    """Initial entropy coefficient (alpha), > 0."""
    learn_entropy: bool
    """Learn the entropy coefficient towards the target entropy."""


class SAC(OffPolicyAgent):
    """Soft Actor-Critic.

    :param models: ``{"policy": GaussianModel}`` and ``{"critic_1", "critic_2", "target_critic_1",
                   "target_critic_2"}`` (DeterministicModel, ``compute(states, taken_actions)`` -> Q ``(N, 1)``)
    :param memory: replay memory (``RandomMemory(memory_size=..., num_envs=..., device=...)``)
    :param observation_space: observation space
    :param action_space: continuous (Box) action space
    :param device: device of the computations
    :param cfg: configuration, see ``SAC_DEFAULT_CONFIG`` (unknown keys are an error)
    """

    config_type = SACConfig

    def __init__(self, models: Mapping[str, Model], memory: Memory | None = None, observation_space: Any = None,
                 action_space: Any = None, device: str | torch.device | None = None,
                 cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__(models, memory, observation_space, action_space, device, cfg, SAC_DEFAULT_CONFIG)
        self._require_models("policy", "critic_1", "critic_2", "target_critic_1", "target_critic_2")
        if self._discrete:
            raise ValueError("SAC needs a continuous (Box) action space; use DQN for Discrete actions")
        m = self.models
        self.policy = m["policy"]
        self.critic_1, self.critic_2 = m["critic_1"], m["critic_2"]
        self.target_critic_1, self.target_critic_2 = m["target_critic_1"], m["target_critic_2"]
        self.checkpoint_modules.update(policy=self.policy, critic_1=self.critic_1, critic_2=self.critic_2,
                                       target_critic_1=self.target_critic_1, target_critic_2=self.target_critic_2)
        self.policy_checkpoint_names = ("policy", "state_preprocessor")
        init_target(self.target_critic_1, self.critic_1)
        init_target(self.target_critic_2, self.critic_2)

        # entropy coefficient (alpha = exp(log_alpha)), a device tensor
        initial = self.config.initial_entropy_value
        if not initial > 0:
            raise ValueError(f"SAC: cfg['initial_entropy_value'] must be > 0, got {initial}")
        self._learn_entropy = self.config.learn_entropy
        target_entropy = self.cfg["target_entropy"]
        self._target_entropy = default_target_entropy(action_space) if target_entropy is None else float(target_entropy)
        self.log_entropy_coefficient = torch.tensor(math.log(initial), device=self.device,
                                                    requires_grad=self._learn_entropy)
        self._entropy_coefficient = self.log_entropy_coefficient.detach().exp()

        self.policy_optimizer = self.make_optimizer([self.policy], self.cfg["actor_learning_rate"])
        self.critic_optimizer = self.make_optimizer([self.critic_1, self.critic_2], self.cfg["critic_learning_rate"])
        if self._learn_entropy:
            self.entropy_optimizer = self.make_optimizer([self.log_entropy_coefficient],
                                                         self.cfg["entropy_learning_rate"])

    # -- rollout ------------------------------------------------------------------------------
    def act(self, states: torch.Tensor, timestep: int, timesteps: int) -> tuple:
        """Actions sampled from the policy (uniformly at random during ``random_timesteps``)."""
        if timestep < self.config.random_timesteps:
            return self.random_actions(states.shape[0]), None, None
        return self.policy.act(self._state_preprocessor(states))

    # -- update -------------------------------------------------------------------------------
    def _update_step(self, timestep: int, timesteps: int, gradient_step: int) -> None:
        states, actions, rewards, next_states, not_done = self.sample_batch(gradient_step)
        alpha = self._entropy_coefficient

        # target values: soft (entropy-regularized) minimum of the twin target critics
        with torch.no_grad():
            next_actions, next_log_prob, _ = self.policy.act(next_states)
            target_q_values = torch.min(self.target_critic_1.act(next_states, next_actions)[0],
                                        self.target_critic_2.act(next_states, next_actions)[0])
            target_values = self.bootstrap(rewards, not_done, target_q_values - alpha * next_log_prob)

        # critic loss
        critic_1_values = self.critic_1.act(states, actions)[0]
        critic_2_values = self.critic_2.act(states, actions)[0]
        critic_loss = (F.mse_loss(critic_1_values, target_values) + F.mse_loss(critic_2_values, target_values)) / 2
        self.optimize(self.critic_optimizer, critic_loss)

        # policy loss
        new_actions, log_prob, _ = self.policy.act(states)
        q_values = torch.min(self.critic_1.act(states, new_actions)[0], self.critic_2.act(states, new_actions)[0])
        policy_loss = (alpha * log_prob - q_values).mean()
        self.optimize(self.policy_optimizer, policy_loss)

        # entropy coefficient
        if self._learn_entropy:
            entropy_loss = -(self.log_entropy_coefficient * (log_prob.detach() + self._target_entropy)).mean()
            self.optimize(self.entropy_optimizer, entropy_loss)
            self._entropy_coefficient = self.log_entropy_coefficient.detach().exp()
            self.track_data("Loss / Entropy loss", entropy_loss.detach())

        # target networks
        self.soft_update(self.target_critic_1, self.critic_1)
        self.soft_update(self.target_critic_2, self.critic_2)

        self.track_data("Loss / Policy loss", policy_loss.detach())
        self.track_data("Loss / Critic loss", critic_loss.detach())
        self.track_stats("Q-network / Q1", critic_1_values)
        self.track_stats("Q-network / Q2", critic_2_values)
        self.track_stats("Target / Target", target_values)
        self.track_data("Coefficient / Entropy coefficient", self._entropy_coefficient)
