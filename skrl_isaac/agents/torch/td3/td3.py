"""Twin Delayed DDPG (Fujimoto et al., 2018), for batched environments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from skrl_isaac.agents.torch.off_policy import (ACTOR_CRITIC_CONFIG, NOISE_EXPLORATION_CONFIG, REPLAY_CONFIG,
                                                  UPDATE_CONFIG, NoiseExplorationAgent, default_config, init_target,
                                                  make_noise)
from skrl_isaac.agents.torch.off_policy import OffPolicyConfig
from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.models.torch.base import Model

TD3_DEFAULT_CONFIG: dict[str, Any] = default_config(ACTOR_CRITIC_CONFIG, REPLAY_CONFIG, NOISE_EXPLORATION_CONFIG, {
    "policy_delay": 2,                      # policy (and target networks) delay update with respect to the critics
    "smooth_regularization_noise": None,    # target policy smoothing noise (a Noise or a {"class": ...} dict; None: off)
    "smooth_regularization_clip": 0.5,      # clip of the smoothing noise
}, UPDATE_CONFIG)  # the shared keys: see off_policy.py


@dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    """TD3's typed view of its merged config: the shared off-policy scalars and its own."""

    policy_delay: int
    """Critic updates per policy (and target) update."""
    smooth_regularization_clip: float
    """Clipping range of the target policy smoothing noise."""


class TD3(NoiseExplorationAgent):
    """Twin Delayed DDPG: clipped double-Q targets, delayed policy updates, target policy smoothing.

    :param models: ``{"policy", "target_policy"}`` (DeterministicModel, actions) and
                   ``{"critic_1", "critic_2", "target_critic_1", "target_critic_2"}`` (DeterministicModel,
                   ``compute(states, taken_actions)`` -> Q ``(N, 1)``)
    :param memory: replay memory (``RandomMemory(memory_size=..., num_envs=..., device=...)``)
    :param observation_space: observation space
    :param action_space: continuous (Box) action space
    :param device: device of the computations
    :param cfg: configuration, see ``TD3_DEFAULT_CONFIG`` (unknown keys are an error)
    """

    #: counters restored by agent checkpoints (``<timestep>_agent.pt``)
    state_scalars = NoiseExplorationAgent.state_scalars + ("_critic_update_counter",)

    config_type = TD3Config

    def __init__(self, models: Mapping[str, Model], memory: Memory | None = None, observation_space: Any = None,
                 action_space: Any = None, device: str | torch.device | None = None,
                 cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__(models, memory, observation_space, action_space, device, cfg, TD3_DEFAULT_CONFIG)
        self._require_models("policy", "target_policy", "critic_1", "critic_2", "target_critic_1", "target_critic_2")
        if self._discrete:
            raise ValueError("TD3 needs a continuous (Box) action space; use DQN for Discrete actions")
        m = self.models
        self.policy, self.target_policy = m["policy"], m["target_policy"]
        self.critic_1, self.critic_2 = m["critic_1"], m["critic_2"]
        self.target_critic_1, self.target_critic_2 = m["target_critic_1"], m["target_critic_2"]
        self.checkpoint_modules.update(policy=self.policy, target_policy=self.target_policy,
                                       critic_1=self.critic_1, critic_2=self.critic_2,
                                       target_critic_1=self.target_critic_1, target_critic_2=self.target_critic_2)
        self.policy_checkpoint_names = ("policy", "state_preprocessor")
        init_target(self.target_policy, self.policy)
        init_target(self.target_critic_1, self.critic_1)
        init_target(self.target_critic_2, self.critic_2)

        self._policy_delay = max(self.config.policy_delay, 1)
        self._smooth_noise = make_noise(self.cfg["smooth_regularization_noise"], self.device)
        self._smooth_clip = self.config.smooth_regularization_clip
        self._critic_update_counter = 0

        self.policy_optimizer = self.make_optimizer([self.policy], self.cfg["actor_learning_rate"])
        self.critic_optimizer = self.make_optimizer([self.critic_1, self.critic_2], self.cfg["critic_learning_rate"])

    # -- update -------------------------------------------------------------------------------
    def _update_step(self, timestep: int, timesteps: int, gradient_step: int) -> None:
        states, actions, rewards, next_states, not_done = self.sample_batch(gradient_step)

        # target values: smoothed target policy, minimum of the twin target critics
        with torch.no_grad():
            next_actions = self.target_policy.act(next_states)[0]
            if self._smooth_noise is not None:
                noises = self._smooth_noise.sample_like(next_actions).clamp_(-self._smooth_clip, self._smooth_clip)
                next_actions = torch.clamp(next_actions + noises, self._action_low, self._action_high)
            target_q_values = torch.min(self.target_critic_1.act(next_states, next_actions)[0],
                                        self.target_critic_2.act(next_states, next_actions)[0])
            target_values = self.bootstrap(rewards, not_done, target_q_values)

        # critic loss
        critic_1_values = self.critic_1.act(states, actions)[0]
        critic_2_values = self.critic_2.act(states, actions)[0]
        critic_loss = F.mse_loss(critic_1_values, target_values) + F.mse_loss(critic_2_values, target_values)
        self.optimize(self.critic_optimizer, critic_loss)

        # delayed policy and target updates
        self._critic_update_counter += 1
        if self._critic_update_counter % self._policy_delay == 0:
            policy_loss = -self.critic_1.act(states, self.policy.act(states)[0])[0].mean()
            self.optimize(self.policy_optimizer, policy_loss)
            self.soft_update(self.target_policy, self.policy)
            self.soft_update(self.target_critic_1, self.critic_1)
            self.soft_update(self.target_critic_2, self.critic_2)
            self.track_data("Loss / Policy loss", policy_loss.detach())

        self.track_data("Loss / Critic loss", critic_loss.detach())
        self.track_stats("Q-network / Q1", critic_1_values)
        self.track_stats("Q-network / Q2", critic_2_values)
        self.track_stats("Target / Target", target_values)
