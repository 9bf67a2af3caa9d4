"""Wrappers that give batched simulators one interface: ``(num_envs, ...)`` torch tensors on the env device.

``reset() -> (observations, info)`` and ``step(actions) -> (observations, rewards (N, 1),
terminated (N, 1), truncated (N, 1), info)``. ``terminated`` and ``truncated`` are exclusive:
an episode that hit the time limit (``extras["time_outs"]``) is truncated, any other reset is a
termination. Every wrapper presents *same-step auto-reset* (VecTask's convention): the
observations returned for a finished env already belong to its next episode.

Privileged observations (asymmetric actor-critic, ``num_states > 0``): ``state_space`` is the
states' space (None without states), and the states tensor of the last ``reset``/``step`` is
``info["states"]`` and the wrapper's ``states`` property.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import torch

from skrl_isaac.envs.torch.base import Wrapper
from skrl_isaac.envs.torch.gymnasium_vector import GymnasiumVectorWrapper


class IsaacGymPreview3Wrapper(Wrapper):
    """Isaac Gym Preview 3/4 (IsaacGymEnvs ``VecTask``) tasks and the embedded task suite.

    ``step`` returns ``obs_dict["obs"]`` (and ``obs_dict["states"]`` as ``info["states"]``);
    ``extras["time_outs"]`` marks truncation. The task resets finished envs itself (VecTask
    auto-reset), so :meth:`reset` resets the task only the first time it is called and
    afterwards returns the latest observations.
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._reset_once = True
        self._obs: torch.Tensor | None = None

    def _unpack(self, obs_dict: Any) -> torch.Tensor:
        if isinstance(obs_dict, dict):
            states = obs_dict.get("states")
            self._states = None if states is None else states.to(self.device)
            return obs_dict["obs"].to(self.device)
        return obs_dict.to(self.device)  # a task that returns the tensor directly

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        obs_dict, rewards, resets, extras = self._env.step(actions)
        self._obs = self._unpack(obs_dict)
        return self._step_result(rewards, resets, extras)

    def reset(self) -> tuple[torch.Tensor, dict]:
        if self._reset_once:
            self._obs = self._unpack(self._env.reset())
            self._reset_once = False
        return self._obs, ({} if self._states is None else {"states": self._states})

    def get_state(self) -> dict:
        """The task's state (``task.get_state()``, the embedded tasks have it) and the latest observations."""
        get_state = getattr(self._env, "get_state", None)
        if not callable(get_state):
            raise NotImplementedError(f"{type(self._env).__name__} cannot give its state (no get_state())")
        return {"task": get_state(), "obs": None if self._obs is None else self._obs.clone(),
                "states": None if self._states is None else self._states.clone()}

    def set_state(self, state: dict) -> None:
        """Restore a :meth:`get_state` snapshot: the next :meth:`reset` returns its observations
        instead of resetting the task, so training continues exactly where the snapshot was taken."""
        set_state = getattr(self._env, "set_state", None)
        if not callable(set_state):
            raise NotImplementedError(f"{type(self._env).__name__} cannot restore a state (no set_state())")
        set_state(state["task"])
        if state["obs"] is not None:
            self._obs = state["obs"].to(self.device)
            self._states = None if state["states"] is None else state["states"].to(self.device)
            self._reset_once = False


class IsaacGymPreview4Wrapper(IsaacGymPreview3Wrapper):
    """Isaac Gym Preview 4 / IsaacGymEnvs tasks (same interface as Preview 3, incl. ``isaacgymenvs.make`` tasks)."""


class EmbeddedWrapper(IsaacGymPreview4Wrapper):
    """Tasks of the embedded MuJoCo suite (``envs.base.vec_task.VecTask``, the Preview 4 interface)."""


class IsaacGymPreview2Wrapper(Wrapper):
    """Isaac Gym Preview 2 (``rlgpu``, ``VecTaskPython``) tasks: observations are returned directly.

    The privileged states come from the task's ``get_state()`` when it has states.
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._reset_once = True
        self._obs: torch.Tensor | None = None

    def _read_states(self) -> None:
        if int(getattr(self._env, "num_states", 0) or 0) > 0 and hasattr(self._env, "get_state"):
            self._states = self._env.get_state().to(self.device)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        obs, rewards, resets, extras = self._env.step(actions)
        self._obs = obs.to(self.device)
        self._read_states()
        return self._step_result(rewards, resets, extras)

    def reset(self) -> tuple[torch.Tensor, dict]:
        if self._reset_once:
            self._obs = self._env.reset().to(self.device)
            self._read_states()
            self._reset_once = False
        return self._obs, ({} if self._states is None else {"states": self._states})


WRAPPERS = {
    "isaacgym-preview2": IsaacGymPreview2Wrapper,
    "isaacgym-preview3": IsaacGymPreview3Wrapper,
    "isaacgym-preview4": IsaacGymPreview4Wrapper,
    "embedded": EmbeddedWrapper,
    "gymnasium-vector": GymnasiumVectorWrapper,
}

_PREVIEW2_CLASSES = {"VecTaskPython", "VecTaskCPU", "VecTaskGPU", "VecTaskPythonArm"}


def _detect_one(env: Any) -> str | None:
    """The kind of ``env`` from its base classes (no duck typing)."""
    from skrl_isaac_envs.base.vec_task import VecTask as EmbeddedVecTask

    if isinstance(env, EmbeddedVecTask):
        return "embedded"
    if isinstance(env, gymnasium.vector.VectorEnv):
        return "gymnasium-vector"
    mro = type(env).__mro__
    names = {(c.__module__, c.__name__) for c in mro}
    for module, name in names:
        # rlgpu (Preview 2): tasks/base/vec_task.py defines VecTask + VecTaskPython/CPU/GPU wrappers
        if name in _PREVIEW2_CLASSES and module.endswith("vec_task"):
            return "isaacgym-preview2"
        if name == "VecTask" and module.startswith("rlgpu."):
            return "isaacgym-preview2"
    for module, name in names:
        # IsaacGymEnvs (Preview 3/4): isaacgymenvs/tasks/base/vec_task.py, ``class VecTask(Env)``
        if name == "VecTask" and module.endswith("tasks.base.vec_task"):
            if module.startswith("isaacgymenvs.") or any(n == "Env" and m == module for m, n in names):
                return "isaacgym-preview4"
            return "isaacgym-preview2"
    return None


def _detect(env: Any) -> str | None:
    """Detect ``env``, looking through gym-style wrappers (``.env``), e.g. video recorders around a task."""
    inner, seen = env, 0
    while inner is not None and seen < 16:
        kind = _detect_one(inner)
        if kind is not None:
            return kind
        inner, seen = getattr(inner, "env", None), seen + 1
    # a task implementing the VecTask interface without one of the known base classes (e.g. a test task)
    if all(hasattr(env, a) for a in ("obs_buf", "rew_buf", "reset_buf", "num_envs", "step", "reset")):
        return "isaacgym-preview4"
    return None


def wrap_env(env: Any, wrapper: str = "auto", verbose: bool = True, device: str | torch.device | None = None) -> Wrapper:
    """Wrap ``env`` so agents and trainers see ``(num_envs, ...)`` tensors on its device.

    Detection (``wrapper="auto"``), by base classes:

    * ``"isaacgym-preview2"``: Isaac Gym Preview 2 ``rlgpu`` tasks (``VecTaskPython``/``VecTaskCPU``/``VecTaskGPU``)
    * ``"isaacgym-preview4"``: IsaacGymEnvs ``VecTask`` tasks (Preview 3 and 4, ``isaacgymenvs.make`` included,
      also inside gym wrappers)
    * ``"embedded"``: tasks of the embedded suite (``envs.base.vec_task.VecTask``)
    * ``"gymnasium-vector"``: ``gymnasium.vector.VectorEnv`` (numpy -> torch on ``device``)
    * anything else with VecTask's ``obs_buf``/``rew_buf``/``reset_buf`` and ``step``/``reset``: Preview 4

    :param env: the environment
    :param wrapper: ``"auto"`` or one of the kinds above (``"isaacgym-preview3"`` is accepted too)
    :param verbose: print the kind that was detected
    :param device: torch device of a gymnasium vector env's tensors (default: cuda:0 if available, else cpu);
                   Isaac Gym and embedded tasks use their own ``rl_device``
    :raises ValueError: for an unknown wrapper name or an environment that cannot be detected
    """
    if isinstance(env, Wrapper):
        return env
    if wrapper == "auto":
        kind = _detect(env)
        if kind is None:
            raise ValueError(
                f"wrap_env cannot tell what kind of environment {type(env).__module__}.{type(env).__name__} is. "
                "Supported: Isaac Gym Preview 2 tasks (rlgpu VecTaskPython), Isaac Gym Preview 3/4 / IsaacGymEnvs "
                "tasks (isaacgymenvs VecTask, isaacgymenvs.make), the embedded suite (envs.base.vec_task.VecTask), "
                "gymnasium.vector.VectorEnv; pass wrapper= one of " + ", ".join(repr(k) for k in sorted(WRAPPERS)))
    elif wrapper in WRAPPERS:
        kind = wrapper
    else:
        raise ValueError(f"unknown wrapper {wrapper!r}; valid: 'auto', " + ", ".join(repr(k) for k in sorted(WRAPPERS)))
    if verbose:
        from skrl_isaac import logger

        logger.info(f"Environment wrapper: {kind} ({type(env).__name__})")
    if kind == "gymnasium-vector":
        return GymnasiumVectorWrapper(env, device=device)
    return WRAPPERS[kind](env)
