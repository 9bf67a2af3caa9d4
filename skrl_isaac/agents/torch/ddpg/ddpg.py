"""Deep Deterministic Policy Gradient (Lillicrap et al., 2015), for batched environments."""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from skrl_isaac.agents.torch.off_policy import (ACTOR_CRITIC_CONFIG, NOISE_EXPLORATION_CONFIG, REPLAY_CONFIG,
                                                  UPDATE_CONFIG, NoiseExplorationAgent, default_config, init_target)
from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.models.torch.base import Model

DDPG_DEFAULT_CONFIG: dict[str, Any] = default_config(
    ACTOR_CRITIC_CONFIG, REPLAY_CONFIG, NOISE_EXPLORATION_CONFIG, UPDATE_CONFIG)  # keys: see off_policy.py


class DDPG(NoiseExplorationAgent):
    """Deep Deterministic Policy Gradient.

    :param models: ``{"policy", "target_policy"}`` (DeterministicModel, actions) and
                   ``{"critic", "target_critic"}`` (DeterministicModel, ``compute(states, taken_actions)`` -> Q ``(N, 1)``)
    :param memory: replay memory (``RandomMemory(memory_size=..., num_envs=..., device=...)``)
    :param observation_space: observation space
    :param action_space: continuous (Box) action space
    :param device: device of the computations
    :param cfg: configuration, see ``DDPG_DEFAULT_CONFIG`` (unknown keys are an error)
    """

    def __init__(self, models: Mapping[str, Model], memory: Memory | None = None, observation_space: Any = None,
                 action_space: Any = None, device: str | torch.device | None = None,
                 cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__(models, memory, observation_space, action_space, device, cfg, DDPG_DEFAULT_CONFIG)
        self._require_models("policy", "target_policy", "critic", "target_critic")
        if self._discrete:
            raise ValueError("DDPG needs a continuous (Box) action space; use DQN for Discrete actions")
        self.policy: Model = self.models["policy"]
        self.target_policy: Model = self.models["target_policy"]
        self.critic: Model = self.models["critic"]
        self.target_critic: Model = self.models["target_critic"]
        self.checkpoint_modules.update(policy=self.policy, target_policy=self.target_policy, critic=self.critic,
                                       target_critic=self.target_critic)
        self.policy_checkpoint_names = ("policy", "state_preprocessor")
        init_target(self.target_policy, self.policy)
        init_target(self.target_critic, self.critic)

        self.policy_optimizer = self.make_optimizer([self.policy], self.cfg["actor_learning_rate"])
        self.critic_optimizer = self.make_optimizer([self.critic], self.cfg["critic_learning_rate"])

    # -- update -------------------------------------------------------------------------------
    def _update_step(self, timestep: int, timesteps: int, gradient_step: int) -> None:
        states, actions, rewards, next_states, not_done = self.sample_batch(gradient_step)

        # target values
        with torch.no_grad():
            next_actions = self.target_policy.act(next_states)[0]
            target_q_values = self.target_critic.act(next_states, next_actions)[0]
            target_values = self.bootstrap(rewards, not_done, target_q_values)

        # critic loss
        critic_values = self.critic.act(states, actions)[0]
        critic_loss = F.mse_loss(critic_values, target_values)
        self.optimize(self.critic_optimizer, critic_loss)

        # policy loss (the critic's gradients from this step are discarded by its next zero_grad)
        policy_loss = -self.critic.act(states, self.policy.act(states)[0])[0].mean()
        self.optimize(self.policy_optimizer, policy_loss)

        # target networks
        self.soft_update(self.target_policy, self.policy)
        self.soft_update(self.target_critic, self.critic)

        self.track_data("Loss / Policy loss", policy_loss.detach())
        self.track_data("Loss / Critic loss", critic_loss.detach())
        self.track_stats("Q-network / Q1", critic_values)
        self.track_stats("Target / Target", target_values)
