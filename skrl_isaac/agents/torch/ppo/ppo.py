"""Proximal Policy Optimization (Schulman et al., 2017) with GAE, for batched environments."""

from __future__ import annotations

from typing import Any, Mapping

import torch

from skrl_isaac.agents.torch.base import Agent, resolve_class
from skrl_isaac.agents.torch.cuda_graph import CudaGraphStep, tensor_fingerprint
from skrl_isaac.agents.torch.optim import make_adam
from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.models.torch.base import Model
from skrl_isaac.models.torch.adapter import is_gaussian_policy
from skrl_isaac.resources.schedulers.torch import KLAdaptiveRL
from skrl_isaac.utils import distributed
from skrl_isaac.agents.torch.ppo.config import PPO_DEFAULT_CONFIG, PPOConfig
from skrl_isaac.utils.config import merge_config, typed_view

__all__ = ["PPO", "PPO_DEFAULT_CONFIG", "PPOConfig", "generalized_advantages"]

SCHEDULERS = {"KLAdaptiveRL": KLAdaptiveRL}


def generalized_advantages(rewards: torch.Tensor, values: torch.Tensor, last_values: torch.Tensor,
                           not_dones: torch.Tensor, discount_factor: float, lambda_: float) -> torch.Tensor:
    """GAE(lambda) advantages of a rollout (Schulman et al., 2016), on the rollout's device.

    ``rewards``, ``values``, ``not_dones``: ``(rollouts, num_envs, 1)``; ``last_values``: ``(num_envs, 1)``, the
    values of the states after the last step. The TD errors of all steps come from one vectorized
    expression, and the backward recursion ``A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}`` takes
    two ops per step, so a rollout of ``T`` steps costs ~``2 T + 6`` kernels instead of ~``12 T`` (fewer
    launches per iteration on a GPU), with the same roundings as the step-by-step form.
    """
    next_values = torch.cat((values[1:], last_values.unsqueeze(0)))
    deltas = rewards + discount_factor * next_values * not_dones - values
    decays = discount_factor * lambda_ * not_dones
    advantages = torch.empty_like(rewards)
    advantage = deltas[-1]
    advantages[-1] = advantage
    for i in range(rewards.shape[0] - 2, -1, -1):
        advantage = torch.mul(decays[i], advantage, out=advantages[i]).add_(deltas[i])
    return advantages


class PPO(Agent):
    """Proximal Policy Optimization.

    :param models: ``{"policy": GaussianModel or CategoricalModel, "value": DeterministicModel}``
                   (the same instance for both shares the network; its ``compute`` must then
                   serve both roles)
    :param memory: rollout memory (``RandomMemory(memory_size=rollouts, num_envs=..., device=...)``)
    :param observation_space: observation space
    :param action_space: action space
    :param device: device of the computations
    :param cfg: configuration, see ``PPO_DEFAULT_CONFIG`` (unknown keys are an error)
    """

    state_scalars = Agent.state_scalars + ("_rollout",)

    def __init__(self, models: Mapping[str, Model], memory: Memory | None = None, observation_space: Any = None,
                 action_space: Any = None, device: str | torch.device | None = None,
                 cfg: Mapping[str, Any] | None = None) -> None:
        cfg = merge_config(PPO_DEFAULT_CONFIG, cfg, owner="PPO")
        super().__init__(models, memory, observation_space, action_space, device, cfg)
        self._require_models("policy", "value")
        if memory is None:
            raise ValueError("PPO needs a memory: RandomMemory(memory_size=cfg['rollouts'], num_envs=..., device=...)")
        if memory.memory_size != cfg["rollouts"]:
            raise ValueError(f"PPO: memory_size ({memory.memory_size}) must equal cfg['rollouts'] ({cfg['rollouts']})")
        self.policy: Model = self.models["policy"]
        self.value: Model = self.models["value"]
        self.checkpoint_modules.update(policy=self.policy, value=self.value)

        self.config: PPOConfig = typed_view(PPOConfig, cfg, owner="PPO")  # the typed view of self.cfg
        for key in ("rollouts", "learning_epochs", "mini_batches"):
            if getattr(self.config, key) < 1:
                raise ValueError(f"PPO: cfg[{key!r}] must be >= 1, got {cfg[key]}")
        samples = memory.memory_size * memory.num_envs  # checked now, not at the first update
        if self.config.mini_batches > samples:
            raise ValueError(f"PPO: cfg['mini_batches']={self.config.mini_batches} is more than a rollout's "
                             f"{samples} samples (rollouts {memory.memory_size} x {memory.num_envs} envs): use 1 to {samples}")

        # optimizer and learning rate scheduler
        params = list(self.policy.parameters())
        if self.value is not self.policy:
            params += list(self.value.parameters())
        self.optimizer = make_adam(params, cfg["learning_rate"], self.device)
        scheduler = resolve_class(cfg["learning_rate_scheduler"], SCHEDULERS, "learning_rate_scheduler")
        self.scheduler = scheduler(self.optimizer, **cfg["learning_rate_scheduler_kwargs"]) if scheduler else None

        # preprocessors
        self._state_preprocessor = self._make_preprocessor("state_preprocessor", cfg["state_preprocessor"],
                                                           cfg["state_preprocessor_kwargs"], observation_space)
        self._value_preprocessor = self._make_preprocessor("value_preprocessor", cfg["value_preprocessor"],
                                                           cfg["value_preprocessor_kwargs"], 1)
        # the policy's input normalization travels with the policy checkpoint
        self.policy_checkpoint_names = ("policy", "state_preprocessor")

        self._rollout = 0
        self._current_next_states: torch.Tensor | None = None
        self._tensors_names = ("states", "actions", "log_prob", "values", "returns", "advantages")

        if self.config.bounds_loss_scale < 0 or (self.config.bounds_loss_scale and not is_gaussian_policy(self.policy)):
            raise ValueError(f"PPO: cfg['bounds_loss_scale']={self.config.bounds_loss_scale} is not valid: expected "
                             ">= 0, and 0 unless the policy is Gaussian")
        if self.config.kl_since not in ("rollout", "epoch"):
            raise ValueError(f"PPO: cfg['kl_since']={self.config.kl_since!r} is not valid: expected 'rollout' or 'epoch'")
        # kl_since="epoch": each stored sample's log-probability at its last minibatch visit (from the rollout's
        # own at the start of an update); one tensor for the agent's life (a CUDA graph reads it)
        self._kl_reference: torch.Tensor | None = None
        if self.config.kl_since == "epoch":
            self._kl_reference = torch.zeros((self.config.rollouts * memory.num_envs, 1), device=self.device)

        if not isinstance(cfg["cuda_graph"], bool):
            raise ValueError(f"PPO: cfg['cuda_graph'] must be True or False, got {cfg['cuda_graph']!r}")
        # the update's minibatch step and the rollout's policy step as CUDA graphs: on CUDA, in float32 (autocast
        # and GradScaler are not captured), with an optimizer whose step can be captured (fused Adam). Whether a
        # tensor they read was replaced is checked once per update and once per rollout (a checkpoint's load
        # copies into the models' tensors but replaces the optimizer's state)
        self._graphed_step: CudaGraphStep | None = None
        self._graphed_act: CudaGraphStep | None = None
        # (not under torchrun: the update's gradient all-reduce runs outside a graph)
        if (cfg["cuda_graph"] and self.device.type == "cuda" and not self._mixed_precision
                and not self.process.is_distributed
                and all(group.get("fused") for group in self.optimizer.param_groups)):
            modes = lambda: (self.policy.training, self.value.training)  # noqa: E731 - train/eval: one graph each
            self._graphed_step = CudaGraphStep(self._minibatch_step, self._update_storage, [self.optimizer],
                                               check_every_call=False, name="PPO update step", variant=modes)
            self._graphed_act = CudaGraphStep(self._policy_act,
                                              lambda: tensor_fingerprint(self.policy, self._state_preprocessor),
                                              check_every_call=False, name="PPO policy step", variant=modes)

    def init(self, trainer_cfg: Mapping[str, Any] | None = None) -> None:
        """Create the memory's tensors and the experiment directory/writer."""
        super().init(trainer_cfg)
        self.set_mode("eval")
        m = self.memory
        m.create_tensor("states", self.observation_space, torch.float32)
        m.create_tensor("actions", self.action_space,
                        torch.long if type(self.action_space).__name__ == "Discrete" else torch.float32)
        m.create_tensor("rewards", 1, torch.float32)
        m.create_tensor("terminated", 1, torch.bool)
        m.create_tensor("truncated", 1, torch.bool)
        m.create_tensor("log_prob", 1, torch.float32)
        m.create_tensor("values", 1, torch.float32)
        m.create_tensor("returns", 1, torch.float32)
        m.create_tensor("advantages", 1, torch.float32)

    # -- rollout ------------------------------------------------------------------------------
    def act(self, states: torch.Tensor, timestep: int, timesteps: int) -> tuple:
        """Sample actions from the policy (uniformly at random during ``random_timesteps``)."""
        if timestep < self.config.random_timesteps:
            return self.policy.random_act(self._state_preprocessor(states))
        if self._graphed_act is not None and self._rollout % self.config.rollouts == 0:
            self._graphed_act.check_storage()
        actions, log_prob, outputs = (self._graphed_act or self._policy_act)(states)
        self._current_log_prob = log_prob
        return actions, log_prob, outputs

    def _policy_act(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The policy's actions, their log-probabilities and its outputs for the raw ``states``."""
        with self.autocast():
            return self.policy.act(self._state_preprocessor(states))

    def record_transition(self, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                          next_states: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
                          infos: Any, timestep: int, timesteps: int) -> None:
        super().record_transition(states, actions, rewards, next_states, terminated, truncated, infos,
                                  timestep, timesteps)
        self._current_next_states = next_states
        if self.config.rewards_shaper is not None:
            rewards = self.config.rewards_shaper(rewards, timestep, timesteps)
        if timestep < self.config.random_timesteps:  # log-probabilities of the random actions under the policy
            with self.autocast():
                _, self._current_log_prob, _ = self.policy.act(self._state_preprocessor(states),
                                                               taken_actions=actions)
        # the states' values are computed for the whole rollout at once when it ends (_compute_values)
        self.memory.add_samples(states=states, actions=actions, rewards=rewards, terminated=terminated,
                                truncated=truncated, log_prob=self._current_log_prob)

    def post_interaction(self, timestep: int, timesteps: int) -> None:
        self._rollout += 1
        if self._rollout % self.config.rollouts == 0:
            self._compute_values()
            if timestep >= self.config.learning_starts:
                self.set_mode("train")
                self._update(timestep, timesteps)
                self.set_mode("eval")
                # NaN/inf losses or parameters stop training right after the update that made them (one host
                # read per update, none per env step), before anything non-finite reaches a file
                self.check_finite(timestep + 1)
        super().post_interaction(timestep, timesteps)

    # -- update -------------------------------------------------------------------------------
    @torch.no_grad()
    def _compute_values(self) -> None:
        """Fill the memory's ``values`` for the rollout just recorded, in one batched forward pass.

        The same numbers as evaluating the value model step by step during the rollout: neither the
        model nor the state preprocessor's statistics change within a rollout (the statistics take
        in the rollout's states after the update). With ``time_limit_bootstrap`` the rewards of the
        truncated steps then get ``discount_factor * value`` added, as at recording time.
        """
        m = self.memory
        with self.autocast():
            values = self.value.act(self._state_preprocessor(m.get_tensor_by_name("states", keepdim=False)))[0]
        values = self._value_preprocessor(values, inverse=True).reshape(m.get_tensor_by_name("values").shape)
        m.set_tensor_by_name("values", values)
        if self.config.time_limit_bootstrap:
            rewards = m.get_tensor_by_name("rewards")
            rewards.add_(self.config.discount_factor * values * m.get_tensor_by_name("truncated"))

    @torch.no_grad()
    def _compute_returns(self) -> None:
        m = self.memory
        rewards = m.get_tensor_by_name("rewards")
        not_dones = (~(m.get_tensor_by_name("terminated") | m.get_tensor_by_name("truncated"))).to(rewards.dtype)
        values = m.get_tensor_by_name("values")
        with self.autocast():
            last_values = self.value.act(self._state_preprocessor(self._current_next_states))[0]
        last_values = self._value_preprocessor(last_values, inverse=True)
        advantages = generalized_advantages(rewards, values, last_values, not_dones, self.config.discount_factor,
                                            self.config.lambda_)
        returns = advantages + values
        std, mean = torch.std_mean(advantages)
        # the value normalizer learns the scale of the values *and* of the returns (as skrl and rl_games):
        # fitted on the values alone, an untrained critic's near-constant values give a tiny scale, the
        # normalized returns become huge, and with clip_predicted_values the critic can move only
        # value_clip per update towards them: it never catches up (Cartpole stalls far below its maximum return)
        m.set_tensor_by_name("values", self._value_preprocessor(values, train=True))
        m.set_tensor_by_name("returns", self._value_preprocessor(returns, train=True))
        m.set_tensor_by_name("advantages", (advantages - mean) / (std + 1e-8))

    def _minibatch_step(self, mb_indexes: torch.Tensor) -> tuple[torch.Tensor]:
        """One gradient step on the stored transitions ``mb_indexes``; returns ``(losses,)``: the policy,
        value and entropy losses and the KL estimate, stacked (the CUDA graph's captured function)."""
        states, actions, old_log_prob, old_values, returns, advantages = self.memory.sample_by_index(
            self._tensors_names, mb_indexes)[0]
        states = self._state_preprocessor(states)
        with self.autocast():
            _, log_prob, outputs = self.policy.act(states, taken_actions=actions)

        # importance ratio, and the KL divergence estimate (approx_kl, Schulman's k3) from it, or from the
        # sample's log-probability at the previous epoch (kl_since="epoch")
        log_ratio = log_prob - old_log_prob
        ratio = torch.exp(log_ratio)
        with torch.no_grad():
            if self._kl_reference is None:
                kl = ((ratio - 1) - log_ratio).mean()
            else:  # the move since this sample's previous epoch
                since = log_prob - self._kl_reference[mb_indexes]
                kl = ((torch.exp(since) - 1) - since).mean()
                self._kl_reference[mb_indexes] = log_prob.detach()

        # clipped surrogate objective
        surrogate = advantages * ratio
        surrogate_clipped = advantages * torch.clamp(ratio, 1.0 - self.config.ratio_clip, 1.0 + self.config.ratio_clip)
        policy_loss = -torch.min(surrogate, surrogate_clipped).mean()

        if self.config.entropy_loss_scale:
            entropy_loss = -self.config.entropy_loss_scale * self.policy.get_entropy().mean()
        else:
            entropy_loss = torch.zeros((), device=self.device)

        # value loss
        with self.autocast():
            predicted_values = self.value.act(states)[0]
        value_errors = (returns - predicted_values) ** 2
        if self.config.clip_predicted_values:
            # PPO2's clipped value loss: the larger of the unclipped and the clipped error
            clipped_values = old_values + torch.clamp(predicted_values - old_values,
                                                      -self.config.value_clip, self.config.value_clip)
            value_errors = torch.maximum(value_errors, (returns - clipped_values) ** 2)
        value_loss = self.config.value_loss_scale * value_errors.mean()

        loss = policy_loss + entropy_loss + value_loss
        if self.config.bounds_loss_scale:  # rl_games' soft bound at 1.1 on the mean actions
            mean_actions = outputs["mean_actions"] if isinstance(outputs, dict) else outputs
            excess = torch.relu(mean_actions.abs() - 1.1)
            loss = loss + self.config.bounds_loss_scale * excess.square().sum(-1).mean()
        self.optimize(self.optimizer, loss)
        return (torch.stack((policy_loss.detach(), value_loss.detach(), entropy_loss.detach(), kl)),)

    def _update_storage(self) -> tuple:
        """Where everything the minibatch step reads lives (a new tensor means the CUDA graph is stale)."""
        return tensor_fingerprint(self.policy, self.value, self.optimizer, self.memory.tensors,
                                  self._state_preprocessor, self._kl_reference)

    def _update(self, timestep: int, timesteps: int) -> None:
        # returns and advantages
        self._compute_returns()
        if self._kl_reference is not None:  # the first epoch measures from the rollout's policy
            self._kl_reference.copy_(self.memory.get_tensor_by_name("log_prob").reshape(-1, 1))

        # learning epochs over random minibatches, everything on the device
        step = self._graphed_step or self._minibatch_step
        if self._graphed_step is not None:
            self._graphed_step.check_storage()
        totals = torch.zeros(4, device=self.device)  # policy loss, value loss, entropy loss, kl
        updates = 0
        for epoch in range(self.config.learning_epochs):
            epoch_kl = []
            for mb_indexes in self.memory.minibatch_indexes(self.config.mini_batches):
                losses = step(mb_indexes)[0]
                totals += losses
                epoch_kl.append(losses[3])
                updates += 1

            # the epoch's KL averaged over the ranks (one device all-reduce under torchrun), so every rank
            # adapts the learning rate and stops early alike
            kl = distributed.all_reduce_mean(torch.stack(epoch_kl).mean())
            if self.scheduler is not None and isinstance(self.scheduler, KLAdaptiveRL):
                self.scheduler.step(kl)
            elif self.scheduler is not None:
                self.scheduler.step()
            # early stopping reads the KL on the host (once per epoch), only when enabled
            if self.config.kl_threshold and float(kl) > self.config.kl_threshold:
                break

        # fold the rollout into the observation statistics only now: the rollout's log-probabilities and
        # the whole update saw the same normalization (no spurious KL from drifting statistics)
        self._state_preprocessor(self.memory.get_tensor_by_name("states"), train=True)

        # tracking (device tensors; written at the next write_interval boundary)
        totals /= updates
        self.track_data("Loss / Policy loss", totals[0])
        self.track_data("Loss / Value loss", totals[1])
        if self.config.entropy_loss_scale:
            self.track_data("Loss / Entropy loss", totals[2])
        if is_gaussian_policy(self.policy):
            self.track_data("Policy / Standard deviation", self.policy.distribution().stddev.mean())
