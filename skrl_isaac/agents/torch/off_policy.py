"""Shared plumbing of the off-policy agents (DQN, DDPG, TD3, SAC): replay memory, sampling, targets, schedules.

Every agent here stores ``states, actions, rewards, next_states, terminated, truncated`` in a
:class:`~skrl_isaac.memories.torch.RandomMemory` (one row per env step, on the env device),
samples minibatches on the device and bootstraps its targets as::

    target = reward + discount_factor * (1 - terminated) * next_value(next_state)

Truncation (time-outs). The batched tasks reset finished environments inside ``step``, so the
``next_states`` row of a finished episode is the *next* episode's first observation, which must
never be bootstrapped from. A terminated transition does not bootstrap at all. A truncated one
(the episode was cut by the time limit; the true last observation is lost to the auto-reset):

* ``time_limit_bootstrap=True`` (default): bootstraps from the transition's own ``states``
  (``next_value(state)`` approximates ``next_value(next_state)`` one step earlier);
* ``time_limit_bootstrap=False``: treated as terminal (no bootstrap), as skrl 0.x's ``dones``.

``mixed_precision=True`` runs each update step (targets, losses) under bfloat16 autocast (float16
with a GradScaler on pre-Ampere GPUs); acting stays float32 (256-row forward passes gain nothing
from it). See :mod:`skrl_isaac.agents.torch.precision`.

Nothing here reads a tensor back to the host: schedules are computed from the Python ``timestep``
and every tracked value stays a device tensor until the base class writes it.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from skrl_isaac import logger
from skrl_isaac.agents.torch.base import EXPERIMENT_DEFAULT_CONFIG, Agent, resolve_class
from skrl_isaac.agents.torch.optim import make_adam
from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.models.torch.base import Model
from skrl_isaac.resources.noises.torch import GaussianNoise, Noise, OrnsteinUhlenbeckNoise
from skrl_isaac.utils.config import merge_config, typed_view
from skrl_isaac.utils.spaces import is_discrete

SCHEDULERS = {name: getattr(torch.optim.lr_scheduler, name) for name in
              ("StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "CosineAnnealingLR", "ConstantLR")}

NOISES = {"GaussianNoise": GaussianNoise, "OrnsteinUhlenbeckNoise": OrnsteinUhlenbeckNoise}

TRANSITION_NAMES = ("states", "actions", "rewards", "next_states", "terminated", "truncated")

# -- the sections of the off-policy agents' DEFAULT_CONFIGs (composed by default_config) --------
# DDPG, TD3 and SAC: optimisation (each agent's own keys follow; see ddpg.py, td3.py, sac.py)
ACTOR_CRITIC_CONFIG: dict[str, Any] = {
    "gradient_steps": 1,            # gradient steps per update (per environment step)
    "batch_size": 64,               # training batch size

    "discount_factor": 0.99,        # discount factor (gamma)
    "polyak": 0.005,                # soft update hyperparameter (tau)

    "actor_learning_rate": 1e-3,    # actor learning rate
    "critic_learning_rate": 1e-3,   # critic learning rate
    "learning_rate_scheduler": None,        # learning rate scheduler class (torch.optim.lr_scheduler class or name)
    "learning_rate_scheduler_kwargs": {},   # learning rate scheduler's kwargs (e.g. {"step_size": 1000})
}
# all four: the states' preprocessing and when learning starts
REPLAY_CONFIG: dict[str, Any] = {
    "state_preprocessor": None,             # state preprocessor class (or "RunningStandardScaler")
    "state_preprocessor_kwargs": {},        # state preprocessor's kwargs (e.g. {"size": env.observation_space})

    "random_timesteps": 0,          # random exploration steps
    "learning_starts": 0,           # learning starts after this many steps
}
# DDPG and TD3: exploration by action noise
NOISE_EXPLORATION_CONFIG: dict[str, Any] = {
    "exploration": {
        "noise": None,              # exploration noise (a Noise, or {"class": "GaussianNoise", "mean": 0, "std": 0.1})
        "initial_scale": 1.0,       # initial scale for the noise
        "final_scale": 1e-3,        # final scale for the noise
        "timesteps": None,          # timesteps of the linear noise-scale decay (None: the whole training)
    },
}
# all four, last (before "experiment")
UPDATE_CONFIG: dict[str, Any] = {
    "grad_norm_clip": 0,            # clipping coefficient for the norm of the gradients (<= 0: off)
    "rewards_shaper": None,         # rewards shaping function: Callable(reward, timestep, timesteps) -> reward
    "time_limit_bootstrap": True,   # truncated transitions bootstrap from their own state (False: as terminal)
    "mixed_precision": False,       # run the update's forward passes under torch.autocast in bfloat16
                                    # (float16 with a GradScaler on pre-Ampere GPUs)
}


def default_config(*sections: Mapping[str, Any]) -> dict[str, Any]:
    """An agent's ``DEFAULT_CONFIG``: the keys of ``sections`` in order, then ``"experiment"``.

    Nested values are deep copies, so no two agents' defaults share a dict.
    """
    cfg: dict[str, Any] = {}
    for section in sections:
        cfg.update(copy.deepcopy(dict(section)))
    cfg["experiment"] = dict(EXPERIMENT_DEFAULT_CONFIG)
    return cfg


def linear_schedule(timestep: int, initial: float, final: float, timesteps: int | None) -> float:
    """``initial`` at timestep 0, linearly to ``final`` at ``timesteps``, then ``final`` (a Python float)."""
    if not timesteps or timesteps <= 0:
        return float(final)
    fraction = min(max(timestep / timesteps, 0.0), 1.0)
    return float(initial + fraction * (final - initial))


class SchedulerGroup:
    """The learning rate schedulers of an agent's optimizers, stepped together (one per optimizer)."""

    def __init__(self) -> None:
        self.schedulers: list[Any] = []

    def step(self) -> None:
        with warnings.catch_warnings():  # TD3's delayed policy optimizer may not have stepped yet
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            for scheduler in self.schedulers:
                scheduler.step()

    def state_dict(self) -> dict:
        return {"schedulers": [s.state_dict() for s in self.schedulers]}

    def load_state_dict(self, state: dict) -> None:
        for scheduler, scheduler_state in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(scheduler_state)


def make_noise(spec: Noise | Mapping[str, Any] | None, device: torch.device) -> Noise | None:
    """A noise instance from a :class:`Noise`, ``None``, or a config dict ``{"class": "GaussianNoise", **kwargs}``."""
    if spec is None or isinstance(spec, Noise):
        return spec
    if isinstance(spec, Mapping):
        kwargs = dict(spec)
        noise_class = resolve_class(kwargs.pop("class", None), NOISES, "noise class")
        if noise_class is None:
            raise ValueError(f"a noise config needs a 'class' key, one of {sorted(NOISES)}; got {dict(spec)}")
        return noise_class(device=device, **kwargs)
    raise ValueError(f"a noise must be a Noise instance, None or a dict with a 'class' key; got {spec!r}")


@dataclass(frozen=True)
class OffPolicyConfig:
    """The scalar hyperparameters every off-policy agent reads from its merged ``DEFAULT_CONFIG``."""

    batch_size: int
    """Transitions per sampled minibatch."""
    gradient_steps: int
    """Gradient steps per update (one update per environment step)."""
    discount_factor: float
    """Discount factor (gamma) of the bootstrapped targets."""
    polyak: float
    """Soft update coefficient of the target networks (tau)."""
    random_timesteps: int
    """Steps that act uniformly at random before the policy acts."""
    learning_starts: int
    """Steps before the first update."""
    rewards_shaper: Callable[[Any, int, int], Any] | None
    """``f(rewards, timestep, timesteps) -> rewards`` applied before storing (None: rewards as given)."""
    time_limit_bootstrap: bool
    """Bootstrap truncated transitions from their own states (False: treat them as terminal)."""


class OffPolicyAgent(Agent):
    """Base of the replay-buffer agents: config merge, preprocessor, memory layout, sampling, update loop.

    Subclasses implement :meth:`act` and :meth:`_update_step` (one gradient step on one sampled
    minibatch) and call :meth:`track_stats` / :meth:`track_data` with device tensors.

    :param models: the agent's models by name
    :param memory: replay memory, e.g. ``RandomMemory(memory_size=..., num_envs=..., device=...)``
    :param observation_space: observation space
    :param action_space: action space
    :param device: device of the computations
    :param cfg: user configuration (merged into ``defaults``; unknown keys are an error)
    :param defaults: the agent's ``DEFAULT_CONFIG``
    """

    #: the dataclass of :attr:`config` (a subclass of :class:`OffPolicyConfig` with the agent's own scalars)
    config_type: type[OffPolicyConfig] = OffPolicyConfig

    def __init__(self, models: Mapping[str, Model], memory: Memory | None, observation_space: Any,
                 action_space: Any, device: str | torch.device | None, cfg: Mapping[str, Any] | None,
                 defaults: Mapping[str, Any]) -> None:
        name = type(self).__name__
        cfg = merge_config(defaults, cfg, owner=name)
        super().__init__(models, memory, observation_space, action_space, device, cfg)
        if memory is None:
            raise ValueError(f"{name} needs a replay memory: RandomMemory(memory_size=..., num_envs=..., device=...)")
        self.config = typed_view(self.config_type, cfg, owner=name)  # the typed view of self.cfg
        for key in ("batch_size", "gradient_steps"):
            if getattr(self.config, key) < 1:
                raise ValueError(f"{name}: cfg[{key!r}] must be >= 1, got {cfg[key]}")
        if memory.memory_size * memory.num_envs < self.config.batch_size:
            logger.warning(f"{name}: the replay memory holds {memory.memory_size * memory.num_envs} transitions, "
                           f"fewer than batch_size={self.config.batch_size}; minibatches will repeat transitions")

        # state preprocessor (its statistics ride with the policy checkpoint)
        self._state_preprocessor = self._make_preprocessor("state_preprocessor", cfg["state_preprocessor"],
                                                           cfg["state_preprocessor_kwargs"], observation_space)
        self.schedulers = SchedulerGroup()

        # action bounds (continuous spaces) as device tensors, for noise clipping and random actions
        self._discrete = is_discrete(action_space)
        if not self._discrete and action_space is not None:
            self._action_low = torch.as_tensor(np.asarray(action_space.low), dtype=torch.float32, device=self.device)
            self._action_high = torch.as_tensor(np.asarray(action_space.high), dtype=torch.float32, device=self.device)

    # -- set-up -------------------------------------------------------------------------------
    def init(self, trainer_cfg: Mapping[str, Any] | None = None) -> None:
        """Create the replay memory's tensors and the experiment directory/writer."""
        super().init(trainer_cfg)
        self.set_mode("eval")
        m = self.memory
        m.create_tensor("states", self.observation_space, torch.float32)
        m.create_tensor("next_states", self.observation_space, torch.float32)
        m.create_tensor("actions", self.action_space, torch.long if self._discrete else torch.float32)
        m.create_tensor("rewards", 1, torch.float32)
        m.create_tensor("terminated", 1, torch.bool)
        m.create_tensor("truncated", 1, torch.bool)

    def make_optimizer(self, modules: Iterable[torch.nn.Module | torch.Tensor], learning_rate: float) -> torch.optim.Optimizer:
        """Adam over the parameters of ``modules`` (a device-tensor learning rate), plus the configured scheduler."""
        params: list[torch.Tensor] = []
        for module in modules:
            params += [module] if isinstance(module, torch.Tensor) else list(module.parameters())
        optimizer = make_adam(params, learning_rate, self.device)
        scheduler = self.cfg.get("learning_rate_scheduler")
        if scheduler is not None:
            if isinstance(scheduler, str):
                scheduler = resolve_class(scheduler, SCHEDULERS, "learning_rate_scheduler")
            self.schedulers.schedulers.append(scheduler(optimizer, **self.cfg["learning_rate_scheduler_kwargs"]))
        return optimizer

    # -- interaction --------------------------------------------------------------------------
    def random_actions(self, num_envs: int) -> torch.Tensor:
        """Uniformly random actions of the action space, drawn on the device: ``(num_envs, size)``."""
        if self._discrete:
            return torch.randint(int(self.action_space.n), (num_envs, 1), device=self.device)
        u = torch.rand((num_envs, self._action_low.shape[0]), device=self.device)
        return torch.addcmul(self._action_low, u, self._action_high - self._action_low)

    def record_transition(self, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                          next_states: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
                          infos: Any, timestep: int, timesteps: int) -> None:
        """Track the step and store the transition in the replay memory (on the device)."""
        super().record_transition(states, actions, rewards, next_states, terminated, truncated, infos,
                                  timestep, timesteps)
        if self.config.rewards_shaper is not None:
            rewards = self.config.rewards_shaper(rewards, timestep, timesteps)
        self.memory.add_samples(states=states, actions=actions, rewards=rewards, next_states=next_states,
                                terminated=terminated, truncated=truncated)

    def post_interaction(self, timestep: int, timesteps: int) -> None:
        """Run the update once ``learning_starts`` steps are done, then the base class' writes."""
        if timestep >= self.config.learning_starts and self._should_update(timestep):
            self.set_mode("train")
            with self.autocast():  # (optimize() runs backward outside it)
                for gradient_step in range(self.config.gradient_steps):
                    self._update_step(timestep, timesteps, gradient_step)
            self.schedulers.step()
            self.set_mode("eval")
        super().post_interaction(timestep, timesteps)

    def _should_update(self, timestep: int) -> bool:
        return True

    def _update_step(self, timestep: int, timesteps: int, gradient_step: int) -> None:
        raise NotImplementedError

    # -- update helpers -----------------------------------------------------------------------
    def sample_batch(self, gradient_step: int = 0) -> tuple[torch.Tensor, ...]:
        """One minibatch ``(states, actions, rewards, next_states, not_done)``, preprocessed, on the device.

        ``not_done`` (float, ``(batch, 1)``) is the bootstrap mask: 0 for terminated transitions
        (and for truncated ones unless ``time_limit_bootstrap``); truncated transitions bootstrap
        from their own state when ``time_limit_bootstrap`` (see the module docstring).
        """
        states, actions, rewards, next_states, terminated, truncated = self.memory.sample(
            TRANSITION_NAMES, batch_size=self.config.batch_size)[0]
        if self.config.time_limit_bootstrap:
            next_states = torch.where(truncated, states, next_states)
            not_done = (~terminated).to(rewards.dtype)
        else:
            not_done = (~(terminated | truncated)).to(rewards.dtype)
        states = self._state_preprocessor(states, train=gradient_step == 0)
        next_states = self._state_preprocessor(next_states)
        return states, actions, rewards, next_states, not_done

    def bootstrap(self, rewards: torch.Tensor, not_done: torch.Tensor, next_values: torch.Tensor) -> torch.Tensor:
        """``rewards + discount_factor * not_done * next_values``."""
        return torch.addcmul(rewards, not_done, next_values, value=self.config.discount_factor)

    def soft_update(self, target: Model, source: Model, polyak: float | None = None) -> None:
        """``target <- polyak * source + (1 - polyak) * target`` (``polyak=1``: copy)."""
        target.update_parameters(source, polyak=self.config.polyak if polyak is None else polyak)


class NoiseExplorationAgent(OffPolicyAgent):
    """Base of DDPG and TD3: a deterministic ``policy`` explored with additive, decaying noise
    (``cfg["exploration"]``, see ``NOISE_EXPLORATION_CONFIG``)."""

    policy: Model

    def __init__(self, models: Mapping[str, Model], memory: Memory | None, observation_space: Any,
                 action_space: Any, device: str | torch.device | None, cfg: Mapping[str, Any] | None,
                 defaults: Mapping[str, Any]) -> None:
        super().__init__(models, memory, observation_space, action_space, device, cfg, defaults)
        self._exploration_noise = make_noise(self.cfg["exploration"]["noise"], self.device)

    def act(self, states: torch.Tensor, timestep: int, timesteps: int) -> tuple:
        """The policy's actions plus the decaying exploration noise (uniform during ``random_timesteps``)."""
        if timestep < self.config.random_timesteps:
            return self.random_actions(states.shape[0]), None, None
        actions, _, outputs = self.policy.act(self._state_preprocessor(states))
        return self.exploration_actions(actions, timestep, timesteps), None, outputs

    def exploration_actions(self, actions: torch.Tensor, timestep: int, timesteps: int) -> torch.Tensor:
        """Add the scaled exploration noise (``cfg["exploration"]``) to ``actions``, clip to the bounds, track it.

        The scale decays linearly from ``initial_scale`` to ``final_scale`` over ``exploration.timesteps``
        (``None``: the whole training). Without a noise, the tracked noise is 0.
        """
        exploration = self.cfg["exploration"]
        if self._exploration_noise is None:
            noises = torch.zeros((), device=self.device)
        else:
            scale = linear_schedule(timestep, float(exploration["initial_scale"]), float(exploration["final_scale"]),
                                    exploration["timesteps"] or timesteps)
            noises = self._exploration_noise.sample_like(actions).mul_(scale)
            actions = torch.clamp(actions + noises, self._action_low, self._action_high)
        self.track_stats("Exploration / Exploration noise", noises)
        return actions


def init_target(target: Model, source: Model) -> None:
    """Copy ``source``'s parameters into ``target`` and freeze them (targets are never optimized)."""
    target.freeze_parameters(True)
    target.update_parameters(source, polyak=1)


def default_target_entropy(action_space: Any) -> float:
    """SAC's default target entropy: ``-dim(action space)``."""
    return -float(np.prod(action_space.shape)) if hasattr(action_space, "shape") else -1.0


__all__ = ["OffPolicyAgent", "make_noise", "linear_schedule", "init_target", "default_target_entropy", "TRANSITION_NAMES"]
