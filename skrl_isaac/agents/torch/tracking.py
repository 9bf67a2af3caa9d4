"""On-device accumulation of tracked scalars and of finished-episode statistics.

Nothing here reads a tensor back to the host until :meth:`Tracker.flush`, which does it once
(one ``tolist()`` of every accumulated value) at a ``write_interval`` boundary.
"""

from __future__ import annotations

import math

import torch


class Tracker:
    """Accumulates tracked values and episode statistics between two writes.

    :param num_envs: number of parallel environments (size of the per-env episode accumulators)
    :param device: device of the accumulators (the environment's device)
    :param window: number of last finished episodes whose mean return :meth:`flush` reports as
                   ``_window_mean`` once that many have finished (<= 0: off)
    """

    def __init__(self, num_envs: int, device: torch.device, window: int = 0) -> None:
        self.device = device
        self.window = max(int(window), 0)
        # ring buffer of the last `window` finished returns; slot `window` takes the unfinished envs' writes
        self._recent = torch.zeros(self.window + 1, device=device)
        self._recent_count = torch.zeros((), dtype=torch.long, device=device)
        self._sums: dict[str, torch.Tensor] = {}
        self._float_sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        # running per-env episode accumulators
        self.episode_return = torch.zeros(num_envs, device=device)
        self.episode_length = torch.zeros(num_envs, device=device)
        # finished-episode statistics since the last flush, for (return, length):
        self._ep_count = torch.zeros((), device=device)
        self._ep_sum = torch.zeros(2, device=device)
        self._ep_min = torch.full((2,), math.inf, device=device)
        self._ep_max = torch.full((2,), -math.inf, device=device)

    def add(self, tag: str, value: torch.Tensor | float) -> None:
        """Add one value of ``tag`` (a tensor stays on its device; a number stays on the host)."""
        self._counts[tag] = self._counts.get(tag, 0) + 1
        if isinstance(value, torch.Tensor):
            total = self._sums.get(tag)
            value = value.detach().reshape(()).to(self.device, torch.float32)
            self._sums[tag] = value.clone() if total is None else total.add_(value)
        else:
            self._float_sums[tag] = self._float_sums.get(tag, 0.0) + float(value)

    def add_stats(self, tag: str, values: torch.Tensor) -> None:
        """Add ``"<tag> (max)"``, ``"<tag> (min)"`` and ``"<tag> (mean)"`` of ``values`` (reduced on the device)."""
        values = values.detach().to(torch.float32)
        v_min, v_max = torch.aminmax(values)
        self.add(f"{tag} (max)", v_max)
        self.add(f"{tag} (min)", v_min)
        self.add(f"{tag} (mean)", values.mean())

    def record_step(self, rewards: torch.Tensor, dones: torch.Tensor) -> None:
        """Fold one environment step into the instantaneous reward and episode statistics.

        :param rewards: ``(num_envs, 1)`` or ``(num_envs,)`` rewards of the step
        :param dones: ``(num_envs, 1)`` or ``(num_envs,)`` booleans, episode finished at this step
        """
        rewards = rewards.reshape(-1).to(torch.float32)
        dones = dones.reshape(-1).to(torch.bool)
        self.add_stats("Reward / Instantaneous reward", rewards)

        self.episode_return.add_(rewards)
        self.episode_length.add_(1.0)
        episodes = torch.stack((self.episode_return, self.episode_length))  # (2, num_envs)
        self._ep_count.add_(dones.sum())
        self._ep_sum.add_(torch.where(dones, episodes, 0.0).sum(dim=1))
        torch.minimum(self._ep_min, torch.where(dones, episodes, math.inf).amin(dim=1), out=self._ep_min)
        torch.maximum(self._ep_max, torch.where(dones, episodes, -math.inf).amax(dim=1), out=self._ep_max)
        if self.window:
            slots = torch.where(dones, (self._recent_count + dones.cumsum(0) - 1) % self.window, self.window)
            self._recent.scatter_(0, slots, self.episode_return)
            self._recent_count.add_(dones.sum())
        keep = (~dones).to(torch.float32)
        self.episode_return.mul_(keep)
        self.episode_length.mul_(keep)

    _STATE = ("episode_return", "episode_length", "_ep_count", "_ep_sum", "_ep_min", "_ep_max", "_recent",
              "_recent_count")

    def state_dict(self) -> dict:
        """Accumulators (device tensors and host sums) for an exact resume."""
        return {"tensors": {k: getattr(self, k).clone() for k in self._STATE},
                "sums": {k: v.clone() for k, v in self._sums.items()},
                "float_sums": dict(self._float_sums), "counts": dict(self._counts)}

    def load_state_dict(self, state: dict) -> None:
        for k in self._STATE:
            getattr(self, k).copy_(state["tensors"][k])
        self._sums = {k: v.to(self.device) for k, v in state["sums"].items()}
        self._float_sums = dict(state["float_sums"])
        self._counts = dict(state["counts"])

    def flush(self) -> dict[str, float]:
        """Return the mean of every tracked tag and the finished-episode statistics, then reset.

        This is the single host synchronization of a write interval. Episode tags appear only if
        at least one episode finished since the last flush, and are computed over the finished
        episodes alone (unfinished environments never count).
        """
        tags = list(self._sums)
        episode = torch.cat((self._ep_count.view(1), self._ep_sum, self._ep_min, self._ep_max,
                             self._recent[:self.window].mean().view(1) if self.window else self._ep_sum[:0],
                             self._recent_count.view(1).to(torch.float32)))
        values = torch.cat([self._sums[t].view(1) for t in tags] + [episode]).tolist()
        out = {t: v / self._counts[t] for t, v in zip(tags, values)}
        out.update({t: v / self._counts[t] for t, v in self._float_sums.items()})
        count, r_sum, l_sum, r_min, l_min, r_max, l_max = values[len(tags):len(tags) + 7]
        if self.window and values[-1] >= self.window:
            out["_window_mean"] = values[-2]
        if count > 0:
            out["Reward / Total reward (max)"] = r_max
            out["Reward / Total reward (min)"] = r_min
            out["Reward / Total reward (mean)"] = r_sum / count
            out["Episode / Total timesteps (max)"] = l_max
            out["Episode / Total timesteps (min)"] = l_min
            out["Episode / Total timesteps (mean)"] = l_sum / count
            out["_finished_episodes"] = count
        self._sums.clear()
        self._float_sums.clear()
        self._counts.clear()
        self._ep_count.zero_()
        self._ep_sum.zero_()
        self._ep_min.fill_(math.inf)
        self._ep_max.fill_(-math.inf)
        return out
