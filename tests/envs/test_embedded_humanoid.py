"""Behaviour of the embedded IsaacGymEnvs-style Humanoid (envs.humanoid.Humanoid on mujoco.batch)."""

import math

import mujoco
import numpy as np
import pytest
import torch
from gymnasium import spaces

import skrl_isaac_envs as envs
from skrl_isaac_envs.humanoid import Humanoid
from conftest import assert_batch_matches_mj_step, forbid_host_reads

TARGET = np.array([1000.0, 0.0, 0.0])
EFFORTS = np.array([67.5] * 3 + [45, 45, 135, 90, 22.5, 22.5] * 2 + [67.5, 67.5, 45] * 2)


def make(n=8, seed=0, device="cpu", **env_overrides):
    cfg = {"env": env_overrides} if env_overrides else None
    return envs.make("Humanoid", n, device=device, seed=seed, cfg=cfg)


def rand_actions(env, gen, scale=1.0):
    """Uniform actions in [-scale, scale] from a CPU generator, on the env's device."""
    return (torch.rand((env.num_envs, 21), generator=gen) * 2 - 1).mul_(scale).to(env.device)


def wrap(a):
    return math.atan2(math.sin(a), math.cos(a))


def reference_obs_head(qpos, qvel):
    """obs[0:12] of IsaacGymEnvs' Humanoid from one env's MuJoCo state, in numpy."""
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, qpos[3:7])
    r = rot.reshape(3, 3)  # body -> world
    w, x, y, z = qpos[3:7]
    roll = math.atan2(2 * (w * x + y * z), w * w - x * x - y * y + z * z) % (2 * math.pi)
    yaw = math.atan2(2 * (w * z + x * y), w * w + x * x - y * y - z * z) % (2 * math.pi)
    to_target = TARGET - qpos[0:3]
    to_target[2] = 0.0
    heading_proj = r[:, 0] @ (to_target / np.linalg.norm(to_target))
    att = math.atan2(TARGET[2] - qpos[2], TARGET[0] - qpos[0]) - yaw
    return np.concatenate([[qpos[2]], r.T @ qvel[0:3], 0.25 * qvel[3:6],
                           [wrap(yaw), wrap(roll), wrap(att), r[2, 2], heading_proj]])


def test_spaces_registration_and_config():
    assert envs.TASK_MAP["Humanoid"] is Humanoid
    cfg = envs.load_task_cfg("Humanoid")
    assert cfg["name"] == "Humanoid" and cfg["env"]["terminationHeight"] == 0.8 and cfg["env"]["deathCost"] == -1.0
    env = make(4)
    assert (env.num_obs, env.num_actions, env.num_states, env.max_episode_length) == (108, 21, 0, 1000)
    assert isinstance(env.observation_space, spaces.Box) and env.observation_space.shape == (108,)
    assert env.action_space.shape == (21,) and np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    np.testing.assert_allclose(env.model.actuator_gear[:, 0], EFFORTS)
    np.testing.assert_allclose(env.model.opt.timestep * env.substeps, 0.0166)
    obs, rew, reset, extras = env.step(torch.zeros(4, 21))
    assert obs["obs"].shape == (4, 108) and obs["obs"].dtype == torch.float32
    assert rew.shape == (4,) and reset.dtype == torch.long and extras["time_outs"].shape == (4,)
    assert make(2, powerScale=0.5).model.actuator_gear[0, 0] == 33.75


def test_observations_match_state(device):
    env = make(16, seed=3, device=device)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        env.step(rand_actions(env, gen, 0.5))
    actions = rand_actions(env, gen, scale=1.5)  # clamped to [-1, 1]
    obs, _, reset, _ = env.step(actions)
    obs, keep = obs["obs"].double().cpu().numpy(), reset.cpu().numpy() == 0
    assert keep.sum() >= 8
    v = env._np_views
    a = actions.clamp(-1, 1).double().cpu().numpy()
    lo, hi = env.model.jnt_range[1:, 0], env.model.jnt_range[1:, 1]
    for i in np.flatnonzero(keep):
        q, qd, s = v["qpos"][i], v["qvel"][i], v["sensordata"][i]
        np.testing.assert_allclose(obs[i, :12], reference_obs_head(q, qd), rtol=1e-4, atol=2e-4)
        np.testing.assert_allclose(obs[i, 12:33], (2 * q[7:] - hi - lo) / (hi - lo), atol=1e-5)
        np.testing.assert_allclose(obs[i, 33:54], 0.1 * qd[6:], rtol=1e-5, atol=1e-5)
        # DOF force = motor torque (effort * action) + joint-limit torque
        np.testing.assert_allclose(s[:21], EFFORTS * a[i], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(obs[i, 54:75], 0.01 * (s[:21] + s[21:42]), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(obs[i, 75:87], 0.01 * s[42:54], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(obs[i, 87:108], a[i].astype(np.float32))


def test_reward_matches_independent_formula(device):
    env = make(24, seed=5, device=device)
    gen = torch.Generator().manual_seed(2)
    ratio = EFFORTS / EFFORTS.max()
    checked = 0
    for _ in range(8):
        pos_before = env._np_views["qpos"][:, :3].copy()
        actions = rand_actions(env, gen)
        obs, rew, reset, _ = env.step(actions)
        obs, rew, reset = (t.double().cpu().numpy() for t in (obs["obs"], rew, reset))
        a = actions.double().cpu().numpy()
        pos_after = env._np_views["qpos"][:, :3]
        for i in np.flatnonzero(reset == 0):
            pot_prev = -np.linalg.norm((TARGET - pos_before[i])[:2]) / env.dt
            pot = -np.linalg.norm((TARGET - pos_after[i])[:2]) / env.dt
            up = 0.1 if obs[i, 10] > 0.93 else 0.0
            heading = 0.5 if obs[i, 11] > 0.8 else 0.5 * obs[i, 11] / 0.8
            dp = np.abs(obs[i, 12:33])
            at_limit = np.sum((dp > 0.98) * 0.25 * (dp - 0.98) / 0.02 * ratio)
            electricity = np.sum(np.abs(a[i] * obs[i, 33:54]) * ratio)  # effort ratio, as IsaacGymEnvs
            expected = (pot - pot_prev) + 2.0 + up + heading - 0.01 * np.sum(a[i] ** 2) - 0.05 * electricity - at_limit
            assert rew[i] == pytest.approx(expected, abs=1e-2), i  # float32 potentials ~ -6e4
            checked += 1
    assert checked > 100


def test_death_resets_with_fresh_first_observation(device):
    env = make(4, seed=0, device=device)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        env.step(rand_actions(env, gen, 0.2))
    env._np_views["qpos"][1, 2] = 0.5  # torso below terminationHeight 0.8
    obs, rew, reset, extras = env.step(torch.zeros((4, 21), device=device))
    assert rew[1].item() == -1.0 and reset[1].item() == 1 and extras["time_outs"][1].item() == 0
    assert reset[0].item() == 0 and env.progress_buf[1].item() == 0 and env.progress_buf[0].item() == 4
    first = obs["obs"][1]
    assert first[0].item() == pytest.approx(1.34, abs=1e-6)
    assert torch.all(first[1:7] == 0) and torch.all(first[33:54].abs() <= 0.01 + 1e-6)
    assert torch.all(first[54:108] == 0)  # no DOF force / sensor reading yet, no previous action
    assert first[10].item() == pytest.approx(1.0) and first[11].item() == pytest.approx(1.0)
    q, v = env._np_views["qpos"][1], env._np_views["qvel"][1]
    np.testing.assert_allclose(q[:7], env.model.qpos0[:7])
    assert np.all(v[:6] == 0) and np.all(np.abs(v[6:]) <= 0.1 + 1e-6)
    lo, hi = env.model.jnt_range[1:, 0], env.model.jnt_range[1:, 1]
    assert np.all(q[7:] >= lo - 1e-6) and np.all(q[7:] <= hi + 1e-6) and np.abs(q[7:]).max() <= 0.2 + 1e-6
    assert env._np_views["time"][1] == 0 and np.all(env._np_views["qacc_warmstart"][1] == 0)
    _, rew, reset, _ = env.step(torch.zeros((4, 21), device=device))
    assert reset[1].item() == 0 and abs(rew[1].item()) < 5.0


def test_time_out(device):
    env = make(3, seed=0, device=device, episodeLength=4)
    zeros = torch.zeros((3, 21), device=device)
    for k in (1, 2):
        _, _, reset, extras = env.step(zeros)
        assert (reset == 0).all() and (extras["time_outs"] == 0).all() and (env.progress_buf == k).all()
    _, rew, reset, extras = env.step(zeros)
    assert (reset == 1).all() and (extras["time_outs"] == 1).all() and (rew > -1).all()
    assert (env.progress_buf == 0).all()


def rollout(seed, steps=20, block=True, device="cpu"):
    env = make(4, seed=seed, device=device, episodeLength=8)
    if not block:
        env._block_t = None
    env.reset()
    gen = torch.Generator().manual_seed(99)
    obs, rews = [env.obs_buf.clone()], []
    for _ in range(steps):
        o, r, _, _ = env.step(rand_actions(env, gen))
        obs.append(o["obs"].clone())
        rews.append(r.clone())
    return torch.stack(obs), torch.stack(rews)


def test_seeding_and_state_paths(device):
    o1, r1 = rollout(7, device=device)
    o2, r2 = rollout(7, block=False, device=device)
    o3, _ = rollout(8, device=device)
    assert torch.equal(o1, o2) and torch.equal(r1, r2)
    assert not torch.equal(o1[0], o3[0])


def test_batched_stepping_equals_per_env_mj_step():
    assert_batch_matches_mj_step(make(3, seed=1), 4, rand_actions)


def test_step_never_syncs_through_python(monkeypatch, device):
    env = make(6, seed=0, device=device, episodeLength=8)
    gen = torch.Generator().manual_seed(0)
    actions = [rand_actions(env, gen) for _ in range(30)]

    forbid_host_reads(monkeypatch)
    resets = []
    for k in range(30):
        if k == 11:
            env._np_views["qpos"][2, 2] = 0.3  # a death among the time-outs (numpy, not a tensor)
        _, _, reset, _ = env.step(actions[k])
        resets.append(reset.clone())
    env.reset()
    monkeypatch.undo()
    resets = torch.stack(resets)
    assert resets[11, 2].item() == 1
    assert resets.sum().item() >= 6 * 3
