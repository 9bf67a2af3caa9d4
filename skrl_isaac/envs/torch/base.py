"""Base of the wrappers: spaces as gymnasium spaces, ``num_envs``, ``device``, ``states``; attribute pass-through."""

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
        self._states: torch.Tensor | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._env, name)

    @property
    def env(self) -> Any:
        """The wrapped environment."""
        return self._env

    @property
    def num_envs(self) -> int:
        return int(self._env.num_envs)

    @property
    def num_agents(self) -> int:
        return 1

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

    @property
    def states(self) -> torch.Tensor | None:
        """The privileged states of the last ``reset``/``step`` (None when the task has none)."""
        return self._states

    def render(self, *args: Any, **kwargs: Any) -> Any:
        """Render through the environment's own ``render``."""
        return self._env.render(*args, **kwargs)

    def close(self) -> None:
        """Close the environment."""
        self._env.close()

    def _step_result(self, rewards: torch.Tensor, resets: torch.Tensor, extras: Any) -> tuple:
        """``(obs, rewards (N, 1), terminated, truncated, info)`` of a VecTask step (``self._obs`` set by the caller)."""
        terminated, truncated = self._split_dones(resets, extras)
        info = extras if isinstance(extras, dict) else {}
        if self._states is not None:
            info["states"] = self._states
        return self._obs, rewards.to(self.device).view(-1, 1), terminated, truncated, info

    def _split_dones(self, resets: torch.Tensor, extras: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(terminated, truncated)`` as exclusive ``(N, 1)`` bools from VecTask's resets and time-outs."""
        resets = resets.to(self.device).view(-1, 1).to(torch.bool)
        time_outs = extras.get("time_outs") if isinstance(extras, dict) else None
        if time_outs is None:
            return resets, torch.zeros_like(resets)
        truncated = time_outs.to(self.device).view(-1, 1).to(torch.bool) & resets
        return resets & ~truncated, truncated
