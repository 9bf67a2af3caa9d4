"""Shared fixtures: devices to test on and a small pure-torch VecTask with known episodes; the
environment of the tests' child processes."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

from host_sync import PYTHON_READS, HostSyncGuard
from skrl_isaac.utils.processes import python_env

__all__ = ["DEVICES", "HostSyncGuard", "python_env"]  # imported by the tests (`from conftest import ...`)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


class CountingTask:
    """A VecTask (Isaac Gym Preview 4 interface) whose episodes are known in advance.

    Env ``i`` receives reward ``rewards[i]`` every step and its episodes last ``lengths[i]`` steps;
    even envs end by termination, odd envs by time-out. The observation is ``(progress, i, action mean)``
    so a policy can learn nothing in particular but everything is deterministic.
    """

    def __init__(self, num_envs: int, lengths, rewards, device: str = "cpu", num_obs: int = 3, num_actions: int = 2):
        self.num_envs = num_envs
        self.num_obs = num_obs
        self.num_actions = num_actions
        self.num_states = 0
        self.device = device
        self.rl_device = device
        self.max_episode_length = int(max(lengths))
        self.lengths = torch.as_tensor(lengths, device=device, dtype=torch.long)
        self.rewards = torch.as_tensor(rewards, device=device, dtype=torch.float32)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (num_obs,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (num_actions,), dtype=np.float32)
        self.obs_buf = torch.zeros((num_envs, num_obs), device=device)
        self.rew_buf = torch.zeros(num_envs, device=device)
        self.reset_buf = torch.zeros(num_envs, device=device, dtype=torch.long)
        self.progress_buf = torch.zeros(num_envs, device=device, dtype=torch.long)
        self.extras: dict = {}
        self.closed = False
        self._odd = (torch.arange(num_envs, device=device) % 2 == 1)

    def _obs(self, actions=None):
        self.obs_buf[:, 0] = self.progress_buf.float() / self.max_episode_length
        self.obs_buf[:, 1] = torch.arange(self.num_envs, device=self.device).float() / self.num_envs
        if actions is not None and self.num_obs > 2:
            self.obs_buf[:, 2] = actions.mean(dim=-1)
        return {"obs": self.obs_buf.clone()}

    def reset(self):
        self.progress_buf.zero_()
        return self._obs()

    def step(self, actions):
        self.progress_buf += 1
        self.rew_buf.copy_(self.rewards)
        done = self.progress_buf >= self.lengths
        self.reset_buf.copy_(done.long())
        self.extras = {"time_outs": done & self._odd}
        self.progress_buf.masked_fill_(done, 0)
        return self._obs(actions), self.rew_buf.clone(), self.reset_buf.clone(), self.extras

    def render(self, *args, **kwargs):
        return "rendered"

    def close(self):
        self.closed = True


@pytest.fixture
def counting_task():
    return CountingTask


def read_scalars(run_dir) -> dict:
    """All scalars of the TensorBoard event files in ``run_dir``, read with tensorboard's own reader.

    Returns ``{tag: [(step, value), ...]}``.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture
def one_torch_thread():
    """One torch thread, restored afterwards: small networks, and no contention with the MuJoCo threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def scalars_reader():
    return read_scalars


@pytest.fixture
def host_sync_guard():
    """The host-read guard class (:mod:`host_sync`): ``with host_sync_guard() as guard: ...``."""
    return HostSyncGuard


#: every Tensor method through which Python code reads a value back to the host
HOST_READS = PYTHON_READS


def forbid_host_reads(monkeypatch, names=HOST_READS, where="step()") -> None:
    """Make each ``torch.Tensor.<name>`` raise until ``monkeypatch.undo()``."""

    def forbidden(name):
        def raiser(*args, **kwargs):
            raise AssertionError(f"torch.Tensor.{name} called during {where}")
        return raiser

    for name in names:
        monkeypatch.setattr(torch.Tensor, name, forbidden(name))


def assert_batch_matches_mj_step(env, steps: int, rand_actions, seed: int = 4) -> None:
    """Step ``env`` (an embedded MuJoCo task on the CPU, no env resetting during ``steps``) and, beside
    it, one ``MjData`` per env started from the same state with plain ``mujoco.mj_step``: qpos, qvel
    and sensordata must agree bit for bit after every step."""
    import mujoco

    m, v = env.model, env._np_views
    datas = []
    for i in range(env.num_envs):
        d = mujoco.MjData(m)
        d.time, d.qpos[:], d.qvel[:], d.qacc_warmstart[:] = v["time"][i], v["qpos"][i], v["qvel"][i], v["qacc_warmstart"][i]
        datas.append(d)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        actions = rand_actions(env, gen)
        _, _, reset, _ = env.step(actions)
        assert (reset == 0).all()
        for i, d in enumerate(datas):
            d.ctrl[:] = actions[i].double().cpu().numpy()
            for _ in range(env.substeps):
                mujoco.mj_step(m, d)
            np.testing.assert_array_equal(v["qpos"][i], d.qpos)
            np.testing.assert_array_equal(v["qvel"][i], d.qvel)
            np.testing.assert_array_equal(v["sensordata"][i], d.sensordata)
