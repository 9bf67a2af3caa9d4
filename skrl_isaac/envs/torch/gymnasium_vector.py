"""Wrapper for ``gymnasium.vector.VectorEnv``: numpy on the host <-> torch tensors on a device.

Auto-reset: agents and trainers here expect VecTask's *same-step* auto-reset (the observations
returned for a finished env are its next episode's first ones, and every step is a real
transition). Gymnasium >= 1.0 vector envs declare their mode in ``metadata["autoreset_mode"]``:

* ``SAME_STEP``: passed through (the finished episodes' last observations are in
  ``info["final_obs"]``, as gymnasium puts them).
* ``NEXT_STEP`` (gymnasium's default) and ``DISABLED``: after a step in which some envs finished,
  the wrapper resets exactly those envs at once with ``env.reset(options={"reset_mask": done})``,
  so the returned observations are the new episodes' first ones and the next step is a real
  transition for every env (no ignored actions, no zero-reward filler step). The finished
  episodes' last observations are ``info["final_obs"]`` (a tensor) and ``info["final_mask"]``
  marks the envs.
* gymnasium < 1.0 (no ``autoreset_mode``): those vector envs reset in the same step.

Observations are flattened to ``(N, -1)`` float32; rewards, terminated and truncated are
``(N, 1)`` tensors. Discrete actions are taken as ``(N, 1)`` (or ``(N,)``) integer tensors.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch

from skrl_isaac.envs.torch.base import Wrapper


def _autoreset_mode(env: Any) -> str:
    mode = (getattr(env, "metadata", None) or {}).get("autoreset_mode")
    if mode is None:
        try:
            from gymnasium.vector import AutoresetMode  # noqa: F401  (gymnasium >= 1.0: default NEXT_STEP)
        except ImportError:
            return "same-step"
        return "next-step"
    value = str(getattr(mode, "value", mode)).lower().replace("_", "").replace("-", "")
    return {"nextstep": "next-step", "samestep": "same-step", "disabled": "disabled"}.get(value, "next-step")


class GymnasiumVectorWrapper(Wrapper):
    """A ``gymnasium.vector.VectorEnv`` with torch tensors on ``device`` (see the module docstring for auto-reset).

    :param env: the vector environment
    :param device: device of the returned tensors (default: cuda:0 if available, else cpu)
    """

    def __init__(self, env: Any, device: str | torch.device | None = None) -> None:
        super().__init__(env)
        if device is None:
            device = "cuda:0" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.autoreset_mode = _autoreset_mode(env)
        self._reset_once = True
        self._obs: torch.Tensor | None = None
        space = self.action_space
        self._discrete = isinstance(space, gymnasium.spaces.Discrete)
        self._action_dtype = np.int64 if self._discrete else space.dtype
        self._action_shape = (self.num_envs,) + (() if self._discrete else tuple(space.shape))

    @property
    def observation_space(self) -> gymnasium.spaces.Space:
        return self._env.single_observation_space

    @property
    def action_space(self) -> gymnasium.spaces.Space:
        return self._env.single_action_space

    @property
    def state_space(self) -> None:
        return None

    def _tensor(self, array: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array), dtype=dtype, device=self.device).reshape(self.num_envs, -1)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        actions = actions.detach().cpu().numpy() if isinstance(actions, torch.Tensor) else np.asarray(actions)
        actions = actions.reshape(self._action_shape).astype(self._action_dtype, copy=False)
        obs, rewards, terminated, truncated, info = self._env.step(actions)
        done = np.logical_or(terminated, truncated)
        if self.autoreset_mode != "same-step" and done.any():
            info = dict(info)
            info["final_obs"] = self._tensor(obs)
            info["final_mask"] = torch.as_tensor(done, device=self.device).view(-1, 1)
            obs, reset_info = self._env.reset(options={"reset_mask": np.asarray(done, dtype=np.bool_)})
            if reset_info:
                info["reset_info"] = reset_info
        self._obs = self._tensor(obs)
        return (self._obs, self._tensor(rewards), self._tensor(terminated, torch.bool),
                self._tensor(truncated, torch.bool), info)

    def reset(self, seed: int | None = None) -> tuple[torch.Tensor, dict]:
        """Reset every env the first time (``seed`` seeds it); later calls return the latest observations."""
        if self._reset_once or seed is not None:
            obs, info = self._env.reset(seed=seed)
            self._obs = self._tensor(obs)
            self._reset_once = False
            return self._obs, info
        return self._obs, {}
