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
        self._stats: dict[str, torch.Tensor] = {}  # add_stats: tag -> summed (max, min, mean)
        self._stats_counts: dict[str, int] = {}
        # running per-env episode accumulators, rows (return, length, 1): one (3, num_envs) tensor, so
        # the finished episodes' sums and count are one matrix-vector product per step
        self._episodes = torch.zeros((3, num_envs), device=device)
        self._episodes[2] = 1.0
        self.episode_return, self.episode_length = self._episodes[0], self._episodes[1]
        self._ongoing = self._episodes[:2]
        self._masked = torch.zeros((2, num_envs), device=device)
        self._inf = torch.tensor(math.inf, device=device)
        self._neg_inf = torch.tensor(-math.inf, device=device)
        self._done = torch.zeros(num_envs, device=device)
        # finished-episode statistics since the last flush, for (return, length), and their count
        self._ep_totals = torch.zeros(3, device=device)  # (sum of returns, sum of lengths, count)
        self._ep_sum, self._ep_count = self._ep_totals[:2], self._ep_totals[2]
        self._ep_min = torch.full((2,), math.inf, device=device)
        self._ep_max = torch.full((2,), -math.inf, device=device)
        self._ep_min_step = torch.zeros(2, device=device)
        self._ep_max_step = torch.zeros(2, device=device)

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
        stats = torch.stack((v_max, v_min, values.mean())).to(self.device)
        total = self._stats.get(tag)
        if total is None:
            self._stats[tag] = stats
        else:
            total.add_(stats)
        self._stats_counts[tag] = self._stats_counts.get(tag, 0) + 1

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
        done = self._done.copy_(dones)  # 1.0 where an episode ended
        self._ep_totals.addmv_(self._episodes, done)  # += (returns, lengths, count) of the finished ones
        torch.amin(torch.where(dones, self._ongoing, self._inf, out=self._masked), dim=1, out=self._ep_min_step)
        torch.minimum(self._ep_min, self._ep_min_step, out=self._ep_min)
        torch.amax(torch.where(dones, self._ongoing, self._neg_inf, out=self._masked), dim=1, out=self._ep_max_step)
        torch.maximum(self._ep_max, self._ep_max_step, out=self._ep_max)
        if self.window:
            slots = torch.where(dones, (self._recent_count + dones.cumsum(0) - 1) % self.window, self.window)
            self._recent.scatter_(0, slots, self.episode_return)
            self._recent_count.add_(dones.sum())
        self._ongoing.mul_(done.neg_().add_(1.0))  # finished episodes restart from 0

    _STATE = ("episode_return", "episode_length", "_ep_count", "_ep_sum", "_ep_min", "_ep_max", "_recent",
              "_recent_count")

    def state_dict(self) -> dict:
        """Accumulators (device tensors and host sums) for an exact resume."""
        return {"tensors": {k: getattr(self, k).clone() for k in self._STATE},
                "sums": {k: v.clone() for k, v in self._sums.items()},
                "float_sums": dict(self._float_sums), "counts": dict(self._counts),
                "stats": {k: v.clone() for k, v in self._stats.items()}, "stats_counts": dict(self._stats_counts)}

    def load_state_dict(self, state: dict) -> None:
        for k in self._STATE:
            if k == "_recent" and state["tensors"][k].shape != self._recent.shape:
                break  # saved with another window (e.g. checkpoints off now): the window restarts empty
            getattr(self, k).copy_(state["tensors"][k])
        self._sums = {k: v.to(self.device) for k, v in state["sums"].items()}
        self._float_sums = dict(state["float_sums"])
        self._counts = dict(state["counts"])
        self._stats = {k: v.to(self.device) for k, v in state.get("stats", {}).items()}
        self._stats_counts = dict(state.get("stats_counts", {}))

    def flush(self) -> dict[str, float]:
        """Return the mean of every tracked tag and the finished-episode statistics, then reset.

        This is the single host synchronization of a write interval. Episode tags appear only if
        at least one episode finished since the last flush, and are computed over the finished
        episodes alone (unfinished environments never count).
        """
        stat_tags = list(self._stats)
        tags = list(self._sums)
        episode = torch.cat((self._ep_count.view(1), self._ep_sum, self._ep_min, self._ep_max,
                             self._recent[:self.window].mean().view(1) if self.window else self._ep_sum[:0],
                             self._recent_count.view(1).to(torch.float32)))
        values = torch.cat([self._stats[t] for t in stat_tags] + [self._sums[t].view(1) for t in tags]
                           + [episode]).tolist()
        out = {}
        for i, t in enumerate(stat_tags):
            n = self._stats_counts[t]
            out.update({f"{t} (max)": values[3 * i] / n, f"{t} (min)": values[3 * i + 1] / n,
                        f"{t} (mean)": values[3 * i + 2] / n})
        values = values[3 * len(stat_tags):]
        out.update({t: v / self._counts[t] for t, v in zip(tags, values)})
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
        self._stats.clear()
        self._stats_counts.clear()
        self._ep_count.zero_()
        self._ep_sum.zero_()
        self._ep_min.fill_(math.inf)
        self._ep_max.fill_(-math.inf)
        return out
