"""benchmarks/env_throughput.py (P1): the raw baseline replays exactly the env's trajectory."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

import env_throughput  # noqa: E402


def test_replay_baseline_steps_the_envs_own_states():
    # episodes of 9 steps: every env resets 4 times in the 40 steps, inside chunks and at their ends
    # (chunks of 7, the last one short)
    r = env_throughput.bench(16, steps=40, chunk=7, nthread=1, substeps=2, torch_threads=None,
                             step_torch_threads=1, device="cpu", env_cfg={"episodeLength": 9})
    assert r.exact is True  # the raw Batch ended every chunk in the env's state, bit for bit
    assert r.env_sps > 0 and r.raw_sps > 0 and r.median_ratio > 0 and r.nthread == 1
    assert 0.0 < r.physics_share < 1.0  # simulate() is part of step(), not all of it
    assert len(r.env_chunks) == len(r.raw_chunks) == 5  # full chunks only (the last one has 5 steps)
    env_seconds, raw_seconds = sum(1 / x for x in r.env_chunks), sum(1 / x for x in r.raw_chunks)
    assert abs(r.total_ratio() - raw_seconds / env_seconds) < 1e-12  # same steps in both: time ratio


def test_replay_catches_a_different_trajectory(monkeypatch):
    # a raw Batch whose resets and chunk starts leave out qvel and the warmstart must not pass as a replay
    monkeypatch.setattr(env_throughput, "STATE_FIELDS", ("time", "qpos"))  # warmstart and qvel not replayed
    r = env_throughput.bench(8, steps=10, chunk=5, nthread=1, substeps=2, torch_threads=None,
                             step_torch_threads=1, device="cpu", env_cfg={"episodeLength": 4})
    assert r.exact is False
