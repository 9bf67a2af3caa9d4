"""``train_isaac.py``: training run layout, play mode, and bad overrides failing before any work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import python_env

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*overrides: str, cwd: Path, timeout: int = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train_isaac.py"), *overrides], cwd=cwd,
                          env=python_env(ROOT, **(env or {})), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cli")
    result = run_cli("task=Ant", "num_envs=8", "max_iterations=4", "seed=3", "experiment=smoke",
                     "write_interval=16", "checkpoint_interval=32", "rl_device=cpu",
                     "task.env.episodeLength=24", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, result


def test_training_run_layout(trained_run, scalars_reader):
    cwd, result = trained_run
    run = cwd / "runs" / "smoke"
    names = ("agent", "policy", "state_preprocessor", "value", "value_preprocessor")  # the CLI checkpoints everything
    assert sorted(os.listdir(run / "checkpoints")) == sorted(f"{t}_{n}.pt" for t in (32, 64) for n in names)
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["task"]["name"] == "Ant" and config["num_envs"] == 8 and config["seed"] == 3
    assert config["train"]["agent"]["class"] == "PPO"
    scalars = scalars_reader(run)
    assert [s for s, _ in scalars["Reward / Instantaneous reward (mean)"]] == [16, 32, 48, 64]
    assert "Reward / Total reward (mean)" in scalars  # 24-step episodes finished
    assert "timestep        64" in result.stdout and "env-steps/s" in result.stdout
    assert "episode return" in result.stdout


def test_play_mode_prints_a_summary(trained_run):
    cwd, _ = trained_run
    checkpoint = cwd / "runs" / "smoke" / "checkpoints" / "64_policy.pt"
    result = run_cli("task=Ant", "num_envs=4", "test=True", f"checkpoint={checkpoint}", "rl_device=cpu",
                     "task.env.episodeLength=24", "test_timesteps=30", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [line for line in result.stdout.splitlines() if line.startswith("episode ")]
    summary = [line for line in result.stdout.splitlines() if line.startswith("played ")]
    assert len(summary) == 1 and summary[0].startswith("played 4 episodes: return mean ")
    assert summary[0].endswith("length mean 23.0 (min 23, max 23)")  # episodeLength 24: 23 steps after reset
    assert sorted(os.listdir(cwd / "runs")) == ["smoke"]  # playing creates no run folder


def test_play_is_deterministic_and_prints_episodes_on_request(trained_run):
    cwd, _ = trained_run
    checkpoint = cwd / "runs" / "smoke" / "checkpoints" / "64_policy.pt"
    args = ("task=Ant", "num_envs=2", "test=True", f"checkpoint={checkpoint}", "rl_device=cpu",
            "task.env.episodeLength=10", "test_timesteps=10", "seed=5", "print_episodes=True")
    first, second = run_cli(*args, cwd=cwd), run_cli(*args, cwd=cwd)
    assert first.returncode == 0, first.stderr[-2000:]
    lines = [line for line in first.stdout.splitlines() if line.startswith(("episode ", "played "))]
    assert len(lines) == 3 and lines[0].startswith("episode     1: return") and lines[2].startswith("played 2 ")
    assert lines == [line for line in second.stdout.splitlines() if line.startswith(("episode ", "played "))]


@pytest.mark.parametrize("overrides, message", [
    (["task=Nope"], "Ant"),
    (["num_envs=0"], "num_envs=0 is not valid: expected an integer >= 1"),
    (["num_envs=abc"], "num_envs='abc' is not valid"),
    (["seed=-1"], "seed=-1 is not valid"),
    (["test=True"], "test=True needs checkpoint="),
    (["checkpoint=missing.pt"], "checkpoint='missing.pt': no such file"),
    (["memory_export_format=xml"], "expected pt, np or csv"),
    (["rl_device=tpu"], "rl_device='tpu' is not a device"),
    (["physics_engine=physx"], "needs Isaac Gym Preview 4"),
    (["physics_engine=ode"], "expected auto, physx, flex, mujoco or mujoco_warp"),
    (["num_envs=4", "+train.trainer.rollout_torch_threads=0"],
     "error: train.trainer: rollout_torch_threads must be None or an int >= 1, got 0"),
])
def test_bad_overrides_fail_before_any_work(tmp_path, overrides, message):
    result = run_cli(*overrides, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_wrong_checkpoint_is_one_clear_line(trained_run, tmp_path):
    cwd, _ = trained_run
    bad = tmp_path / "x_policy.pt"
    bad.write_bytes(b"garbage")
    result = run_cli("task=Ant", "num_envs=2", "test=True", f"checkpoint={bad}", "rl_device=cpu", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and "x_policy.pt" in result.stderr
    assert "Traceback" not in result.stderr
    other = tmp_path / "y_policy.pt"
    torch.save({"net.0.weight": torch.zeros(3, 3)}, other)
    result = run_cli("task=Ant", "num_envs=2", "test=True", f"checkpoint={other}", "rl_device=cpu", cwd=tmp_path)
    assert result.returncode == 2 and "missing keys" in result.stderr and "Traceback" not in result.stderr


def test_memory_export_from_the_command_line(tmp_path):
    import pandas as pd

    from skrl_isaac.memories.torch import RandomMemory

    result = run_cli("task=Ant", "num_envs=4", "max_iterations=3", "experiment=dump", "rl_device=cpu",
                     "memory_export=True", "memory_export_format=csv", "write_interval=0", "checkpoint_interval=0",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    files = sorted((tmp_path / "runs" / "dump" / "memory").glob("*.csv"))
    assert len(files) == 3  # one per fill cycle (rollouts 16, 3 iterations)
    frame = pd.read_csv(files[-1])
    assert list(frame.columns[:3]) == ["step", "env", "actions.0"]
    assert {"states.59", "rewards.0", "terminated.0", "truncated.0", "log_prob.0", "values.0", "returns.0",
            "advantages.0"} <= set(frame.columns)
    assert len(frame) == 16 * 4 and not frame.isna().any().any()
    # the dump holds the cycle as PPO learned from it: normalized advantages, returns filled in
    assert abs(frame["advantages.0"].mean()) < 1e-4 and frame["returns.0"].abs().sum() > 0
    memory = RandomMemory(memory_size=16, num_envs=4, device="cpu")
    for name, size, dtype in [("states", 60, torch.float32), ("actions", 8, torch.float32),
                              ("rewards", 1, torch.float32), ("terminated", 1, torch.bool),
                              ("truncated", 1, torch.bool), ("log_prob", 1, torch.float32),
                              ("values", 1, torch.float32), ("returns", 1, torch.float32),
                              ("advantages", 1, torch.float32)]:
        memory.create_tensor(name, size, dtype)
    memory.load(files[-1])
    assert memory.filled and memory.memory_index == 0
    states = memory.get_tensor_by_name("states")
    expected = torch.tensor(frame[[f"states.{i}" for i in range(60)]].to_numpy(), dtype=torch.float32).view(16, 4, 60)
    assert torch.equal(states, expected)


def test_isaacgymenvs_task_when_isaacgymenvs_is_importable(tmp_path):
    """physics_engine=auto picks IsaacGymEnvs (a test package laid out like it) over the embedded suite."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fake_isaacgym", ROOT / "tests" / "envs" / "fake_isaacgym.py")
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    paths = fake.build(tmp_path / "pkgs")
    env = python_env(ROOT, paths["python"], paths["repo"])
    args = [sys.executable, str(ROOT / "train_isaac.py"), "task=Ant", "num_envs=4", "max_iterations=2",
            "rl_device=cpu", "sim_device=cpu", "experiment=ige", "task.env.episodeLength=20"]
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "task Ant (IsaacGymEnvs), 4 envs on cpu, agent PPO, 32 timesteps -> runs/ige" in result.stdout
    assert sorted(p.name.split(".")[0] for p in (tmp_path / "runs" / "ige").iterdir()) == [
        "", "checkpoints", "config", "events"]  # "": the run's .lock file
    assert sorted(os.listdir(tmp_path / "runs" / "ige" / "checkpoints")) == sorted(  # the final checkpoint
        f"32_{n}.pt" for n in ("agent", "policy", "state_preprocessor", "value", "value_preprocessor"))
    embedded = subprocess.run(args[:-2] + ["physics_engine=mujoco", "experiment=emb"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
    assert embedded.returncode == 0, embedded.stderr[-3000:]
    assert "task Ant (embedded MuJoCo suite)" in embedded.stdout


def test_isaacgymenvs_videos_come_from_its_virtual_screen(tmp_path):
    """video_interval / video=True with an IsaacGymEnvs task: capture_video (the viewer on a virtual display) and
    the task's own render(); the mp4 files decode with the requested size."""
    import importlib.util

    import imageio.v3 as iio

    spec = importlib.util.spec_from_file_location("fake_isaacgym", ROOT / "tests" / "envs" / "fake_isaacgym.py")
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    paths = fake.build(tmp_path / "pkgs")
    env = python_env(ROOT, paths["python"], paths["repo"])
    common = ["task=Ant", "num_envs=2", "rl_device=cpu", "sim_device=cpu", "task.env.episodeLength=20",
              "video_length=5", "video_width=64", "video_height=48"]
    train = subprocess.run([sys.executable, str(ROOT / "train_isaac.py"), *common, "max_iterations=2",
                            "experiment=ige", "video_interval=16"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert train.returncode == 0, train.stderr[-3000:]
    assert "video: the task's own render(mode='rgb_array')" in train.stdout
    videos = tmp_path / "runs" / "ige" / "videos"
    assert sorted(os.listdir(videos)) == ["0.mp4", "16.mp4"]
    frames = iio.imread(videos / "16.mp4", plugin="FFMPEG")
    assert frames.shape == (5, 48, 64, 3) and frames.std() > 10
    play = subprocess.run([sys.executable, str(ROOT / "train_isaac.py"), *common, "test=True", "video=True",
                           f"checkpoint={tmp_path / 'runs' / 'ige' / 'checkpoints' / '32_policy.pt'}",
                           "test_timesteps=8"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert play.returncode == 0, play.stderr[-3000:]
    assert iio.imread(videos / "play_32.mp4", plugin="FFMPEG").shape == (5, 48, 64, 3)


def test_the_cli_module_imports_neither_torch_nor_isaacgym(tmp_path):
    """A machine without Isaac Gym starts fast: importing the CLI loads no torch (the engine is decided first)."""
    code = "import sys, skrl_isaac.cli.train; print(sorted(m for m in ('torch', 'isaacgym', 'numpy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=python_env(ROOT), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "[]\n", result.stderr


def test_humanoid_trains_from_the_command_line(tmp_path):
    result = run_cli("task=Humanoid", "num_envs=4", "max_iterations=1", "rl_device=cpu", "experiment=h",
                     "write_interval=32", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "task Humanoid (embedded MuJoCo suite), 4 envs on cpu, agent PPO, 32 timesteps -> runs/h" in result.stdout
    run = tmp_path / "runs" / "h"
    assert yaml.safe_load((run / "config.yaml").read_text())["task"]["name"] == "Humanoid"
    assert sorted(os.listdir(run / "checkpoints")) == sorted(
        f"32_{n}.pt" for n in ("agent", "policy", "state_preprocessor", "value", "value_preprocessor"))
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_console_scripts_run_from_any_folder(tmp_path):
    import shutil

    train = shutil.which("skrl-isaac-train", path=os.path.dirname(sys.executable))
    tool = shutil.which("skrl-isaac", path=os.path.dirname(sys.executable))
    if train is None or tool is None:
        pytest.skip("the package is not installed in this interpreter (pip install -e .)")
    result = subprocess.run([train, "num_envs=0"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "num_envs=0 is not valid" in result.stderr
    result = subprocess.run([tool, "memory", "inspect", str(tmp_path / "none.csv")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: no memory dump at")
