"""On-device accumulation of tracked scalars and of finished-episode statistics.

Nothing here reads a tensor back to the host until :meth:`Tracker.flush`, which does it once
(one ``tolist()`` of every accumulated value) at a ``write_interval`` boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

#: the episode tags of the spec that a summary line reads
MEAN_RETURN_TAG = "Reward / Total reward (mean)"
MEAN_LENGTH_TAG = "Episode / Total timesteps (mean)"


@dataclass(frozen=True)
class TrackingSummary:
    """What one write of the tracked data saw (:meth:`Tracker.flush`, stamped by the run recorder)."""

    scalars: dict[str, float] = field(default_factory=dict)
    """Every value written to TensorBoard, by tag (interval means; episode tags only if one finished)."""
    finished_episodes: int = 0
    """Episodes that finished during the interval (those the episode tags are computed over)."""
    window_mean: float | None = None
    """Mean return of the last ``best_window`` finished episodes; None until that many finished."""
    timestep: int = 0
    """The timestep of the write (the TensorBoard step)."""
    new_best: bool = False
    """The window mean beat every earlier one: the best checkpoint is written with this summary."""

    @property
    def mean_return(self) -> float | None:
        """Mean return of the episodes finished during the interval (None if none finished)."""
        return self.scalars.get(MEAN_RETURN_TAG)

    @property
    def mean_length(self) -> float | None:
        """Mean length (timesteps) of the episodes finished during the interval (None if none finished)."""
        return self.scalars.get(MEAN_LENGTH_TAG)


class Tracker:
    """Accumulates tracked values and episode statistics between two writes.

    :param num_envs: number of parallel environments (size of the per-env episode accumulators)
    :param device: device of the accumulators (the environment's device)
    :param window: number of last finished episodes whose mean return :meth:`flush` reports as
                   ``window_mean`` once that many have finished (<= 0: off)
    :param block_steps: steps whose statistics are folded in together (default :attr:`block_steps`)

    :meth:`record_step` does the per-step minimum (5 small in-place ops): it advances the per-env
    episode returns and lengths, restarts the finished ones, and keeps the step's rewards, dones and
    pre-restart episode values in a block of :attr:`block_steps` steps. The statistics (instantaneous
    reward, finished episodes, the window) are folded in for the whole block at once, when it is full
    and before every read (:meth:`flush`, :meth:`state_dict`). Episode returns accumulate step by step
    as before, so they are the same numbers; only sums over many episodes are added in another order.
    """

    block_steps = 16  # steps kept before their statistics are folded in (one fold per block)

    def __init__(self, num_envs: int, device: torch.device, window: int = 0, block_steps: int | None = None) -> None:
        if block_steps is not None:
            if block_steps < 1:
                raise ValueError(f"block_steps must be >= 1, got {block_steps}")
            self.block_steps = int(block_steps)
        self.device = device
        self.window = max(int(window), 0)
        # ring buffer of the last `window` finished returns; slot `window` takes the discarded writes
        self._recent = torch.zeros(self.window + 1, device=device)
        self._recent_count = torch.zeros((), dtype=torch.long, device=device)
        self._sums: dict[str, torch.Tensor] = {}
        self._float_sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._stats: dict[str, torch.Tensor] = {}  # add_stats: tag -> summed (max, min, mean)
        self._stats_counts: dict[str, int] = {}
        # running per-env episode accumulators, rows (return, length, 1): one (3, num_envs) tensor, so
        # a block's finished episodes' sums and count are one contraction
        self._episodes = torch.zeros((3, num_envs), device=device)
        self._episodes[2] = 1.0
        self.episode_return, self.episode_length = self._episodes[0], self._episodes[1]
        self._ongoing = self._episodes[:2]
        # the current block: per step (reward, 1.0) (added to the episodes in one op), dones, and the
        # (return, length, 1) of every env right after the step, before finished ones restart
        self._pending = 0
        self._increments = torch.zeros((self.block_steps, 2, num_envs), device=device)
        self._increments[:, 1] = 1.0
        self._dones = torch.zeros((self.block_steps, num_envs), dtype=torch.bool, device=device)
        self._ended = torch.zeros((self.block_steps, 3, num_envs), device=device)
        # finished-episode statistics since the last flush, for (return, length), and their count
        self._ep_totals = torch.zeros(3, device=device)  # (sum of returns, sum of lengths, count)
        self._ep_sum, self._ep_count = self._ep_totals[:2], self._ep_totals[2]
        self._ep_min = torch.full((2,), math.inf, device=device)
        self._ep_max = torch.full((2,), -math.inf, device=device)
        self._inf = torch.tensor(math.inf, device=device)

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
        self._add_stats(tag, torch.stack((v_max, v_min, values.mean())), 1)

    def _add_stats(self, tag: str, stats: torch.Tensor, count: int) -> None:
        """Add the sums over ``count`` samples of (max, min, mean) of ``tag``."""
        stats = stats.to(self.device)
        total = self._stats.get(tag)
        if total is None:
            self._stats[tag] = stats
        else:
            total.add_(stats)
        self._stats_counts[tag] = self._stats_counts.get(tag, 0) + count

    def record_step(self, rewards: torch.Tensor, dones: torch.Tensor) -> None:
        """Fold one environment step into the instantaneous reward and episode statistics.

        :param rewards: ``(num_envs, 1)`` or ``(num_envs,)`` rewards of the step
        :param dones: ``(num_envs, 1)`` or ``(num_envs,)`` booleans, episode finished at this step
        """
        k = self._pending
        dones = dones.reshape(-1)
        increment = self._increments[k]
        increment[0].copy_(rewards.reshape(-1))
        self._dones[k].copy_(dones)
        self._ongoing.add_(increment)  # returns += rewards, lengths += 1
        self._ended[k].copy_(self._episodes)
        self._ongoing.masked_fill_(self._dones[k], 0.0)  # finished episodes restart from 0
        self._pending = k + 1
        if self._pending == self.block_steps:
            self._fold()

    def _fold(self) -> None:
        """Fold the pending block's statistics in (device ops only; no host read)."""
        k, self._pending = self._pending, 0
        if k == 0:
            return
        rewards, dones, ended = self._increments[:k, 0], self._dones[:k], self._ended[:k]
        self._add_stats("Reward / Instantaneous reward",
                        torch.stack((rewards.amax(dim=1).sum(), rewards.amin(dim=1).sum(), rewards.mean(dim=1).sum())), k)
        done = dones.to(ended.dtype)
        self._ep_totals.add_(torch.einsum("tcn,tn->c", ended, done))  # (returns, lengths, count) of the finished
        values = ended[:, :2].transpose(0, 1).reshape(2, -1)  # (return, length) of every (step, env)
        mask = dones.reshape(1, -1)
        torch.minimum(self._ep_min, torch.where(mask, values, self._inf).amin(dim=1), out=self._ep_min)
        torch.maximum(self._ep_max, torch.where(mask, values, -self._inf).amax(dim=1), out=self._ep_max)
        if self.window:
            finished = dones.reshape(-1)
            rank = finished.cumsum(0)  # 1-based, in step then env order; only the last `window` are kept
            keep = finished & (rank > rank[-1] - self.window)
            slots = torch.where(keep, (self._recent_count + rank - 1) % self.window, self.window)
            self._recent.scatter_(0, slots, values[0])
            self._recent_count.add_(rank[-1])

    _STATE = ("episode_return", "episode_length", "_ep_count", "_ep_sum", "_ep_min", "_ep_max", "_recent",
              "_recent_count")

    def state_dict(self) -> dict:
        """Accumulators (device tensors and host sums) for an exact resume. The pending block is saved
        as it is (not folded), so a resumed run folds the same blocks as an uninterrupted one."""
        steps = self._pending
        return {"tensors": {k: getattr(self, k).clone() for k in self._STATE},
                "pending": {"rewards": self._increments[:steps, 0].clone(), "dones": self._dones[:steps].clone(),
                            "ended": self._ended[:steps].clone()},
                "sums": {k: v.clone() for k, v in self._sums.items()},
                "float_sums": dict(self._float_sums), "counts": dict(self._counts),
                "stats": {k: v.clone() for k, v in self._stats.items()}, "stats_counts": dict(self._stats_counts)}

    def load_state_dict(self, state: dict) -> None:
        self._pending = 0
        for k in self._STATE:
            if k == "_recent" and state["tensors"][k].shape != self._recent.shape:
                break  # saved with another window (e.g. checkpoints off now): the window restarts empty
            getattr(self, k).copy_(state["tensors"][k])
        self._sums = {k: v.to(self.device) for k, v in state["sums"].items()}
        self._float_sums = dict(state["float_sums"])
        self._counts = dict(state["counts"])
        self._stats = {k: v.to(self.device) for k, v in state.get("stats", {}).items()}
        self._stats_counts = dict(state.get("stats_counts", {}))
        # the saved pending block last, so a fold (only if block_steps changed) adds to the loaded sums
        pending = state.get("pending")  # absent from states saved before blocks existed
        saved = len(pending["rewards"]) if pending else 0
        for start in range(0, saved, self.block_steps):  # (block_steps may have changed)
            stop = min(start + self.block_steps, saved)
            k = stop - start
            self._increments[:k, 0].copy_(pending["rewards"][start:stop])
            self._dones[:k].copy_(pending["dones"][start:stop])
            self._ended[:k].copy_(pending["ended"][start:stop])
            self._pending = k
            if k == self.block_steps:
                self._fold()

    def flush(self) -> TrackingSummary:
        """Return the mean of every tracked tag and the finished-episode statistics, then reset.

        This is the single host synchronization of a write interval. Episode tags appear only if
        at least one episode finished since the last flush, and are computed over the finished
        episodes alone (unfinished environments never count).

        Under torchrun (an initialized process group) every rank calls it at the same timestep: one
        device collective merges the ranks, so the episode statistics cover every rank's finished
        episodes (their union), tracked values are the mean over the ranks, and the window mean is the
        mean of the ranks' windows once every rank has filled its own.
        """
        self._fold()
        stat_tags = list(self._stats)
        tags = list(self._sums)
        episode = torch.cat((self._ep_count.view(1), self._ep_sum, self._ep_min, self._ep_max,
                             self._recent[:self.window].mean().view(1) if self.window else self._ep_sum[:0],
                             self._recent_count.view(1).to(torch.float32)))
        values = torch.cat([self._stats[t] for t in stat_tags] + [self._sums[t].view(1) for t in tags] + [episode])
        values = _merge_ranks(values, 3 * len(stat_tags) + len(tags), self.window > 0).tolist()
        out = {}
        for i, t in enumerate(stat_tags):
            n = self._stats_counts[t]
            out.update({f"{t} (max)": values[3 * i] / n, f"{t} (min)": values[3 * i + 1] / n,
                        f"{t} (mean)": values[3 * i + 2] / n})
        values = values[3 * len(stat_tags):]
        out.update({t: v / self._counts[t] for t, v in zip(tags, values)})
        out.update({t: v / self._counts[t] for t, v in self._float_sums.items()})
        count, r_sum, l_sum, r_min, l_min, r_max, l_max = values[len(tags):len(tags) + 7]
        window_mean = values[-2] if self.window and values[-1] >= self.window else None
        if count > 0:
            out["Reward / Total reward (max)"] = r_max
            out["Reward / Total reward (min)"] = r_min
            out[MEAN_RETURN_TAG] = r_sum / count
            out["Episode / Total timesteps (max)"] = l_max
            out["Episode / Total timesteps (min)"] = l_min
            out[MEAN_LENGTH_TAG] = l_sum / count
        self._sums.clear()
        self._float_sums.clear()
        self._counts.clear()
        self._stats.clear()
        self._stats_counts.clear()
        self._ep_count.zero_()
        self._ep_sum.zero_()
        self._ep_min.fill_(math.inf)
        self._ep_max.fill_(-math.inf)
        return TrackingSummary(scalars=out, finished_episodes=int(count), window_mean=window_mean)


def _merge_ranks(values: torch.Tensor, means: int, window: bool) -> torch.Tensor:
    """``values`` (the flush's vector: ``means`` tracked values, then episode count, return and length sums,
    minima, maxima, [window mean], window count) merged over the ranks with one ``all_gather`` on the device;
    one process: unchanged."""
    from skrl_isaac.utils import distributed

    if not distributed.is_initialized():
        return values
    import torch.distributed as dist

    gathered = [torch.empty_like(values) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, values)
    ranks = torch.stack(gathered)  # (ranks, values)
    episode = ranks[:, means:]
    parts = [ranks[:, :means].mean(0), episode[:, :3].sum(0), episode[:, 3:5].amin(0), episode[:, 5:7].amax(0)]
    if window:
        parts.append(episode[:, 7].mean(0).view(1))
    parts.append(episode[:, -1].amin(0).view(1))  # the window is full once every rank's is
    return torch.cat(parts)
