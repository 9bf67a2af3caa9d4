"""``max_iterations=N`` means N horizons of environment steps for every agent (PPO: rollouts; off-policy: horizon)."""

from __future__ import annotations

import pytest
from test_train_cli import run_cli


def test_max_iterations_is_n_horizons_for_an_off_policy_agent(tmp_path):
    result = run_cli("task=Cartpole", "train=CartpoleSAC", "num_envs=4", "max_iterations=2", "experiment=sac",
                     "rl_device=cpu", "write_interval=0", "checkpoint_interval=1000", "train.agent.learning_starts=8",
                     "train.agent.batch_size=16", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[skrl_isaac] max_iterations=2: 2 iterations x 16 timesteps (train.horizon) = 32 timesteps" in result.stdout
    assert "agent SAC, 32 timesteps" in result.stdout
    assert (tmp_path / "runs" / "sac" / "checkpoints" / "32_agent.pt").is_file()  # the final checkpoint


@pytest.mark.parametrize("horizon, shown", [("~train.horizon", "None"), ("train.horizon=0", "0")])
def test_an_off_policy_config_without_a_horizon_is_an_error(tmp_path, horizon, shown):
    result = run_cli("task=Cartpole", "train=CartpoleSAC", "num_envs=4", "max_iterations=2", "rl_device=cpu", horizon,
                     cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: max_iterations= needs train.horizon (environment steps per iteration, "
                                    f"an integer >= 1) for SAC, got {shown}")
    assert not (tmp_path / "runs").exists()
