"""A train config names the task it is for: another task is an error unless forced."""

from __future__ import annotations

from pathlib import Path

import yaml
from test_train_cli import run_cli

CONFIGS = Path(__file__).resolve().parents[2] / "skrl_isaac" / "cfg" / "train"


def test_every_shipped_train_config_names_its_task():
    tasks = {path.stem: yaml.safe_load(path.read_text()).get("task") for path in CONFIGS.glob("*.yaml")}
    assert tasks and all(tasks[name] and name.startswith(tasks[name]) for name in tasks), tasks
    assert tasks["CartpoleDiscreteDQN"] == "CartpoleDiscrete" and tasks["CartpoleSAC"] == "Cartpole"


def test_a_train_config_for_another_task_is_an_error(tmp_path):
    result = run_cli("task=Ant", "train=CartpoleSAC", "rl_device=cpu", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr == ("error: train=CartpoleSAC is for task=Cartpole, not task=Ant; use a train config for Ant "
                             "(train=AntPPO, train=AntSAC), or add force_train_config=True to run it anyway\n")
    assert not (tmp_path / "runs").exists()


def test_force_train_config_runs_it_anyway(tmp_path):
    result = run_cli("task=Cartpole", "train=CartpoleDiscretePPO", "force_train_config=True", "num_envs=2",
                     "max_iterations=1", "experiment=forced", "rl_device=cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "task Cartpole (embedded MuJoCo suite), 2 envs on cpu, agent PPO" in result.stdout
