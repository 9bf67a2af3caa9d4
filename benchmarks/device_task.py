"""A simulator stand-in that lives on the torch device, to measure agent overhead on a GPU.

Isaac Gym simulates on the GPU, so there a training loop spends, besides the simulator, the agent's
per-step work: kernel launches, and any read back to the host. The embedded suite simulates on the CPU
(MuJoCo), which hides this on a GPU machine: both our loop and skrl's are bound by the physics there
(benchmarks/README.md, "Third session": 1.02x). ``DeviceTask`` is not a physics simulator and
does not stand for one's cost. It has the embedded Ant's shapes (60 observations, 8 actions, 1000-step
episodes) and the VecTask interface that Isaac Gym tasks have (``obs_buf``, ``rew_buf``, ``reset_buf``,
``progress_buf``, ``extras["time_outs"]``, ``step``/``reset`` with auto-reset), and it computes one step
in ~25 torch ops on its device, never reading a tensor back to the host:

* state ``x`` (N, 60), the observation: ``x' = x A^T + a B^T + noise``, with ``A`` a rotation scaled by
  0.99 and ``B`` (60, 8) fixed random, both drawn from ``seed``;
* reward ``1 - 0.01 * mean(x'^2) - 0.005 * sum(a^2)``; an episode terminates when ``max |x'| > 10``
  (reward -1) and is truncated after ``episode_length`` steps;
* finished envs restart from fresh noise (masked writes, no index lists).

    python benchmarks/vs_skrl.py --task DeviceTask --device cuda --num-envs 4096 --skip skrl+gym
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces


class DeviceTask:
    """The stand-in task (see the module docstring). ``rl_device``: where everything lives."""

    NUM_OBS = 60
    NUM_ACTIONS = 8

    def __init__(self, num_envs: int, rl_device: str | torch.device = "cpu", seed: int = 0,
                 episode_length: int = 1000) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        self.num_envs, self.max_episode_length = num_envs, int(episode_length)
        self.device = self.rl_device = torch.device(rl_device)
        self.num_obs = self.num_observations = self.NUM_OBS
        self.num_actions, self.num_states = self.NUM_ACTIONS, 0
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.NUM_OBS,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (self.NUM_ACTIONS,), dtype=np.float32)
        self.rng = torch.Generator(device=self.device).manual_seed(seed)
        n, dev = num_envs, self.device
        q, _ = torch.linalg.qr(torch.randn(self.NUM_OBS, self.NUM_OBS, generator=self.rng, device=dev))
        self._a_t = (0.99 * q).t().contiguous()  # x @ A^T
        self._b_t = 0.1 * torch.randn(self.NUM_ACTIONS, self.NUM_OBS, generator=self.rng, device=dev)  # a @ B^T
        self.obs_buf = torch.zeros((n, self.NUM_OBS), device=dev)
        self.rew_buf = torch.zeros(n, device=dev)
        self.reset_buf = torch.ones(n, device=dev, dtype=torch.long)
        self.timeout_buf = torch.zeros(n, device=dev, dtype=torch.long)
        self.progress_buf = torch.zeros(n, device=dev, dtype=torch.long)
        self.extras: dict[str, Any] = {}
        self._noise = torch.empty((n, self.NUM_OBS), device=dev)
        self._dead = torch.zeros(n, device=dev, dtype=torch.bool)

    def reset(self) -> dict[str, torch.Tensor]:
        """Restart every env from fresh noise; returns ``{"obs": ...}``."""
        torch.randn(self.obs_buf.shape, generator=self.rng, device=self.device, out=self.obs_buf)
        self.obs_buf.mul_(0.1)
        self.progress_buf.zero_()
        self.reset_buf.zero_()
        return {"obs": self.obs_buf.clone()}

    def step(self, actions: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        """One step of every env: ``(obs_dict, rew_buf, reset_buf, extras)``, auto-reset (VecTask's contract)."""
        a = torch.clamp(actions.detach().to(self.device), -1.0, 1.0)
        x = torch.addmm(torch.mm(a, self._b_t), self.obs_buf, self._a_t)
        x.add_(self._noise.normal_(0.0, 0.01, generator=self.rng))
        torch.gt(torch.amax(x.abs(), dim=1), 10.0, out=self._dead)
        reward = 1.0 - 0.01 * x.square().mean(dim=1) - 0.005 * a.square().sum(dim=1)
        torch.where(self._dead, torch.full_like(reward, -1.0), reward, out=self.rew_buf)
        self.progress_buf.add_(1)
        timeout = (self.progress_buf >= self.max_episode_length) & ~self._dead
        finished = self._dead | timeout
        self.timeout_buf.copy_(timeout)
        self.reset_buf.copy_(finished)
        # auto-reset: finished envs restart from fresh noise; their progress restarts at 0
        fresh = self._noise.normal_(0.0, 0.1, generator=self.rng)
        torch.where(finished.unsqueeze(1), fresh, x, out=self.obs_buf)
        self.progress_buf.masked_fill_(finished, 0)
        self.extras["time_outs"] = self.timeout_buf
        return {"obs": self.obs_buf.clone()}, self.rew_buf, self.reset_buf, self.extras

    def close(self) -> None:
        pass
