"""Resuming from the command line: the run's own config.yaml is the base, overrides apply on top, one that
cannot apply is one error naming it, and a refused command leaves the run folder untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from test_train_cli import run_cli


def snapshot(folder: Path) -> dict[str, int]:
    """Every path under ``folder`` with its file's modification time (folders: just the name)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns if p.is_file() else 0 for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("resume")
    result = run_cli("task=Ant", "num_envs=8", "max_iterations=2", "seed=3", "experiment=r", "rl_device=cpu",
                     "write_interval=16", "checkpoint_interval=16", "task.env.episodeLength=24", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd


def test_resume_takes_the_runs_config(run):
    result = run_cli("checkpoint=runs/r/checkpoints/16_agent.pt", "max_iterations=3", cwd=run)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming" in result.stdout and "at timestep 16" in result.stdout
    assert "task Ant (embedded MuJoCo suite), 8 envs on cpu, agent PPO, 48 timesteps" in result.stdout
    resumed = yaml.safe_load((run / "runs" / "r" / "config_resumed_16.yaml").read_text())
    assert resumed["num_envs"] == 8 and resumed["seed"] == 3 and resumed["max_iterations"] == 3
    assert resumed["task"]["env"]["episodeLength"] == 24 and resumed["train_config"] == "AntPPO"
    assert resumed["checkpoint"] == "runs/r/checkpoints/16_agent.pt"
    assert (run / "runs" / "r" / "checkpoints" / "48_agent.pt").is_file()


@pytest.mark.parametrize("overrides, message", [
    (["num_envs=64"], "error: num_envs=64 cannot apply to a resumed run: it ran with 8 envs"),
    (["task=Humanoid"], "error: task=Humanoid cannot apply to a resumed run: it trained task=Ant"),
    (["train=HumanoidPPO"], "error: train=HumanoidPPO cannot apply to a resumed run: it was trained with train=AntPPO"),
    (["experiment=other"], "error: experiment=other cannot apply to a resumed run"),
])
def test_an_override_that_cannot_apply_is_one_error(run, overrides, message):
    before = snapshot(run / "runs")
    result = run_cli("checkpoint=runs/r/checkpoints/32_agent.pt", *overrides, cwd=run)
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(run / "runs") == before


def test_a_failed_resume_writes_nothing(run):
    bad = run / "runs" / "r" / "checkpoints" / "99_agent.pt"
    bad.write_text("not a checkpoint\n")
    before = snapshot(run / "runs")
    try:
        result = run_cli(f"checkpoint={bad}", cwd=run)
        assert result.returncode == 2 and result.stderr.startswith("error: "), result.stderr[-2000:]
        assert snapshot(run / "runs") == before  # no new TensorBoard events file
    finally:
        os.remove(bad)


def test_an_existing_experiment_is_refused(run):
    before = snapshot(run / "runs")
    result = run_cli("task=Ant", "num_envs=8", "max_iterations=1", "experiment=r", "rl_device=cpu", cwd=run)
    assert result.returncode == 2
    assert result.stderr.startswith("error: experiment=r: runs/r already holds a run; to continue it, resume with "
                                    "checkpoint=runs/r/checkpoints/<timestep>_agent.pt, or choose a new experiment name")
    assert snapshot(run / "runs") == before
