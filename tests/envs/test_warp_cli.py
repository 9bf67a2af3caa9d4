"""``train_isaac.py physics_engine=mujoco_warp``: a short run on Warp's CPU device writes what the CPU backend
writes; without the [warp] extra, or with an unknown engine, one ``error:`` line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import python_env

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["task=Cartpole", "num_envs=8", "max_iterations=2", "seed=1", "sim_device=cpu", "rl_device=cpu",
        "write_interval=16", "checkpoint_interval=16"]


def _run(*overrides: str, cwd: Path, paths=()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train_isaac.py"), *overrides], cwd=cwd,
                          env=python_env(ROOT, *paths), capture_output=True, text=True, timeout=300)


def _files(run: Path):
    return sorted(str(p.relative_to(run).parent / (p.name if not p.name.startswith("events.") else "events.*"))
                  for p in run.rglob("*") if p.is_file())


def test_warp_run_writes_the_same_files_as_the_cpu_backend(tmp_path):
    pytest.importorskip("mujoco_warp")
    warp = _run(*ARGS, "physics_engine=mujoco_warp", "experiment=warp", cwd=tmp_path)
    assert warp.returncode == 0, warp.stderr[-3000:]
    assert "task Cartpole (embedded MuJoCo suite, MuJoCo Warp), 8 envs" in warp.stdout
    cpu = _run(*ARGS, "physics_engine=mujoco", "experiment=cpu", cwd=tmp_path)
    assert cpu.returncode == 0, cpu.stderr[-3000:]
    assert "task Cartpole (embedded MuJoCo suite), 8 envs" in cpu.stdout
    warp_files, cpu_files = _files(tmp_path / "runs" / "warp"), _files(tmp_path / "runs" / "cpu")
    assert warp_files == cpu_files and any(f.startswith("checkpoints/") for f in warp_files)


def test_missing_warp_extra_is_one_error_line(tmp_path):
    blocker = tmp_path / "block" / "mujoco_warp"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named mujoco_warp')\n")
    result = _run("task=Cartpole", "physics_engine=mujoco_warp", "rl_device=cpu", cwd=tmp_path,
                  paths=[tmp_path / "block"])
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: physics_engine=mujoco_warp needs"), result.stderr
    assert 'pip install -e ".[warp]"' in lines[0]
    assert not (tmp_path / "runs").exists()


def test_unknown_engine_lists_the_valid_ones(tmp_path):
    result = _run("task=Cartpole", "physics_engine=bullet", "rl_device=cpu", cwd=tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "auto, physx, flex, mujoco or mujoco_warp" in lines[0], result.stderr


def test_auto_chooses_warp_only_for_a_cuda_rl_device(monkeypatch):
    from skrl_isaac.cli import train
    from skrl_isaac_envs.base import warp_physics

    assert train.embedded_engine("auto", "cpu") == "mujoco"
    assert train.embedded_engine("mujoco", "cuda:0") == "mujoco"
    assert train.embedded_engine("mujoco_warp", "cpu") == "mujoco_warp"
    monkeypatch.setattr(warp_physics, "mujoco_warp_available", lambda: True)
    assert train.embedded_engine("auto", "cuda:0") == "mujoco_warp"
    monkeypatch.setattr(warp_physics, "mujoco_warp_available", lambda: False)
    assert train.embedded_engine("auto", "cuda:0") == "mujoco"
