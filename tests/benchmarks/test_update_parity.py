"""benchmarks/update_parity.py: our PPO update equals rl_games' on the same rollout from the same point."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

pytest.importorskip("rl_games")

from update_parity import compare  # noqa: E402


def test_one_update_matches_rl_games_to_float_rounding():
    parity = compare("Cartpole", num_envs=32, warmup=2, seed=3)
    assert parity.values < 1e-5 and parity.log_prob < 1e-4 and parity.returns < 1e-5 and parity.advantages < 1e-5
    assert len(parity.losses) == 8  # CartpolePPO: 8 epochs of 1 minibatch
    for rl_policy, our_policy, rl_value, our_value in parity.losses:
        assert our_policy == pytest.approx(rl_policy, rel=1e-3, abs=1e-6)
        assert our_value == pytest.approx(rl_value, rel=1e-3)
    assert all(rl_step > 0 for _, rl_step, _, _ in parity.parameters)  # the update moved every parameter
    assert parity.worst_relative() < 1e-4


def test_rl_games_moving_statistics_is_a_visible_difference():
    # rl_games folds every minibatch into its observation statistics during the update; the check sees it
    parity = compare("Cartpole", num_envs=32, warmup=2, seed=3, move_statistics=True)
    assert parity.worst_relative() > 1e-3
