"""Embedded Cartpole (IsaacGymEnvs' definition on mujoco.batch): spaces, dynamics, rewards, resets, no host sync."""

from __future__ import annotations


import gymnasium
import pytest
import torch

import skrl_isaac_envs as envs
from skrl_isaac_envs.cartpole import Cartpole, CartpoleDiscrete


def make(name="Cartpole", num_envs=8, seed=0, **env_cfg):
    return envs.make(name, num_envs=num_envs, seed=seed, cfg={"env": env_cfg, "sim": {"mujoco": {"nthread": 1}}})


def test_registered_with_isaacgymenvs_config():
    assert envs.TASK_MAP["Cartpole"] is Cartpole and envs.TASK_MAP["CartpoleDiscrete"] is CartpoleDiscrete
    cfg = envs.load_task_cfg("Cartpole")
    assert cfg["env"]["maxEffort"] == 400.0 and cfg["env"]["resetDist"] == 3.0 and cfg["env"]["episodeLength"] == 500


def test_spaces():
    task = make()
    assert task.observation_space.shape == (4,) and task.num_obs == 4
    assert isinstance(task.action_space, gymnasium.spaces.Box) and task.action_space.shape == (1,)
    discrete = make("CartpoleDiscrete")
    assert isinstance(discrete.action_space, gymnasium.spaces.Discrete) and discrete.action_space.n == 2


def test_reset_state_within_isaacgymenvs_noise():
    task = make(num_envs=256)
    obs = task.reset()["obs"]
    assert obs.shape == (256, 4)
    assert float(obs[:, [0, 2]].abs().max()) <= 0.1 and float(obs[:, [1, 3]].abs().max()) <= 0.25
    assert float(obs.std(0).min()) > 0.01  # random, not all equal


def test_reward_formula_and_push_direction():
    task = make(num_envs=4)
    obs0 = task.reset()["obs"].clone()
    actions = torch.tensor([[1.0], [-1.0], [0.0], [5.0]])  # the last one is clamped to 1
    obs_dict, rew, reset, extras = task.step(actions)
    obs = task.obs_buf  # unclipped (obs_dict["obs"] is clamped to clipObservations, as IsaacGymEnvs)
    assert float(obs_dict["obs"].abs().max()) <= 5.0
    cart_pos, cart_vel, pole_angle, pole_vel = obs.unbind(1)
    expected = 1 - pole_angle**2 - 0.01 * cart_vel.abs() - 0.005 * pole_vel.abs()
    torch.testing.assert_close(rew, expected)
    dv = cart_vel - obs0[:, 1]
    assert dv[0] > 1.0 and dv[1] < -1.0 and abs(float(dv[2])) < 0.5  # 400 N pushes on a ~2 kg system
    torch.testing.assert_close(dv[3], dv[0], atol=0.2, rtol=0.05)
    assert reset.tolist() == [0, 0, 0, 0] and extras["time_outs"].tolist() == [0, 0, 0, 0]


def test_termination_reward_and_auto_reset():
    task = make(num_envs=2)
    task.reset()
    done_at, rewards = None, []
    for i in range(200):
        obs_dict, rew, reset, extras = task.step(torch.ones(2, 1))
        rewards.append(rew.clone())
        if bool(reset.all()):
            done_at = i
            break
    assert done_at is not None and done_at < 60  # full force throws the cart off the rail (or drops the pole)
    assert rewards[-1].tolist() == [-2.0, -2.0]
    assert extras["time_outs"].tolist() == [0, 0]
    obs = obs_dict["obs"]  # already the new episodes' first observations
    assert float(obs[:, [0, 2]].abs().max()) <= 0.1 and float(obs[:, [1, 3]].abs().max()) <= 0.25
    assert task.progress_buf.tolist() == [0, 0]


def test_time_out_flags():
    task = make(num_envs=3, episodeLength=5)
    task.reset()
    for _ in range(3):
        _, _, reset, extras = task.step(torch.zeros(3, 1))
        assert reset.tolist() == [0, 0, 0]
    _, _, reset, extras = task.step(torch.zeros(3, 1))
    assert reset.tolist() == [1, 1, 1] and extras["time_outs"].tolist() == [1, 1, 1]


def test_pole_falls_without_control():
    task = make(num_envs=16)
    task.reset()
    lengths = torch.zeros(16)
    alive = torch.ones(16, dtype=torch.bool)
    for _ in range(300):
        _, _, reset, _ = task.step(torch.zeros(16, 1))
        lengths += alive.float()
        alive &= ~reset.bool()
    assert not bool(alive.any()) and float(lengths.mean()) < 150


def test_discrete_actions_push_left_and_right():
    task = make("CartpoleDiscrete", num_envs=2)
    obs0 = task.reset()["obs"].clone()
    obs = task.step(torch.tensor([[0], [1]]))[0]["obs"]
    dv = obs[:, 1] - obs0[:, 1]
    assert dv[0] < 0 < dv[1]
    assert float(dv.abs().max()) < 0.5  # discreteEffort (20 N), not maxEffort


def test_seeded_resets_are_reproducible():
    a, b = make(seed=3), make(seed=3)
    torch.testing.assert_close(a.reset()["obs"], b.reset()["obs"])
    actions = torch.linspace(-1, 1, 8).view(8, 1)
    for _ in range(80):
        oa, ra, _, _ = a.step(actions)
        ob, rb, _, _ = b.step(actions)
    torch.testing.assert_close(oa["obs"], ob["obs"])
    torch.testing.assert_close(ra, rb)


@pytest.mark.parametrize("name", ["Cartpole", "CartpoleDiscrete"])
def test_step_never_syncs_with_the_host(name, host_sync_guard):
    task = make(name, num_envs=8)
    task.reset()
    actions = torch.zeros(8, 1) if name == "Cartpole" else torch.ones(8, 1, dtype=torch.long)
    with host_sync_guard() as guard:
        for _ in range(100):  # includes terminations and auto-resets
            task.step(actions)
    assert guard.violations == []


def test_rejects_bad_substeps():
    with pytest.raises(ValueError, match="substeps"):
        envs.make("Cartpole", num_envs=1, cfg={"sim": {"substeps": 0}})
