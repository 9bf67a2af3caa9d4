"""Tracker (skrl_isaac.agents.torch.tracking): on-device statistics against a plain Python reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skrl_isaac.agents.torch.tracking import Tracker, TrackingSummary


def flat(summary: TrackingSummary) -> dict[str, float]:
    """A flush as one dict: its scalars, plus ``_finished_episodes`` / ``_window_mean`` when it has them
    (the reference below computes all of them the same way)."""
    out = dict(summary.scalars)
    if summary.finished_episodes:
        out["_finished_episodes"] = summary.finished_episodes
    if summary.window_mean is not None:
        out["_window_mean"] = summary.window_mean
    return out


def reference(rewards: np.ndarray, dones: np.ndarray, window: int) -> dict[str, float]:
    """What one flush after these steps must report, computed env by env in Python."""
    steps, envs = rewards.shape
    out = {"Reward / Instantaneous reward (max)": float(np.mean(rewards.max(axis=1))),
           "Reward / Instantaneous reward (min)": float(np.mean(rewards.min(axis=1))),
           "Reward / Instantaneous reward (mean)": float(np.mean(rewards.mean(axis=1)))}
    finished: list[tuple[float, int]] = []
    ret, length = [0.0] * envs, [0] * envs
    for t in range(steps):
        for e in range(envs):
            ret[e] += float(rewards[t, e])
            length[e] += 1
            if dones[t, e]:
                finished.append((ret[e], length[e]))
                ret[e], length[e] = 0.0, 0
    if finished:
        returns = [r for r, _ in finished]
        lengths = [n for _, n in finished]
        out.update({"Reward / Total reward (max)": max(returns), "Reward / Total reward (min)": min(returns),
                    "Reward / Total reward (mean)": sum(returns) / len(returns),
                    "Episode / Total timesteps (max)": max(lengths),
                    "Episode / Total timesteps (min)": min(lengths),
                    "Episode / Total timesteps (mean)": sum(lengths) / len(lengths),
                    "_finished_episodes": len(finished)})
        if window and len(finished) >= window:
            out["_window_mean"] = sum(returns[-window:]) / window
    return out


@st.composite
def episodes(draw):
    steps, envs = draw(st.integers(1, 12)), draw(st.integers(1, 5))
    rewards = draw(st.lists(st.integers(-8, 8), min_size=steps * envs, max_size=steps * envs))
    dones = draw(st.lists(st.booleans(), min_size=steps * envs, max_size=steps * envs))
    rewards = np.array(rewards, dtype=np.float32).reshape(steps, envs) / 4  # exact in float32
    return rewards, np.array(dones).reshape(steps, envs), draw(st.sampled_from([0, 1, 3]))


BLOCKS = st.sampled_from([1, 3, 16])  # steps folded together: every step, mid-run folds, only at flush


@settings(max_examples=80, deadline=None)
@given(episodes(), BLOCKS)
def test_flush_matches_the_reference(data, block_steps):
    rewards, dones, window = data
    tracker = Tracker(rewards.shape[1], torch.device("cpu"), window=window, block_steps=block_steps)
    for r, d in zip(rewards, dones):
        tracker.record_step(torch.tensor(r).view(-1, 1), torch.tensor(d).view(-1, 1))
    got, want = flat(tracker.flush()), reference(rewards, dones, window)
    assert set(got) == set(want)
    for tag, value in want.items():
        assert got[tag] == pytest.approx(value, rel=1e-6, abs=1e-6), tag


@settings(max_examples=40, deadline=None)
@given(episodes(), st.integers(0, 12), BLOCKS, BLOCKS)
def test_state_dict_resumes_exactly(data, cut, block_steps, resumed_block_steps):
    rewards, dones, window = data
    cut = min(cut, len(rewards))
    envs = rewards.shape[1]
    # real-valued rewards: a resume that folded other blocks than the straight run would add in another order
    rewards = rewards + np.float32(1 / 3)
    steps = [(torch.tensor(r).view(-1, 1), torch.tensor(d).view(-1, 1)) for r, d in zip(rewards, dones)]
    straight = Tracker(envs, torch.device("cpu"), window=window, block_steps=block_steps)
    first = Tracker(envs, torch.device("cpu"), window=window, block_steps=block_steps)
    for step in steps:
        straight.record_step(*step)
    for step in steps[:cut]:
        first.record_step(*step)
    if resumed_block_steps != block_steps:  # another block size: the same statistics, not the same bits
        resumed = Tracker(envs, torch.device("cpu"), window=window, block_steps=resumed_block_steps)
        resumed.load_state_dict(first.state_dict())
        for step in steps[cut:]:
            resumed.record_step(*step)
        got, want = flat(resumed.flush()), flat(straight.flush())
        assert set(got) == set(want)
        for tag, value in want.items():
            assert got[tag] == pytest.approx(value, rel=1e-5, abs=1e-5), tag
        return
    resumed = Tracker(envs, torch.device("cpu"), window=window, block_steps=block_steps)
    resumed.load_state_dict(first.state_dict())
    for step in steps[cut:]:
        resumed.record_step(*step)
    assert resumed.flush() == straight.flush()


def test_flush_resets_and_unfinished_episodes_carry_over(device):
    tracker = Tracker(2, torch.device(device))
    ones = torch.ones((2, 1), device=device)
    tracker.record_step(ones, torch.tensor([[True], [False]], device=device))
    first = flat(tracker.flush())
    assert first["_finished_episodes"] == 1 and first["Episode / Total timesteps (max)"] == 1
    tracker.record_step(2 * ones, torch.tensor([[False], [True]], device=device))
    second = flat(tracker.flush())  # env 1's episode began before the first flush: 2 steps, return 3
    assert second["_finished_episodes"] == 1
    assert second["Reward / Total reward (mean)"] == 3.0 and second["Episode / Total timesteps (mean)"] == 2.0
    assert second["Reward / Instantaneous reward (mean)"] == 2.0
    empty = flat(tracker.flush())
    assert empty == {} or "_finished_episodes" not in empty
    assert not math.isnan(tracker._ep_min.sum().item()) and tracker._ep_min[0].item() == math.inf


def test_state_from_another_window_loads_and_restarts_the_window():
    saved = Tracker(2, torch.device("cpu"), window=3)
    saved.record_step(torch.tensor([[1.0], [2.0]]), torch.tensor([[False], [True]]))
    plain = Tracker(2, torch.device("cpu"), window=0)  # e.g. resumed with checkpoints off
    plain.load_state_dict(saved.state_dict())
    plain.record_step(torch.tensor([[1.0], [1.0]]), torch.tensor([[True], [False]]))
    out = flat(plain.flush())
    assert "_window_mean" not in out and out["_finished_episodes"] == 2  # env 1 at step 1, env 0 at step 2
    assert out["Reward / Total reward (max)"] == 2.0 and out["Episode / Total timesteps (max)"] == 2.0


def test_many_episodes_ending_in_one_block_keep_the_last_ones_in_the_window(device):
    tracker = Tracker(4, torch.device(device), window=3, block_steps=8)
    for step in range(2):  # 8 episodes end within one block; the window must hold the last 3 in order
        tracker.record_step(torch.tensor([1.0, 2.0, 3.0, 4.0], device=device) + 10 * step,
                            torch.ones(4, dtype=torch.bool, device=device))
    out = flat(tracker.flush())
    assert out["_finished_episodes"] == 8
    assert out["_window_mean"] == pytest.approx((12 + 13 + 14) / 3)


def test_block_steps_must_be_positive():
    with pytest.raises(ValueError, match="block_steps must be >= 1"):
        Tracker(2, torch.device("cpu"), block_steps=0)
