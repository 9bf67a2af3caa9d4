"""wrap_env detection and the wrappers' contract: (N, ...) tensors on the env device, exclusive dones, one reset."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

import skrl_isaac_envs as envs
from skrl_isaac.envs.torch import (
    EmbeddedWrapper,
    GymnasiumVectorWrapper,
    IsaacGymPreview4Wrapper,
    Wrapper,
    load_embedded_env,
    wrap_env,
)


def test_embedded_task_detected_and_reset_once(device):
    task = load_embedded_env("Cartpole", num_envs=4, device=device, seed=0)
    calls = []
    original = task.reset
    task.reset = lambda: calls.append(1) or original()
    env = wrap_env(task, verbose=False)
    assert type(env) is EmbeddedWrapper and env.device == torch.device(device)
    assert env.num_envs == 4 and isinstance(env.observation_space, gymnasium.spaces.Box) and env.state_space is None
    obs, info = env.reset()
    obs_again, _ = env.reset()
    assert len(calls) == 1 and obs_again is obs  # VecTask auto-resets: the task is reset only once
    actions = torch.zeros((4, task.num_actions), device=device)
    obs, rewards, terminated, truncated, info = env.step(actions)
    assert obs.shape == (4, task.num_obs) and obs.device.type == torch.device(device).type
    assert rewards.shape == terminated.shape == truncated.shape == (4, 1)
    assert terminated.dtype == truncated.dtype == torch.bool
    assert env.reset()[0] is obs and len(calls) == 1
    assert env.render() is None  # headless pass-through
    env.close()
    assert task.batch is None


def test_counting_task_dones_are_exclusive(device, counting_task):
    task = counting_task(4, [2, 3, 2, 3], [1.0, 2.0, 3.0, 4.0], device=device)
    env = wrap_env(task, verbose=False)
    assert isinstance(env, IsaacGymPreview4Wrapper)
    env.reset()
    seen_term, seen_trunc = torch.zeros(4, dtype=torch.bool), torch.zeros(4, dtype=torch.bool)
    for _ in range(6):
        _, rewards, terminated, truncated, _ = env.step(torch.zeros((4, 2), device=device))
        assert not (terminated & truncated).any()
        torch.testing.assert_close(rewards.view(-1).cpu(), torch.tensor([1.0, 2.0, 3.0, 4.0]))
        seen_term |= terminated.view(-1).cpu()
        seen_trunc |= truncated.view(-1).cpu()
    assert seen_term.tolist() == [True, False, True, False]  # even envs terminate
    assert seen_trunc.tolist() == [False, True, False, True]  # odd envs time out
    assert env.render() == "rendered"
    env.close()
    assert task.closed


def test_wrap_env_names_supported_kinds():
    with pytest.raises(ValueError) as e:
        wrap_env(object())
    for kind in ("Isaac Gym Preview 2", "Preview 3/4", "embedded", "gymnasium.vector.VectorEnv",
                 "'isaacgym-preview2'", "'gymnasium-vector'"):
        assert kind in str(e.value)
    with pytest.raises(ValueError, match="unknown wrapper 'isaacgym-preview5'.*'isaacgym-preview4'"):
        wrap_env(object(), wrapper="isaacgym-preview5")


def test_explicit_wrapper_and_passthrough(counting_task):
    env = wrap_env(counting_task(2, [2, 2], [1.0, 1.0]), wrapper="isaacgym-preview3", verbose=False)
    assert isinstance(env, Wrapper) and wrap_env(env) is env


def test_detects_task_inside_gym_style_wrapper():
    class RecordVideo:  # gym.Wrapper-like: the task is .env
        def __init__(self, env):
            self.env = env

        def __getattr__(self, name):
            return getattr(self.env, name)

        def step(self, actions):
            return self.env.step(actions)

        def reset(self):
            return self.env.reset()

    task = envs.make("Cartpole", 2, device="cpu", seed=0)
    env = wrap_env(RecordVideo(task), verbose=False)
    assert isinstance(env, EmbeddedWrapper)
    env.reset()
    assert env.step(torch.zeros((2, 1)))[0].shape == (2, task.num_obs)


@pytest.mark.parametrize("mode", ["NEXT_STEP", "SAME_STEP", "DISABLED"])
def test_gymnasium_vector_env_same_step_autoreset(mode, device):
    vec = gymnasium.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync",
                             vector_kwargs={"autoreset_mode": getattr(gymnasium.vector.AutoresetMode, mode)})
    env = wrap_env(vec, device=device, verbose=False)
    assert isinstance(env, GymnasiumVectorWrapper) and env.autoreset_mode == mode.lower().replace("_", "-")
    assert isinstance(env.action_space, gymnasium.spaces.Discrete) and env.observation_space.shape == (4,)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 4) and obs.dtype == torch.float32 and obs.device.type == torch.device(device).type
    episodes = 0
    for _ in range(40):
        actions = torch.ones((3, 1), dtype=torch.long, device=device)  # always push right: short episodes
        obs, rewards, terminated, truncated, info = env.step(actions)
        assert rewards.shape == terminated.shape == truncated.shape == (3, 1)
        # every step is a real transition: CartPole pays 1 per step, a NEXT_STEP filler step would pay 0
        assert torch.all(rewards == 1.0)
        done = (terminated | truncated).view(-1).cpu().numpy()
        if done.any():
            episodes += int(done.sum())
            # the returned observations of finished envs already start the next episode (|x| <= 0.05 at reset)
            assert np.all(np.abs(obs.cpu().numpy()[done]) <= 0.05)
            assert "final_obs" in info
    assert episodes >= 3
    env.close()


def test_gymnasium_vector_box_actions(device):
    vec = gymnasium.make_vec("Pendulum-v1", num_envs=2, vectorization_mode="sync")
    env = wrap_env(vec, device=device, verbose=False)
    env.reset(seed=1)
    obs, rewards, terminated, truncated, _ = env.step(torch.zeros((2, 1), device=device))
    assert obs.shape == (2, 3) and rewards.shape == (2, 1) and rewards.dtype == torch.float32
