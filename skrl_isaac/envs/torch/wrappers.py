"""Wrappers that give batched simulators one interface: ``(num_envs, ...)`` torch tensors on the env device.

``reset() -> (observations, info)`` and ``step(actions) -> (observations, rewards (N, 1),
terminated (N, 1), truncated (N, 1), info)``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import torch

from skrl_isaac.utils.spaces import to_gymnasium


class Wrapper:
    """Base wrapper: spaces as gymnasium spaces, ``num_envs``, ``device``; attribute access passes through.

    :param env: the environment to wrap
    """

    def __init__(self, env: Any) -> None:
        self._env = env
        device = getattr(env, "rl_device", None) or getattr(env, "device", None) or "cpu"
        self.device = torch.device(device)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._env, name)

    @property
    def num_envs(self) -> int:
        return int(self._env.num_envs)

    @property
    def observation_space(self) -> gymnasium.spaces.Space:
        return to_gymnasium(self._env.observation_space)

    @property
    def action_space(self) -> gymnasium.spaces.Space:
        return to_gymnasium(self._env.action_space)

    @property
    def state_space(self) -> gymnasium.spaces.Space | None:
        """The space of the privileged ``states`` (asymmetric actor-critic), or None."""
        if int(getattr(self._env, "num_states", 0) or 0) > 0:
            return to_gymnasium(self._env.state_space)
        return None

    def render(self, *args: Any, **kwargs: Any) -> Any:
        """Render through the environment's own ``render``."""
        return self._env.render(*args, **kwargs)

    def close(self) -> None:
        """Close the environment."""
        self._env.close()


class IsaacGymPreview3Wrapper(Wrapper):
    """Isaac Gym Preview 3/4 (``VecTask``) tasks and the embedded task suite.

    ``step`` returns ``obs_dict["obs"]``; ``extras["time_outs"]`` marks truncation, and a reset
    that is not a time-out marks termination. The task resets finished envs itself (VecTask
    auto-reset), so :meth:`reset` resets the task only the first time.
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._reset_once = True
        self._obs_dict: dict | None = None

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        self._obs_dict, rewards, resets, extras = self._env.step(actions)
        truncated = extras.get("time_outs") if isinstance(extras, dict) else None
        truncated = torch.zeros_like(resets, dtype=torch.bool) if truncated is None else truncated.to(torch.bool)
        terminated = resets.to(torch.bool) & ~truncated
        return (self._obs_dict["obs"], rewards.view(-1, 1), terminated.view(-1, 1), truncated.view(-1, 1), extras)

    def reset(self) -> tuple[torch.Tensor, dict]:
        if self._reset_once:
            self._obs_dict = self._env.reset()
            self._reset_once = False
        return self._obs_dict["obs"], {}


IsaacGymPreview4Wrapper = IsaacGymPreview3Wrapper


class IsaacGymPreview2Wrapper(Wrapper):
    """Isaac Gym Preview 2 tasks: ``step`` returns the observations directly (no ``obs_dict``)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._reset_once = True
        self._obs: torch.Tensor | None = None

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        self._obs, rewards, resets, extras = self._env.step(actions)
        truncated = extras.get("time_outs") if isinstance(extras, dict) else None
        truncated = torch.zeros_like(resets, dtype=torch.bool) if truncated is None else truncated.to(torch.bool)
        terminated = resets.to(torch.bool) & ~truncated
        return self._obs, rewards.view(-1, 1), terminated.view(-1, 1), truncated.view(-1, 1), extras

    def reset(self) -> tuple[torch.Tensor, dict]:
        if self._reset_once:
            self._obs = self._env.reset()
            self._reset_once = False
        return self._obs, {}


WRAPPERS = {
    "isaacgym-preview2": IsaacGymPreview2Wrapper,
    "isaacgym-preview3": IsaacGymPreview3Wrapper,
    "isaacgym-preview4": IsaacGymPreview4Wrapper,
    "embedded": IsaacGymPreview4Wrapper,
}


def _detect(env: Any) -> str | None:
    bases = {c.__module__.split(".")[0] + ":" + c.__name__ for c in type(env).__mro__}
    if any(b.startswith("envs:") and b.endswith(":VecTask") for b in bases):
        return "embedded"
    if any(b.startswith("isaacgymenvs:") and b.endswith(":VecTask") for b in bases):
        return "isaacgym-preview4"
    if any(b.endswith(":VecTask") or b.endswith(":VecTaskPython") for b in bases):
        # preview 2 tasks return observations directly, preview 3/4 an obs_dict
        return "isaacgym-preview3" if hasattr(env, "obs_dict") or hasattr(env, "dr_randomizations") \
            else "isaacgym-preview2"
    if hasattr(env, "obs_buf") and hasattr(env, "reset_buf") and hasattr(env, "rew_buf"):
        return "isaacgym-preview4"
    return None


def wrap_env(env: Any, wrapper: str = "auto", verbose: bool = True) -> Wrapper:
    """Wrap ``env`` so agents and trainers see ``(num_envs, ...)`` tensors on its device.

    :param env: an Isaac Gym (preview 2/3/4) / IsaacGymEnvs task or an embedded task
    :param wrapper: ``"auto"`` (detect) or one of ``"isaacgym-preview2"``, ``"isaacgym-preview3"``,
                    ``"isaacgym-preview4"``, ``"embedded"``
    :raises ValueError: for an unknown wrapper name or an environment that cannot be detected
    """
    if isinstance(env, Wrapper):
        return env
    if wrapper == "auto":
        kind = _detect(env)
        if kind is None:
            raise ValueError(f"wrap_env cannot tell what kind of environment {type(env).__module__}.{type(env).__name__} "
                             f"is; pass wrapper= one of {sorted(WRAPPERS)}")
    elif wrapper in WRAPPERS:
        kind = wrapper
    else:
        raise ValueError(f"unknown wrapper {wrapper!r}; valid: 'auto', " + ", ".join(repr(k) for k in sorted(WRAPPERS)))
    return WRAPPERS[kind](env)
