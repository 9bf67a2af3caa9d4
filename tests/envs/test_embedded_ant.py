"""Behaviour of the embedded IsaacGymEnvs-style Ant (envs.ant.Ant on mujoco.batch)."""

import math

import mujoco
import numpy as np
import pytest
import torch
from gymnasium import spaces

import skrl_isaac_envs as envs
from skrl_isaac_envs.ant import Ant
from conftest import assert_batch_matches_mj_step, forbid_host_reads

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
TARGET = np.array([1000.0, 0.0, 0.0])


def make(n=8, device="cpu", seed=0, **env_overrides):
    cfg = {"env": env_overrides} if env_overrides else None
    return envs.make("Ant", n, device=device, seed=seed, cfg=cfg)


def rand_actions(env, gen, scale=1.0):
    return (torch.rand((env.num_envs, 8), generator=gen) * 2 - 1).mul_(scale).to(env.device)


def host_state(env):
    v = env._np_views
    return {k: v[k].copy() for k in ("qpos", "qvel", "sensordata", "qacc_warmstart", "time")}


def reference_obs_head(qpos, qvel):
    """obs[0:12] of IsaacGymEnvs' Ant from one env's MuJoCo state, in numpy."""
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, qpos[3:7])
    r = rot.reshape(3, 3)  # body -> world
    vel_loc = r.T @ qvel[0:3]
    angvel_loc = qvel[3:6]  # free joint angular velocity is in the body frame
    w, x, y, z = qpos[3:7]
    roll = math.atan2(2 * (w * x + y * z), w * w - x * x - y * y + z * z) % (2 * math.pi)
    yaw = math.atan2(2 * (w * z + x * y), w * w + x * x - y * y - z * z) % (2 * math.pi)
    to_target = TARGET - qpos[0:3]
    to_target[2] = 0.0
    heading_proj = r[:, 0] @ (to_target / np.linalg.norm(to_target))
    up_proj = r[2, 2]
    angle_to_target = math.atan2(TARGET[2] - qpos[2], TARGET[0] - qpos[0]) - yaw
    return np.concatenate([[qpos[2]], vel_loc, angvel_loc, [yaw, roll, angle_to_target, up_proj, heading_proj]])


@pytest.mark.parametrize("device", DEVICES)
def test_buffers_spaces_and_step_outputs(device):
    env = make(8, device)
    dev = torch.device(device)
    assert (env.num_envs, env.num_obs, env.num_observations, env.num_actions, env.num_states) == (8, 60, 60, 8, 0)
    assert env.max_episode_length == 1000 and env.rl_device == device and env.device.type == dev.type
    assert isinstance(env.observation_space, spaces.Box) and env.observation_space.shape == (60,)
    assert np.all(np.isinf(env.observation_space.low)) and np.all(np.isinf(env.observation_space.high))
    assert isinstance(env.action_space, spaces.Box) and env.action_space.shape == (8,)
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    assert isinstance(env.state_space, spaces.Box)

    obs_dict = env.reset()
    assert set(obs_dict) == {"obs"}
    gen = torch.Generator().manual_seed(0)
    obs_dict, rew, reset, extras = env.step(rand_actions(env, gen))
    for t, shape, dtype in [
        (obs_dict["obs"], (8, 60), torch.float32),
        (env.obs_buf, (8, 60), torch.float32),
        (env.states_buf, (8, 0), torch.float32),
        (rew, (8,), torch.float32),
        (reset, (8,), torch.long),
        (env.timeout_buf, (8,), torch.long),
        (env.progress_buf, (8,), torch.long),
        (extras["time_outs"], (8,), torch.long),
    ]:
        assert t.shape == shape and t.dtype == dtype and t.device.type == dev.type
    assert rew is env.rew_buf and reset is env.reset_buf
    # the returned observations are a fresh tensor: the next step must not change them
    kept = obs_dict["obs"]
    assert torch.equal(kept, env.obs_buf) and kept.data_ptr() != env.obs_buf.data_ptr()
    kept_copy = kept.clone()
    env.step(rand_actions(env, gen))
    assert torch.equal(kept, kept_copy) and (env.progress_buf == 2).all()
    assert torch.isfinite(obs_dict["obs"]).all()
    assert env.render() is None
    env.close()


def test_make_errors_and_render():
    with pytest.raises(ValueError, match="Ant"):
        envs.make("NoSuchTask", 4)
    for bad in (0, -3):
        with pytest.raises(ValueError, match=">= 1"):
            envs.make("Ant", bad)
    env = envs.make("Ant", 2, headless=False)
    with pytest.raises(NotImplementedError):
        env.render()
    assert "Ant" in envs.TASK_MAP and envs.TASK_MAP["Ant"] is Ant


def test_cfg_defaults_from_yaml():
    cfg = envs.load_task_cfg("Ant")
    assert cfg["name"] == "Ant" and cfg["env"]["episodeLength"] == 1000
    env = make(2, episodeLength=7, powerScale=0.5)
    assert env.max_episode_length == 7
    np.testing.assert_allclose(env.model.actuator_gear[:, 0], 7.5)
    np.testing.assert_allclose(env.model.opt.timestep * env.substeps, cfg["sim"]["dt"])


@pytest.mark.parametrize("device", DEVICES)
def test_observations_match_state_and_previous_actions(device):
    env = make(16, device, seed=3)
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        env.step(rand_actions(env, gen))
    # actions outside [-1, 1] are clamped, as the ctrlrange does
    actions = rand_actions(env, gen, scale=1.5)
    obs, _, reset, _ = env.step(actions)
    obs = obs["obs"].cpu().numpy()
    keep = reset.cpu().numpy() == 0
    assert keep.sum() >= 12
    st = host_state(env)
    np.testing.assert_array_equal(st["qpos"][:, 7:], env._np_views["qpos"][:, 7:])
    clamped = actions.clamp(-1, 1).cpu().numpy()
    np.testing.assert_array_equal(obs[keep, 52:60], clamped[keep])
    np.testing.assert_allclose(env._np_views["ctrl"], clamped.astype(np.float64), rtol=0, atol=0)
    lo, hi = env.model.jnt_range[1:, 0], env.model.jnt_range[1:, 1]
    for i in np.flatnonzero(keep):
        q, v = st["qpos"][i], st["qvel"][i]
        np.testing.assert_allclose(obs[i, :12], reference_obs_head(q, v), rtol=1e-4, atol=2e-4)
        np.testing.assert_allclose(obs[i, 12:20], (2 * q[7:] - hi - lo) / (hi - lo), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(obs[i, 20:28], 0.2 * v[6:], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(obs[i, 28:52], 0.1 * st["sensordata"][i], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_reward_matches_independent_formula(device):
    env = make(32, device, seed=5)
    gen = torch.Generator().manual_seed(2)
    checked = 0
    for _ in range(6):
        pos_before = env._np_views["qpos"][:, :3].copy()
        actions = rand_actions(env, gen)
        obs, rew, reset, _ = env.step(actions)
        obs, rew, reset = obs["obs"].cpu().double().numpy(), rew.cpu().double().numpy(), reset.cpu().numpy()
        a = actions.cpu().double().numpy()
        pos_after = env._np_views["qpos"][:, :3]
        dt = env.dt
        for i in np.flatnonzero(reset == 0):
            pot_prev = -np.linalg.norm((TARGET - pos_before[i])[:2]) / dt
            pot = -np.linalg.norm((TARGET - pos_after[i])[:2]) / dt
            up = 0.1 if obs[i, 10] > 0.93 else 0.0
            heading = 0.5 if obs[i, 11] > 0.8 else 0.5 * obs[i, 11] / 0.8
            expected = (
                (pot - pot_prev) + 0.5 + up + heading
                - 0.005 * np.sum(a[i] ** 2)
                - 0.05 * np.sum(np.abs(a[i] * obs[i, 20:28]))
                - 0.1 * np.sum(obs[i, 12:20] > 0.99)
            )
            # potentials are float32 ~ -6e4 (as in IsaacGymEnvs): 1 ulp = 4e-3
            assert rew[i] == pytest.approx(expected, abs=1e-2), i
            checked += 1
    assert checked > 150


@pytest.mark.parametrize("device", DEVICES)
def test_death_resets_with_fresh_first_observation(device):
    env = make(4, device, seed=0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        env.step(rand_actions(env, gen, 0.2))
    qpos = env._np_views["qpos"]
    qpos[1, 2] = 0.05  # torso pushed into the floor
    obs, rew, reset, extras = env.step(torch.zeros((4, 8), device=device))
    assert rew[1].item() == -2.0
    assert reset[1].item() == 1 and extras["time_outs"][1].item() == 0
    assert env.progress_buf[1].item() == 0 and env.progress_buf[0].item() == 4
    first = obs["obs"][1].cpu()
    assert first[0].item() == pytest.approx(0.55, abs=1e-6)  # initial torso height
    assert torch.all(first[1:7] == 0) and torch.all(first[20:28].abs() <= 0.02 + 1e-6)
    assert torch.all(first[28:60] == 0)  # no sensor reading yet, no previous action
    assert first[10].item() == pytest.approx(1.0) and first[11].item() == pytest.approx(1.0)
    # the simulator state was reset: root at its initial pose at rest, dofs in range
    q, v = env._np_views["qpos"][1], env._np_views["qvel"][1]
    np.testing.assert_allclose(q[:7], env.model.qpos0[:7])
    assert np.all(v[:6] == 0) and np.all(np.abs(v[6:]) <= 0.1 + 1e-6)
    lo, hi = env.model.jnt_range[1:, 0], env.model.jnt_range[1:, 1]
    assert np.all(q[7:] >= lo - 1e-6) and np.all(q[7:] <= hi + 1e-6)
    assert np.all(env._np_views["qacc_warmstart"][1] == 0) and env._np_views["time"][1] == 0
    # potentials restart: the next step's progress reward is small again
    _, rew, reset, _ = env.step(torch.zeros((4, 8), device=device))
    assert reset[1].item() == 0 and abs(rew[1].item()) < 5.0


@pytest.mark.parametrize("device", DEVICES)
def test_time_out(device):
    env = make(4, device, seed=0, episodeLength=5)
    zeros = torch.zeros((4, 8), device=device)
    for k in range(1, 4):
        _, _, reset, extras = env.step(zeros)
        assert (reset == 0).all() and (extras["time_outs"] == 0).all()
        assert (env.progress_buf == k).all()
    _, rew, reset, extras = env.step(zeros)  # progress reaches episodeLength - 1
    assert (reset == 1).all() and (extras["time_outs"] == 1).all() and (rew > -2).all()
    assert (env.progress_buf == 0).all()
    _, _, reset, extras = env.step(zeros)
    assert (reset == 0).all() and (extras["time_outs"] == 0).all() and (env.progress_buf == 1).all()


def rollout(seed, steps=40, device="cpu", n=6, block=True):
    env = make(n, device, seed=seed, episodeLength=15)
    if not block:
        env._block_t = None  # per-field views instead of the state-row block
    env.reset()
    gen = torch.Generator().manual_seed(99)
    obs = [env.obs_buf.clone()]
    rews = []
    for _ in range(steps):
        o, r, _, _ = env.step(rand_actions(env, gen))
        obs.append(o["obs"].clone())
        rews.append(r.clone())
    return torch.stack(obs), torch.stack(rews)


@pytest.mark.parametrize("device", DEVICES)
def test_seeding(device):
    o1, r1 = rollout(7, device=device)
    o2, r2 = rollout(7, device=device)
    o3, _ = rollout(8, device=device)
    assert torch.equal(o1, o2) and torch.equal(r1, r2)
    assert not torch.equal(o1[0], o3[0])


def test_state_block_and_per_field_paths_agree():
    o1, r1 = rollout(11, steps=30)
    o2, r2 = rollout(11, steps=30, block=False)
    assert torch.equal(o1, o2) and torch.equal(r1, r2)


def test_batched_stepping_equals_per_env_mj_step():
    assert_batch_matches_mj_step(make(4, "cpu", seed=1), 5, rand_actions)




@pytest.mark.parametrize("device", DEVICES)
def test_step_never_syncs_through_python(device, monkeypatch):
    env = make(8, device, seed=0, episodeLength=10)
    gen = torch.Generator(device=device).manual_seed(0)
    actions = [torch.rand((8, 8), generator=gen, device=device) * 2 - 1 for _ in range(50)]

    forbid_host_reads(monkeypatch)
    resets = []
    for k in range(50):
        if k == 23:
            env._np_views["qpos"][3, 2] = 0.05  # a death among the time-outs (numpy, not a tensor)
        _, _, reset, _ = env.step(actions[k])
        resets.append(reset.clone())
    env.reset()
    monkeypatch.undo()
    resets = torch.stack(resets)
    assert resets.sum().item() >= 8 * 5  # time-outs every 9 steps
    assert resets[23, 3].item() == 1


def test_yaw_and_roll_wrap_as_remainder_bit_for_bit():
    """obs[7:9] wraps atan2 into [0, 2 pi) with a compare and a masked add: the same float32 values as
    ``remainder(2 pi)``, checked on tumbling ants and on the edge angles (-0, tiny negatives, -pi, pi)."""
    env = make(64, seed=3)
    gen = torch.Generator().manual_seed(4)
    for _ in range(30):
        env.step(rand_actions(env, gen, scale=3.0))
        expected = torch.atan2(env._X_num, env._X_den).remainder(2.0 * math.pi)
        assert torch.equal(env._r_ang, expected)
    edges = torch.tensor([-0.0, 0.0, -1e-30, -1e-7, -math.pi, math.pi, -3.1415925, 1e-7], dtype=torch.float32)
    wrapped = edges.clone()
    wrapped.add_(torch.lt(edges, 0.0), alpha=2.0 * math.pi)
    assert torch.equal(wrapped, edges.remainder(2.0 * math.pi))
