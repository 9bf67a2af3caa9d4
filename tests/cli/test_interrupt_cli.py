"""Ctrl-C during ``train_isaac.py``: the step finishes, the timestep is checkpointed, the writers and the memory
export close, one line gives the resume command, exit status 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from conftest import python_env

ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_checkpoints_the_current_timestep_and_exits_130(tmp_path):
    env = {**python_env(ROOT), "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, str(ROOT / "train_isaac.py"), "task=Ant", "num_envs=4", "max_iterations=100000",
            "experiment=stop", "rl_device=cpu", "write_interval=16", "checkpoint_interval=100000",
            "memory_export=True", "memory_export_format=np", "+train.trainer.disable_progressbar=True"]
    process = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait for the second summary line: the loop is running, a dump written
        line = process.stdout.readline()
        if not line:  # the process ended
            break
        lines.append(line)
        if line.startswith("timestep") and sum(x.startswith("timestep") for x in lines) == 2:
            break
    if sum(x.startswith("timestep") for x in lines) < 2:
        process.kill()
        raise AssertionError("training did not start:\n" + "".join(lines) + process.stderr.read()[-3000:])
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    run = tmp_path / "runs" / "stop"
    agent_files = sorted(run.glob("checkpoints/*_agent.pt"))
    assert len(agent_files) == 1
    timestep = int(agent_files[0].name.split("_")[0])
    assert timestep >= 32  # after the second summary line
    names = ("agent", "policy", "state_preprocessor", "value", "value_preprocessor")
    assert sorted(os.listdir(run / "checkpoints")) == sorted(f"{timestep}_{n}.pt" for n in names)
    assert torch.load(agent_files[0], weights_only=True)["timestep"] == timestep
    resume = [line for line in stdout.splitlines() if "resume with" in line]
    assert resume == [f"[skrl_isaac] SIGINT at timestep {timestep}: checkpoint written; resume with: "
                      f"python train_isaac.py checkpoint=runs/stop/checkpoints/{timestep}_agent.pt"]
    # the memory export is closed: every completed rollout (16 steps) is on disk and complete
    dumps = sorted((run / "memory").glob("*.npz"))
    assert len(dumps) == timestep // 16
    with np.load(dumps[-1]) as last:
        assert last["states"].shape[:2] == (16, 4)
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_ctrl_c_while_the_run_is_set_up_is_one_line_and_130(tmp_path):
    """Ctrl-C during the imports and the set-up (before the loop's handler): no traceback, exit status 130."""
    args = [sys.executable, str(ROOT / "train_isaac.py"), "task=Ant", "num_envs=4", "max_iterations=100000",
            "experiment=early", "rl_device=cpu"]
    process = subprocess.Popen(args, cwd=tmp_path, env={**python_env(ROOT), "PYTHONUNBUFFERED": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()  # printed once the config is read: the task and the agent are built next
    assert first.startswith("[skrl_isaac] max_iterations=100000"), first + process.stderr.read()[-3000:]
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr and "[skrl_isaac] SIGINT" in stderr + stdout
