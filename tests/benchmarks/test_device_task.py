"""benchmarks/device_task.py: the VecTask contract of the GPU-simulator stand-in, and the loops that run on it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from conftest import python_env  # noqa: E402
from _common import OursLoop  # noqa: E402
from device_task import DeviceTask  # noqa: E402
from skrl_isaac.envs.torch import wrap_env  # noqa: E402
from skrl_isaac.envs.torch.wrappers import IsaacGymPreview4Wrapper  # noqa: E402


def _actions(task: DeviceTask, gen: torch.Generator) -> torch.Tensor:
    return torch.rand((task.num_envs, task.num_actions), generator=gen, device=task.device) * 2 - 1


def test_step_follows_the_vectask_contract(device):
    task = DeviceTask(16, device, seed=0)
    obs = task.reset()["obs"]
    assert obs.shape == (16, 60) and obs.device.type == torch.device(device).type
    obs_dict, rew, reset, extras = task.step(torch.zeros(16, 8, device=device))
    assert obs_dict["obs"].shape == (16, 60) and obs_dict["obs"].dtype == torch.float32
    assert rew.shape == (16,) and reset.shape == (16,) and reset.dtype == torch.long
    assert extras["time_outs"].shape == (16,)
    assert obs_dict["obs"].data_ptr() != task.obs_buf.data_ptr()  # a copy: the caller may keep it
    assert torch.all(rew <= 1.0)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_episodes_are_truncated_after_episode_length_steps_and_restart(length, seed):
    task = DeviceTask(8, "cpu", seed=seed, episode_length=length)
    task.reset()
    gen = torch.Generator().manual_seed(seed)
    for step in range(1, length + 1):
        obs_dict, _, reset, extras = task.step(_actions(task, gen) * 0.01)
        assert not task._dead.any()  # small actions keep the state far inside the bounds
        assert torch.all(extras["time_outs"] == int(step == length)) and torch.equal(reset, extras["time_outs"])
    assert torch.all(task.progress_buf == 0)  # every env restarted, from fresh noise
    assert obs_dict["obs"].abs().max() < 1.0


def test_a_state_out_of_bounds_terminates_with_the_death_reward():
    task = DeviceTask(4, "cpu", seed=1)
    task.reset()
    task.obs_buf[1] = 50.0
    obs_dict, rew, reset, extras = task.step(torch.zeros(4, 8))
    assert reset.tolist() == [0, 1, 0, 0] and extras["time_outs"].tolist() == [0, 0, 0, 0]
    assert rew[1].item() == -1.0 and torch.all(rew[[0, 2, 3]] > 0.9)
    assert obs_dict["obs"][1].abs().max() < 1.0  # restarted from fresh noise


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_the_same_seed_gives_the_same_run(seed):
    runs = []
    for _ in range(2):
        task, gen = DeviceTask(8, "cpu", seed=seed, episode_length=4), torch.Generator().manual_seed(seed)
        out = [task.reset()["obs"]]
        for _ in range(6):
            out.append(task.step(_actions(task, gen))[0]["obs"])
        runs.append(torch.stack(out))
    assert torch.equal(runs[0], runs[1])


def test_wrap_env_takes_it_as_an_isaac_gym_task_and_our_ppo_trains_on_it(device):
    assert isinstance(wrap_env(DeviceTask(4, device), verbose=False), IsaacGymPreview4Wrapper)
    loop = OursLoop(32, device, write_interval=16, checkpoint_interval=0, task="DeviceTask")
    try:
        before = [p.detach().clone() for p in loop.agent.policy.parameters()]
        assert loop.run(2) > 0
        assert any(not torch.equal(a, b) for a, b in zip(before, loop.agent.policy.parameters()))
    finally:
        loop.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_a_step_never_waits_for_the_host_on_cuda():
    task = DeviceTask(64, "cuda", seed=0)
    task.reset()
    actions = torch.zeros(64, 8, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            task.step(actions)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_vs_skrl_runs_on_it():
    pytest.importorskip("skrl", reason="the [bench] extra")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "vs_skrl.py"), "--task", "DeviceTask", "--num-envs", "32",
         "--rounds", "2", "--iterations", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env=python_env(ROOT))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "task DeviceTask" in result.stdout and "ours / skrl+ours:" in result.stdout
    assert "skrl+gym" not in result.stdout  # gymnasium's Ant-v5 is another task: left out
