"""Agent base class: experiment directory, TensorBoard tracking and checkpoints, shared by every agent."""

from __future__ import annotations

import datetime
import os
from typing import Any, ContextManager, Mapping

import torch

from skrl_isaac import logger
from skrl_isaac.agents.torch.precision import (autocast, autocast_dtype, check_mixed_precision, make_grad_scaler,
                                               no_autocast)
from skrl_isaac.agents.torch.tracking import Tracker
from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.models.torch.adapter import adapt_model, unwrap
from skrl_isaac.models.torch.base import Model
from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler
from skrl_isaac.utils.files import atomic_torch_save

EXPERIMENT_DEFAULT_CONFIG: dict[str, Any] = {
    "directory": "",                # experiment's parent directory ("" -> ./runs)
    "experiment_name": "",          # experiment name ("" -> <%y-%m-%d_%H-%M-%S-%f>_<AgentClass>)
    "write_interval": 250,          # TensorBoard writing interval (timesteps); <= 0 disables it
    "checkpoint_interval": 1000,    # interval for checkpoints (timesteps); <= 0 disables them
    "checkpoint_policy_only": True,  # checkpoint the policy only (True) or every model (False)
    "best_window": 100,             # best_<model>.pt: best mean return over this many last finished episodes (<= 0: off)
}


class TrainingDiverged(RuntimeError):
    """A loss or a parameter became NaN/inf: training stops, the newest checkpoint is the last good one."""


#: preprocessors a config may name as a string (``"state_preprocessor": "RunningStandardScaler"``)
PREPROCESSORS = {"RunningStandardScaler": RunningStandardScaler}


def identity_preprocessor(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    """Preprocessor used when none is configured: returns its input."""
    return x


class Agent:
    """Base class of the agents (DQN, DDPG, TD3, SAC, PPO).

    It owns the experiment directory, the TensorBoard writer (every ``write_interval`` timesteps),
    the checkpoints (every ``checkpoint_interval`` timesteps) and the tracking of the reward and
    episode metrics, accumulated on the device and written once per interval.

    :param models: the agent's models by name (e.g. ``{"policy": ..., "value": ...}``)
    :param memory: the agent's memory (rollout or replay buffer)
    :param observation_space: observation space
    :param action_space: action space
    :param device: device of the computations (the environment's device)
    :param cfg: the agent's configuration (merged with the agent's ``DEFAULT_CONFIG`` by the subclass)
    """

    def __init__(self, models: Mapping[str, Model], memory: Memory | None, observation_space: Any,
                 action_space: Any, device: str | torch.device | None, cfg: dict) -> None:
        # skrl mixin models are called through an adapter in their role (the model's name); the seed's pass as is
        self.models = {name: adapt_model(model, name) for name, model in models.items()}
        for model in self.models.values():  # each model on its own device (skrl 0.x), even if built without .to()
            if model is not None:
                model.to(model.device)
        self.memory = memory
        self.observation_space = observation_space
        self.action_space = action_space
        self.device = torch.device("cuda:0" if device is None and torch.cuda.is_available() else (device or "cpu"))
        self.cfg = cfg

        experiment = cfg["experiment"]
        self.write_interval = int(experiment["write_interval"])
        self.checkpoint_interval = int(experiment["checkpoint_interval"])
        self.checkpoint_policy_only = bool(experiment["checkpoint_policy_only"])
        self.best_window = int(experiment.get("best_window", 0))
        self._grad_norm_clip = float(cfg.get("grad_norm_clip", 0) or 0)  # <= 0: no clipping (see optimize())
        # bfloat16 (float16 on pre-Ampere GPUs) autocast of the models' forward passes (each agent decides
        # which; see precision.py); float16 scales its losses with grad_scaler (saved in agent checkpoints)
        mixed_precision = check_mixed_precision(cfg.get("mixed_precision", False), self.device)
        self._autocast_dtype = autocast_dtype(self.device) if mixed_precision else None  # None: float32 only
        self.grad_scaler = make_grad_scaler(self.device, self._autocast_dtype)
        directory = experiment["directory"] or os.path.join(os.getcwd(), "runs")
        name = experiment["experiment_name"] or (
            datetime.datetime.now().strftime("%y-%m-%d_%H-%M-%S-%f") + "_" + type(self).__name__)
        self.experiment_dir = os.path.join(directory, name)

        # modules written by checkpoints: name -> module (subclasses register theirs)
        self.checkpoint_modules: dict[str, torch.nn.Module] = {}
        self.policy_checkpoint_names: tuple[str, ...] = ("policy",)
        self._writer = None
        self._tracker: Tracker | None = None
        self.last_tracking: dict[str, float] = {}
        self.last_written_timestep = 0
        self.best_return = -float("inf")
        self._initialized = False
        self._timestep = 0  # timestep of the step being recorded (for diagnostics)
        self._first_nonfinite: dict[str, torch.Tensor] = {}  # loss tag -> first timestep it was NaN/inf (-1: never)
        self._env_state_fn = None

    #: names of int/float attributes (counters) that the agent checkpoint restores on resume
    state_scalars: tuple[str, ...] = ("best_return",)

    # -- set-up -------------------------------------------------------------------------------
    @property
    def writer(self):
        """The TensorBoard ``SummaryWriter`` (None when ``write_interval <= 0`` or before :meth:`init`)."""
        return self._writer

    @property
    def tracking_enabled(self) -> bool:
        return self.write_interval > 0

    def init(self, trainer_cfg: Mapping[str, Any] | None = None) -> None:
        """Create the experiment directory and the writer; called by the trainer before training."""
        num_envs = self.memory.num_envs if self.memory is not None else int((trainer_cfg or {}).get("num_envs", 1))
        if self.write_interval > 0 or self.checkpoint_interval > 0:
            os.makedirs(self.experiment_dir, exist_ok=True)
        if self.write_interval > 0 and self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=self.experiment_dir)
            if self._tracker is None:
                # the last-episodes window feeds only the best checkpoint: no ring to keep without checkpoints
                window = self.best_window if self.checkpoint_interval > 0 else 0
                self._tracker = Tracker(num_envs, self.device, window=window)
        self._initialized = True

    def attach_env(self, env: Any) -> None:
        """Let agent checkpoints include the environment's state when it can give one (``env.get_state()``)."""
        get_state = getattr(env, "get_state", None)
        self._env_state_fn = get_state if callable(get_state) else None

    def set_mode(self, mode: str) -> None:
        """Set every model to ``"train"`` or ``"eval"`` mode."""
        for model in self.models.values():
            if model is not None:
                model.set_mode(mode)

    # -- tracking -----------------------------------------------------------------------------
    def track_data(self, tag: str, value: torch.Tensor | float) -> None:
        """Track ``value`` under ``tag``; the mean over the write interval is written to TensorBoard.

        :param tag: ``"<Tag> / <Metric>"``, e.g. ``"Resource / CPU usage"``
        :param value: a number, or a 0-dim/one-element tensor (kept on its device until the write)
        """
        if self._tracker is not None:
            self._tracker.add(tag, value)
        if tag.startswith("Loss /") and isinstance(value, torch.Tensor):
            first = self._first_nonfinite.get(tag)
            if first is None:
                first = self._first_nonfinite[tag] = torch.full((), -1, dtype=torch.long, device=value.device)
            bad = ~torch.isfinite(value.detach()).all()
            first.copy_(torch.where(bad & (first < 0), self._timestep, first))

    def track_stats(self, tag: str, values: torch.Tensor) -> None:
        """Track ``"<tag> (max)"``, ``"<tag> (min)"`` and ``"<tag> (mean)"`` of a device tensor (reduced on the device)."""
        if self._tracker is not None:
            self._tracker.add_stats(tag, values)

    @property
    def _mixed_precision(self) -> bool:
        return self._autocast_dtype is not None

    def autocast(self) -> ContextManager:
        """The models' forward passes in bfloat16 (float16 on pre-Ampere GPUs) with ``cfg["mixed_precision"]``;
        a no-op context otherwise."""
        return autocast(self.device, self._mixed_precision, self._autocast_dtype or torch.bfloat16)

    def optimize(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """Zero the gradients, back-propagate ``loss``, clip their norm (``cfg["grad_norm_clip"] > 0``) and step.

        No host sync: the gradient norm and the clipping stay on the device. With float16 mixed
        precision, :attr:`grad_scaler` scales the loss, unscales the gradients before clipping and
        skips a step whose gradients are not finite (in fused Adam's kernel: still no host sync).
        """
        optimizer.zero_grad(set_to_none=True)
        scaler = self.grad_scaler
        with no_autocast(self.device, self._mixed_precision):  # the update's forward may be autocast, not this
            (loss if scaler is None else scaler.scale(loss)).backward()
            if self._grad_norm_clip > 0:
                if scaler is not None:
                    scaler.unscale_(optimizer)
                params = [p for group in optimizer.param_groups for p in group["params"]]
                torch.nn.utils.clip_grad_norm_(params, self._grad_norm_clip)
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()

    def check_finite(self, timestep: int) -> None:
        """Stop with :class:`TrainingDiverged` if a loss or a parameter became NaN/inf (one host sync).

        Called before every TensorBoard write and checkpoint, so a diverged model is never checkpointed.
        """
        tags = list(self._first_nonfinite)
        params = [(n, p) for n, m in self.models.items() if m is not None for p in m.parameters()]
        flags = [self._first_nonfinite[t].to(self.device) for t in tags]
        flags += [(~torch.isfinite(p.detach()).all()).to(torch.long) for _, p in params]  # 1: not finite
        if not flags:
            return
        values = torch.stack(flags).tolist()
        problems = [f"{tag!r} became NaN/inf at timestep {step}" for tag, step in zip(tags, values) if step >= 0]
        bad_models = sorted({n for (n, _), bad in zip(params, values[len(tags):]) if bad})
        if bad_models:
            problems.append(f"parameters of {bad_models} are NaN/inf")
        if problems:
            raise TrainingDiverged(f"training stopped at timestep {timestep}: " + "; ".join(problems)
                                   + f". The newest checkpoint in {os.path.join(self.experiment_dir, 'checkpoints')}"
                                   " is the last good one.")

    def write_tracking_data(self, timestep: int, timesteps: int) -> None:
        """Write the means of the tracked data at ``timestep`` (one host synchronization)."""
        if self._tracker is None:
            return
        self.check_finite(timestep)
        data = self._tracker.flush()
        for tag, value in data.items():
            if not tag.startswith("_"):
                self._writer.add_scalar(tag, value, global_step=timestep)
        self._writer.flush()
        self.last_tracking = data
        self.last_written_timestep = timestep
        window_mean = data.get("_window_mean")
        if self.checkpoint_interval > 0 and window_mean is not None and window_mean > self.best_return:
            self.best_return = window_mean
            self.write_checkpoint("best", timesteps, include_agent=False)

    # -- checkpoints --------------------------------------------------------------------------
    def _checkpoint_items(self) -> dict[str, torch.nn.Module]:
        items, seen = {}, set()  # a model shared by two roles (policy and value) is one module: written once
        for k, m in self.checkpoint_modules.items():
            if m is not None and id(unwrap(m)) not in seen and (
                    not self.checkpoint_policy_only or k in self.policy_checkpoint_names):
                items[k] = m
                seen.add(id(unwrap(m)))
        return items

    def write_checkpoint(self, timestep: int | str, timesteps: int, include_agent: bool = True) -> list[str]:
        """Write ``checkpoints/<timestep>_<name>.pt`` for the policy (and its input preprocessor) or every model.

        Each file is a plain ``state_dict``, written atomically. With ``checkpoint_policy_only=False``
        also ``<timestep>_agent.pt``, the whole training state (see :mod:`skrl_isaac.agents.torch.state`)
        from which training resumes exactly. Return the written paths.
        """
        if isinstance(timestep, int):
            self.check_finite(timestep)
        folder = os.path.join(self.experiment_dir, "checkpoints")
        paths = []
        for name, module in self._checkpoint_items().items():
            path = os.path.join(folder, f"{timestep}_{name}.pt")
            atomic_torch_save(module.state_dict(), path)
            paths.append(path)
        if include_agent and not self.checkpoint_policy_only:
            paths.append(self.save(os.path.join(folder, f"{timestep}_agent.pt"), timestep))
        return paths

    def save(self, path: str, timestep: int) -> str:
        """Write the whole training state (and the environment's, when attached) to ``path`` atomically."""
        from skrl_isaac.agents.torch.state import agent_state

        state = agent_state(self, timestep)
        if self._env_state_fn is not None:
            try:
                state["env"] = self._env_state_fn()
            except NotImplementedError as e:
                logger.warning(f"{e}: agent checkpoints hold no environment state, so a resume restarts the "
                               "environments (not bit-exact)")
                self._env_state_fn = None
        atomic_torch_save(state, path)
        return path

    def load(self, path: str) -> dict:
        """Restore the training state of a ``<timestep>_agent.pt`` file; return it (``timestep``, ``env``).

        A skrl 1.x agent checkpoint (``agent_<t>.pt``, ``best_agent.pt``) loads its models, optimizers
        and preprocessors (:func:`skrl_isaac.interop.skrl1.load_skrl1_checkpoint`).

        :raises CheckpointError: for a missing, truncated or foreign file (one line naming the file)
        """
        from skrl_isaac.agents.torch.state import load_agent_state, read_state_file

        if not self._initialized:
            self.init()
        state = read_state_file(path, map_location=self.device)
        if "format" not in state:  # skrl 1.x's agent_<t>.pt / best_agent.pt (or a foreign file: one error naming both)
            from skrl_isaac.interop.skrl1 import load_skrl1_checkpoint

            return load_skrl1_checkpoint(self, path, state)
        load_agent_state(self, state, path)
        self.last_written_timestep = int(state["timestep"])
        return state

    # -- interaction --------------------------------------------------------------------------
    def act(self, states: torch.Tensor, timestep: int, timesteps: int) -> tuple:
        """Return ``(actions, log_prob, outputs)`` for ``states``."""
        raise NotImplementedError

    @torch.no_grad()
    def act_deterministic(self, states: torch.Tensor) -> torch.Tensor:
        """Deterministic actions for evaluation (the policy's mean / argmax / output)."""
        policy = self.models["policy"]
        return policy.deterministic_act(self._state_preprocessor(states))

    _state_preprocessor = staticmethod(identity_preprocessor)

    def record_transition(self, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                          next_states: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
                          infos: Any, timestep: int, timesteps: int) -> None:
        """Record one environment step (all envs): tracking here, memory writes in the subclasses."""
        self._timestep = timestep + 1
        if self._tracker is not None:
            self._tracker.record_step(rewards, terminated | truncated)

    def pre_interaction(self, timestep: int, timesteps: int) -> None:
        """Called before each environment step."""

    def post_interaction(self, timestep: int, timesteps: int) -> None:
        """Called after each environment step: writes at ``write_interval`` / ``checkpoint_interval`` multiples.

        ``timestep`` is 0-based; after the step, ``timestep + 1`` steps are done, and that number
        is the TensorBoard step and the checkpoint file prefix.
        """
        done = timestep + 1
        if self.write_interval > 0 and done % self.write_interval == 0:
            self.write_tracking_data(done, timesteps)
        if self.checkpoint_interval > 0 and done % self.checkpoint_interval == 0:
            self.write_checkpoint(done, timesteps)

    def close(self) -> None:
        """Flush and close the writer; wait for the memory's pending exports."""
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
        if self.memory is not None:
            self.memory.close()

    # -- helpers for subclasses ---------------------------------------------------------------
    def _make_preprocessor(self, name: str, value: Any, kwargs: Mapping[str, Any], size: Any) -> Any:
        """The preprocessor configured as ``value`` (a class, a name in ``PREPROCESSORS`` or None), built
        with ``size``/``device`` and ``kwargs`` and registered for checkpoints under ``name``; without one,
        :func:`identity_preprocessor`."""
        cls = resolve_class(value, PREPROCESSORS, name)
        if cls is None:
            return identity_preprocessor
        module = cls(**{"size": size, "device": self.device, **kwargs})
        self.checkpoint_modules[name] = module
        return module

    def _require_models(self, *names: str) -> None:
        missing = [n for n in names if self.models.get(n) is None]
        if missing:
            raise ValueError(f"{type(self).__name__} needs the models {list(names)}; missing: {missing} "
                             f"(got {sorted(k for k, v in self.models.items() if v is not None)})")


def resolve_class(value: Any, registry: Mapping[str, Any], kind: str) -> Any:
    """Resolve a class given as a class or as its name in ``registry`` (for configs from YAML)."""
    if value is None or not isinstance(value, str):
        return value
    if value not in registry:
        raise ValueError(f"unknown {kind} {value!r}; valid: {sorted(registry)}")
    return registry[value]
