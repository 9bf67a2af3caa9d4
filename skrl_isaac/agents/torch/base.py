"""Agent base class: the learner every agent shares; what a run writes belongs to its run recorder."""

from __future__ import annotations

import os
from typing import Any, ContextManager, Mapping

import torch

from skrl_isaac import logger
from skrl_isaac.agents.torch.precision import (autocast, autocast_dtype, check_mixed_precision, make_grad_scaler,
                                               no_autocast)
from skrl_isaac.agents.torch.recorder import EXPERIMENT_DEFAULT_CONFIG, RunRecorder, TrainingDiverged
from skrl_isaac.agents.torch.tracking import TrackingSummary
from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.models.torch.adapter import adapt_model, unwrap
from skrl_isaac.models.torch.base import Model
from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler
from skrl_isaac.utils import distributed
from skrl_isaac.utils.files import atomic_torch_save

__all__ = ["Agent", "EXPERIMENT_DEFAULT_CONFIG", "TrainingDiverged", "identity_preprocessor", "resolve_class"]

#: preprocessors a config may name as a string (``"state_preprocessor": "RunningStandardScaler"``)
PREPROCESSORS = {"RunningStandardScaler": RunningStandardScaler}


def identity_preprocessor(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    """Preprocessor used when none is configured: returns its input."""
    return x


class Agent:
    """Base class of the agents (DQN, DDPG, TD3, SAC, PPO): the learner (act, record, update, optimize).

    What the run writes (the experiment folder, the TensorBoard writer every ``write_interval``
    timesteps, the checkpoints every ``checkpoint_interval`` timesteps, the best files, the divergence
    check) belongs to its :attr:`recorder` (:class:`~skrl_isaac.agents.torch.recorder.RunRecorder`);
    the spec's API (``track_data``, ``writer``, ``write_checkpoint``, ``cfg["experiment"]``) delegates to it.

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

        # under torchrun: join the process group (a no-op for one process); rank 0 alone writes the run's files
        self.process = distributed.init(self.device)
        distributed.check_same_device_type(self.device)
        self.recorder = RunRecorder(cfg["experiment"], type(self).__name__, self.device, self.models,
                                    writes_files=self.process.is_main)
        # every rank's recorder names rank 0's run folder (a default name holds the time it was made)
        self.recorder.experiment_dir = distributed.broadcast_object(self.recorder.experiment_dir)
        self._grad_norm_clip = float(cfg.get("grad_norm_clip", 0) or 0)  # <= 0: no clipping (see optimize())
        # bfloat16 (float16 on pre-Ampere GPUs) autocast of the models' forward passes (each agent decides
        # which; see precision.py); float16 scales its losses with grad_scaler (saved in agent checkpoints)
        mixed_precision = check_mixed_precision(cfg.get("mixed_precision", False), self.device)
        self._autocast_dtype = autocast_dtype(self.device) if mixed_precision else None  # None: float32 only
        self.grad_scaler = make_grad_scaler(self.device, self._autocast_dtype)

        # modules written by checkpoints: name -> module (subclasses register theirs)
        self.checkpoint_modules: dict[str, torch.nn.Module] = {}
        self.policy_checkpoint_names: tuple[str, ...] = ("policy",)
        self._initialized = False
        self._env_state_fn = None

    #: names of int/float attributes (counters) that the agent checkpoint restores on resume
    state_scalars: tuple[str, ...] = ("best_return",)

    # -- the recorder's face (the spec's API and the counters the trainer and the CLI read) ----------
    @property
    def writer(self):
        """The TensorBoard ``SummaryWriter`` (None when ``write_interval <= 0`` or before :meth:`init`)."""
        return self.recorder.writer

    @property
    def experiment_dir(self) -> str:
        """The run folder: ``<directory>/<experiment_name>``."""
        return self.recorder.experiment_dir

    @property
    def write_interval(self) -> int:
        return self.recorder.cfg.write_interval

    @property
    def checkpoint_interval(self) -> int:
        return self.recorder.cfg.checkpoint_interval

    @property
    def checkpoint_policy_only(self) -> bool:
        return self.recorder.cfg.checkpoint_policy_only

    @property
    def tracking_enabled(self) -> bool:
        return self.write_interval > 0

    @property
    def last_summary(self) -> TrackingSummary | None:
        """The summary of the last TensorBoard write (None before the first)."""
        return self.recorder.last_summary

    @property
    def last_tracking(self) -> dict[str, float]:
        """The values of the last TensorBoard write, by tag."""
        summary = self.recorder.last_summary
        return dict(summary.scalars) if summary is not None else {}

    @property
    def last_written_timestep(self) -> int:
        return self.recorder.last_written_timestep

    @property
    def best_return(self) -> float:
        """The best window mean so far (the return of ``best_<model>.pt``); restored on resume."""
        return self.recorder.best_return

    @best_return.setter
    def best_return(self, value: float) -> None:
        self.recorder.best_return = float(value)

    # -- set-up -------------------------------------------------------------------------------
    def init(self, trainer_cfg: Mapping[str, Any] | None = None) -> None:
        """Create the experiment directory and the writer; called by the trainer before training."""
        num_envs = self.memory.num_envs if self.memory is not None else int((trainer_cfg or {}).get("num_envs", 1))
        self.recorder.open(num_envs)
        self._initialized = True
        self.broadcast_state()

    def broadcast_state(self) -> None:
        """Under torchrun, give every rank rank 0's models, preprocessors and learnable tensors (at
        :meth:`init` and after :meth:`load`), so every rank starts the same; one process: nothing."""
        if not distributed.is_initialized():
            return
        modules = [m for m in self.models.values() if m is not None]
        modules += [m for m in self.checkpoint_modules.values() if isinstance(m, torch.nn.Module)]
        distributed.broadcast_parameters(modules)

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
        self.recorder.track(tag, value)

    def track_stats(self, tag: str, values: torch.Tensor) -> None:
        """Track ``"<tag> (max)"``, ``"<tag> (min)"`` and ``"<tag> (mean)"`` of a device tensor (reduced on the device)."""
        self.recorder.track_stats(tag, values)

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
            if self.process.is_distributed:  # the mean gradient of every rank, one flat bucket, before clipping
                distributed.all_reduce_gradients(p for group in optimizer.param_groups for p in group["params"])
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

        Called before every TensorBoard write and checkpoint, so a diverged model is never checkpointed, by
        PPO after every update, and by the trainer at the end of a run without checkpoints.
        """
        self.recorder.check_finite(timestep)

    def write_tracking_data(self, timestep: int, timesteps: int) -> None:
        """Write the means of the tracked data at ``timestep`` (one host synchronization); on a new best
        window mean, the best checkpoint."""
        summary = self.recorder.write_tracking(timestep)
        if summary is not None and summary.new_best:
            self.write_checkpoint("best", timesteps, include_agent=False)

    # -- checkpoints --------------------------------------------------------------------------
    def _checkpoint_items(self) -> dict[str, torch.nn.Module]:
        """The checkpointed modules by name, a model shared by two roles (policy and value) once."""
        items, seen = {}, set()
        for k, m in self.checkpoint_modules.items():
            if m is not None and id(unwrap(m)) not in seen:
                items[k] = m
                seen.add(id(unwrap(m)))
        return items

    def write_checkpoint(self, timestep: int | str, timesteps: int, include_agent: bool = True) -> list[str]:
        """Write ``checkpoints/<timestep>_<name>.pt`` for the policy (and its input preprocessor) or every model.

        Each file is a plain ``state_dict``, written atomically. With ``checkpoint_policy_only=False``
        also ``<timestep>_agent.pt``, the whole training state (see :mod:`skrl_isaac.agents.torch.state`)
        from which training resumes exactly. Return the written paths.
        """
        save_agent = (lambda path: self.save(path, timestep)) if include_agent else None
        paths = self.recorder.write_checkpoint(timestep, self._checkpoint_items(), self.policy_checkpoint_names,
                                               save_agent)
        if save_agent is not None and not self.process.is_main and not self.checkpoint_policy_only:
            # under torchrun rank 0 writes the run's files; every other rank keeps only what is its own (RNG,
            # environment, replay memory, episode accumulators) beside rank 0's <t>_agent.pt, for an exact resume
            path = os.path.join(self.experiment_dir, "checkpoints", f"{timestep}_agent.pt")
            paths.append(save_agent(distributed.rank_path(path, self.process)))
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
        Under torchrun rank ``r > 0`` reads its own ``<timestep>_agent.rank<r>.pt`` beside it (written by
        :meth:`write_checkpoint`), then every rank takes rank 0's parameters.

        :raises CheckpointError: for a missing, truncated or foreign file (one line naming the file)
        """
        from skrl_isaac.agents.torch.state import load_agent_state, read_state_file

        if not self._initialized:
            self.init()
        own = distributed.rank_path(os.fspath(path), self.process)  # under torchrun, this rank's own state
        if own != os.fspath(path) and not os.path.exists(own):
            logger.warning(f"{own} not found: rank {self.process.rank} resumes from {path} (rank 0's RNG, "
                           "environment and memory state: not bit-exact)")
            own = path
        state = read_state_file(own, map_location=self.device)
        if "format" not in state:  # skrl 1.x's agent_<t>.pt / best_agent.pt (or a foreign file: one error naming both)
            from skrl_isaac.interop.skrl1 import load_skrl1_checkpoint

            return load_skrl1_checkpoint(self, path, state)
        load_agent_state(self, state, path)
        self.recorder.last_written_timestep = int(state["timestep"])
        self.broadcast_state()  # every rank continues from rank 0's parameters (bit-identical ranks)
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
        self.recorder.record_step(rewards, terminated | truncated, timestep)

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
        """Flush and close the writer; wait for the memory's pending exports (the first error is the one raised)."""
        from skrl_isaac.utils.cleanup import close_all

        with close_all(self.recorder.close, self.memory.close if self.memory is not None else None):
            pass

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
