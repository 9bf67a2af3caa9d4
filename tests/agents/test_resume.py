"""Exact resume from <timestep>_agent.pt, and crash safety of checkpoint files under SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import python_env
from skrl_isaac.agents.torch.ppo import PPO
from skrl_isaac.agents.torch.state import read_state_file
from skrl_isaac.envs.torch import load_embedded_env, wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch import CheckpointError
from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.utils import set_seed

ROOT = Path(__file__).resolve().parents[2]


def build(directory, seed=0, timesteps=64, checkpoint_interval=24):
    set_seed(seed)
    env = wrap_env(load_embedded_env("Ant", num_envs=8, device="cpu", seed=seed))
    models = {"policy": MLPGaussianPolicy(env.observation_space, env.action_space, "cpu", hiddens=[32, 32]),
              "value": MLPDeterministic(env.observation_space, env.action_space, "cpu", outputs=1, hiddens=[32, 32])}
    cfg = {"rollouts": 8, "learning_epochs": 2, "mini_batches": 2, "learning_rate_scheduler": "KLAdaptiveRL",
           "state_preprocessor": "RunningStandardScaler", "value_preprocessor": "RunningStandardScaler",
           "rewards_shaper": lambda r, t, T: r * 0.01,
           "experiment": {"directory": str(directory), "experiment_name": "run", "write_interval": 16,
                          "checkpoint_interval": checkpoint_interval, "checkpoint_policy_only": False}}
    agent = PPO(models=models, memory=RandomMemory(memory_size=8, num_envs=8, device="cpu"), cfg=cfg,
                observation_space=env.observation_space, action_space=env.action_space, device="cpu")
    trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": timesteps, "disable_progressbar": True})
    return agent, trainer


def test_resumed_run_matches_the_uninterrupted_run(tmp_path, scalars_reader):
    straight, trainer = build(tmp_path / "a")
    trainer.train()

    resumed, trainer = build(tmp_path / "b", seed=123)  # a different seed: everything must come from the file
    checkpoint = tmp_path / "a" / "run" / "checkpoints" / "24_agent.pt"
    assert trainer.resume(str(checkpoint)) == 24
    assert float(resumed.optimizer.param_groups[0]["lr"]) == float(read_state_file(checkpoint)["objects"][
        "optimizer"]["param_groups"][0]["lr"])
    trainer.train()

    for name in ("policy", "value"):
        for key, value in straight.models[name].state_dict().items():
            assert torch.equal(value, resumed.models[name].state_dict()[key]), f"{name}.{key} differs"
    assert torch.equal(straight._state_preprocessor.running_mean, resumed._state_preprocessor.running_mean)
    assert float(straight.optimizer.param_groups[0]["lr"]) == float(resumed.optimizer.param_groups[0]["lr"])
    # TensorBoard steps and checkpoint names continue from the resumed timestep
    steps = sorted({s for values in scalars_reader(tmp_path / "b" / "run").values() for s, _ in values})
    assert steps == [32, 48, 64]
    names = ("agent", "policy", "state_preprocessor", "value", "value_preprocessor")
    assert sorted(os.listdir(tmp_path / "b" / "run" / "checkpoints")) == sorted(  # 64: the final checkpoint
        f"{t}_{n}.pt" for t in (48, 64) for n in names)
    straight_scalars = scalars_reader(tmp_path / "a" / "run")
    resumed_scalars = scalars_reader(tmp_path / "b" / "run")
    for tag in ("Loss / Policy loss", "Reward / Instantaneous reward (mean)"):
        assert dict(straight_scalars[tag])[64] == dict(resumed_scalars[tag])[64]


@pytest.mark.parametrize("start", [12, 36])
def test_resume_mid_rollout_is_bit_identical(tmp_path, start):
    """Checkpoints every 12 steps with rollouts of 8: steps 12 and 36 are in the middle of a rollout, so
    the resumed run must pick up the half-filled memory, the rollout counter, the tracker's pending
    block and the RNG states where they were."""
    straight, trainer = build(tmp_path / "a", timesteps=48, checkpoint_interval=12)
    trainer.train()
    checkpoint = tmp_path / "a" / "run" / "checkpoints" / f"{start}_agent.pt"
    assert read_state_file(checkpoint)["scalars"]["_rollout"] % 8 == 4  # mid-rollout indeed
    resumed, trainer = build(tmp_path / "b", seed=123, timesteps=48, checkpoint_interval=12)
    assert trainer.resume(str(checkpoint)) == start
    trainer.train()
    for name in ("policy", "value"):
        for key, value in straight.models[name].state_dict().items():
            assert torch.equal(value, resumed.models[name].state_dict()[key]), f"{name}.{key} differs"
    for key, value in straight.optimizer.state_dict()["state"].items():
        assert all(torch.equal(v, resumed.optimizer.state_dict()["state"][key][k]) for k, v in value.items())
    for name in ("_state_preprocessor", "_value_preprocessor"):
        for key, value in getattr(straight, name).state_dict().items():
            assert torch.equal(value, getattr(resumed, name).state_dict()[key]), f"{name}.{key} differs"
    for name, tensor in straight.memory.tensors.items():
        assert torch.equal(tensor, resumed.memory.tensors[name]), f"memory {name} differs"


def test_resume_refuses_foreign_files(tmp_path):
    agent, trainer = build(tmp_path)
    policy_file = tmp_path / "policy.pt"
    torch.save(agent.policy.state_dict(), policy_file)
    with pytest.raises(CheckpointError, match="not an agent checkpoint"):
        trainer.resume(str(policy_file))
    truncated = tmp_path / "8_agent.pt"
    agent.save(str(truncated), 8)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="8_agent.pt: not a readable checkpoint"):
        trainer.resume(str(truncated))


def _cli(*overrides, cwd):
    env = python_env(ROOT)
    return subprocess.Popen([sys.executable, str(ROOT / "train_isaac.py"), *overrides], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _newest_agent_file(folder: Path):
    files = sorted(folder.glob("*_agent.pt"), key=lambda p: int(p.name.split("_")[0]))
    return files[-1] if files else None


def test_sigkill_at_random_moments_leaves_loadable_checkpoints(tmp_path):
    rng = random.Random(7)
    base = ["task=Ant", "num_envs=8", "rl_device=cpu", "experiment=crash", "checkpoint_interval=16",
            "write_interval=16", "train.agent.rollouts=8", "max_iterations=400", "train.models.policy.hiddens=[32]",
            "train.models.value.hiddens=[32]"]
    folder = tmp_path / "runs" / "crash" / "checkpoints"
    for attempt in range(3):
        newest = _newest_agent_file(folder) if folder.exists() else None
        process = _cli(*base, *( [f"checkpoint={newest}"] if newest else []), cwd=tmp_path)
        deadline = time.time() + 60
        while not (folder.exists() and any(folder.glob("*_agent.pt"))) and time.time() < deadline:
            if process.poll() is not None:
                pytest.fail(f"training exited early: {process.stderr.read()[-2000:]}")
            time.sleep(0.1)
        time.sleep(rng.uniform(0.2, 2.5))  # somewhere in the middle of writing checkpoints
        process.send_signal(signal.SIGKILL)
        process.wait()
        for path in folder.glob("*.pt"):  # every checkpoint file loads
            state = torch.load(path, weights_only=True)
            assert isinstance(state, dict) and state, path
    newest = _newest_agent_file(folder)
    start = int(newest.name.split("_")[0])
    args = [a for a in base if not a.startswith("max_iterations")] + [f"max_iterations={start // 8 + 2}",
                                                                      f"checkpoint={newest}"]
    finish = subprocess.run([sys.executable, str(ROOT / "train_isaac.py"), *args], cwd=tmp_path,
                            env=python_env(ROOT),
                            capture_output=True, text=True, timeout=300)
    assert finish.returncode == 0, finish.stderr[-2000:]
    assert "resuming" in finish.stdout and f"timestep {start}" in finish.stdout
    assert (folder / f"{start + 16}_agent.pt").is_file()
