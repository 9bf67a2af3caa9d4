"""Isaac Gym Preview 2/3/4 loaders against test packages laid out like Isaac Gym / rlgpu / IsaacGymEnvs."""

from __future__ import annotations

import os
import sys

import gymnasium
import numpy as np
import pytest
import torch

import skrl_isaac_envs as envs
import fake_isaacgym
from skrl_isaac.envs.torch import (
    IsaacGymPreview2Wrapper,
    IsaacGymPreview4Wrapper,
    isaacgymenvs_available,
    load_isaacgym_env_preview2,
    load_isaacgym_env_preview3,
    load_isaacgym_env_preview4,
    load_isaacgymenvs_env,
    wrap_env,
)

CPU = ["sim_device=cpu", "rl_device=cpu", "pipeline=cpu"]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    fake_isaacgym.unload()
    paths = fake_isaacgym.build(tmp_path, import_order_check=False)  # this process imported torch long ago
    monkeypatch.syspath_prepend(paths["python"])
    monkeypatch.syspath_prepend(paths["repo"])
    monkeypatch.setattr(sys, "argv", ["train.py"])
    yield paths
    fake_isaacgym.unload()


@pytest.fixture
def no_isaacgym(monkeypatch):
    fake_isaacgym.unload()
    for name in ("isaacgym", "isaacgymenvs"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    yield
    fake_isaacgym.unload()


def test_missing_isaacgym_says_what_to_install(no_isaacgym):
    assert not isaacgymenvs_available()
    for loader in (load_isaacgym_env_preview2, load_isaacgym_env_preview3, load_isaacgym_env_preview4):
        with pytest.raises(ImportError, match=r"Isaac Gym Preview 4 from NVIDIA's developer site.*pip install -e"):
            loader("Ant", show_cfg=False)
    with pytest.raises(ImportError, match="developer.nvidia.com/isaac-gym"):
        load_isaacgymenvs_env("Ant", 2)


def test_missing_isaacgymenvs_says_what_to_install(tmp_path, monkeypatch):
    fake_isaacgym.unload()
    paths = fake_isaacgym.build(tmp_path, import_order_check=False)
    monkeypatch.syspath_prepend(paths["python"])  # isaacgym only
    monkeypatch.setitem(sys.modules, "isaacgymenvs", None)
    try:
        assert not isaacgymenvs_available()
        with pytest.raises(ImportError, match=r"github.com/isaac-sim/IsaacGymEnvs.*pip install -e \."):
            load_isaacgym_env_preview4("Ant", show_cfg=False)
    finally:
        fake_isaacgym.unload()


def test_preview4_counting_with_states(fake, device):
    assert isaacgymenvs_available()
    task = load_isaacgym_env_preview4("Counting", num_envs=6, headless=True, show_cfg=False,
                                      cli_args=["sim_device=cpu", f"rl_device={device}", "pipeline=cpu"])
    assert type(task).__module__ == "isaacgymenvs.tasks.counting" and task.num_envs == 6
    assert task.cfg["env"]["asymmetric"] is True and task.cfg["sim"]["use_gpu_pipeline"] is False  # resolvers ran
    env = wrap_env(task, verbose=False)
    assert type(env) is IsaacGymPreview4Wrapper
    assert env.state_space == gymnasium.spaces.Box(-float("inf"), float("inf"), (2,))
    obs, info = env.reset()
    assert obs.device.type == torch.device(device).type and info["states"].shape == (6, 2)
    terminated_at, truncated_at = {}, {}
    for step in range(1, 7):
        obs, rewards, terminated, truncated, info = env.step(torch.ones((6, 2), device=device))
        torch.testing.assert_close(rewards.view(-1).cpu(), torch.arange(1.0, 7.0))
        torch.testing.assert_close(obs[:, 2].cpu(), torch.full((6,), 2.0))
        torch.testing.assert_close(info["states"], env.states)
        torch.testing.assert_close(env.states[:, 0], obs[:, 0] * 10.0)
        for i in range(6):
            if terminated[i]:
                terminated_at.setdefault(i, step)
            if truncated[i]:
                truncated_at.setdefault(i, step)
    # the first step is the reset's zero-action step: even envs terminate at progress 3, odd ones time out at 5
    assert set(terminated_at) == {0, 2, 4} and set(truncated_at) == {1, 3, 5}
    assert all(v == 2 for v in terminated_at.values()) and all(v == 4 for v in truncated_at.values())
    assert task.render_calls == 7  # force_render (IsaacGymEnvs' default): every step renders, the reset's too
    env.render()
    env.close()
    assert task.render_calls == 8 and task.closed


def test_preview3_command_line_wins_and_argv_restored(fake, monkeypatch, caplog):
    argv = ["train.py", "task=Counting", "num_envs=3", "--some-flag"]
    monkeypatch.setattr(sys, "argv", list(argv))
    cwd = os.getcwd()
    task = load_isaacgym_env_preview3("Ant", num_envs=8, cli_args=CPU + ["task.env.episodeLength=9"], show_cfg=True)
    assert type(task).__name__ == "Counting" and task.num_envs == 3 and task.max_episode_length == 9
    assert "Overriding task (Ant)" in caplog.text and "Overriding num_envs" in caplog.text
    assert sys.argv == argv and os.getcwd() == cwd


def test_no_task_name_and_unknown_task(fake):
    with pytest.raises(ValueError, match="No task name defined"):
        load_isaacgym_env_preview4(show_cfg=False)
    with pytest.raises(Exception, match="Humanoid"):
        load_isaacgym_env_preview4("Humanoid", cli_args=CPU, show_cfg=False)


def test_isaacgymenvs_ant_delegates_to_embedded_physics(fake):
    task = load_isaacgymenvs_env("Ant", num_envs=2, headless=True, sim_device="cpu", rl_device="cpu", seed=3,
                                 overrides=["task.env.episodeLength=50"])
    assert type(task).__module__ == "isaacgymenvs.tasks.ant" and task.cfg["seed"] == 3
    env = wrap_env(task, verbose=False)
    assert isinstance(env, IsaacGymPreview4Wrapper) and env.state_space is None
    reference = envs.make("Ant", 2, device="cpu", seed=3, cfg={"env": {"episodeLength": 50}})
    obs, _ = env.reset()
    ref_obs = reference.step(torch.zeros((2, 8)))[0]["obs"]  # VecTask.reset = one zero-action step
    torch.testing.assert_close(obs, ref_obs.clamp(-5, 5))
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        actions = torch.rand((2, 8), generator=gen) * 2 - 1
        obs, rewards, terminated, truncated, _ = env.step(actions)
        ref_obs, ref_rew, ref_reset, ref_extras = reference.step(actions)
        torch.testing.assert_close(obs, ref_obs["obs"].clamp(-5, 5))
        torch.testing.assert_close(rewards.view(-1), ref_rew)
        torch.testing.assert_close((terminated | truncated).view(-1), ref_reset.bool())


def test_isaacgymenvs_task_seed_is_seed_plus_rank_under_torchrun(fake, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    task = load_isaacgymenvs_env("Ant", num_envs=2, sim_device="cpu", rl_device="cpu", seed=3)
    assert task.cfg["seed"] == 4  # rank 1 of seed 3: as IsaacGymEnvs' own multi-GPU training
    reference = envs.make("Ant", 2, device="cpu", seed=4)
    torch.testing.assert_close(task.reset()["obs"], reference.step(torch.zeros((2, 8)))[0]["obs"].clamp(-5, 5))


def test_virtual_screen_capture_frames_through_the_video_recorder(fake, tmp_path):
    """IsaacGymEnvs' capture_video: the viewer opens on the virtual display and render() returns its image."""
    import imageio.v3 as iio

    from skrl_isaac.video import VideoRecorder

    task = load_isaacgymenvs_env("Ant", num_envs=2, headless=False, sim_device="cpu", rl_device="cpu", seed=0,
                                 overrides=["capture_video=True", "force_render=False"])
    env = wrap_env(task, verbose=False)
    env.reset()
    recorder = VideoRecorder(env, 80, 60)
    assert recorder.task is task and recorder.fps == pytest.approx(1.0 / task.dt)
    recorder.start(str(tmp_path / "ige.mp4"))
    gen = torch.Generator().manual_seed(0)
    for _ in range(6):
        env.step(torch.rand((2, 8), generator=gen) * 2 - 1)
        recorder.capture()
    recorder.close()
    frames = iio.imread(tmp_path / "ige.mp4", plugin="FFMPEG")
    assert frames.shape == (6, 60, 80, 3)  # the 64x48 screen scaled to the video's size
    assert frames.std() > 10 and np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1


def test_a_task_without_an_image_is_one_error(fake):
    from skrl_isaac.video import VideoRecorder

    task = load_isaacgymenvs_env("Ant", num_envs=2, headless=True, sim_device="cpu", rl_device="cpu")
    with pytest.raises(ValueError, match=r"Ant.render\(mode='rgb_array'\) returned no image: .*capture_video=True"):
        VideoRecorder(task, 32, 32)
    with pytest.raises(ValueError, match="video_envs=2 is not valid for Ant"):
        VideoRecorder(task, 32, 32, num_envs=2)


def test_load_isaacgymenvs_env_keeps_a_running_hydra_app(fake, tmp_path):
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "config.yaml").write_text("a: 1\n")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(tmp_path / "app"), version_base=None):
        running = GlobalHydra.instance().hydra
        task = load_isaacgymenvs_env("Counting", num_envs=2, sim_device="cpu", rl_device="cpu")
        assert GlobalHydra.instance().hydra is running and task.num_envs == 2


def test_isaacgymenvs_make_task_detected(fake):
    import isaacgymenvs

    task = isaacgymenvs.make(seed=0, task="Counting", num_envs=4, sim_device="cpu", rl_device="cpu", headless=True)
    env = wrap_env(task, verbose=False)
    assert isinstance(env, IsaacGymPreview4Wrapper)
    obs, _ = env.reset()
    assert obs.shape == (4, 3)


def test_preview2_rlgpu(fake, monkeypatch, device):
    monkeypatch.setattr(sys, "argv", ["train.py"])
    cwd = os.getcwd()
    env_task = load_isaacgym_env_preview2("Counting", num_envs=4, headless=True, show_cfg=False,
                                          cli_args=["--sim_device", "cpu", "--rl_device", device])
    assert type(env_task).__name__ == "VecTaskPython" and env_task.task.headless is True
    assert sys.argv == ["train.py"] and os.getcwd() == cwd
    env = wrap_env(env_task, verbose=False)
    assert type(env) is IsaacGymPreview2Wrapper and env.num_envs == 4
    assert isinstance(env.observation_space, gymnasium.spaces.Box) and env.observation_space.shape == (3,)
    assert env.state_space.shape == (2,)  # the rlgpu task's gym-style Box, converted
    obs, info = env.reset()
    assert obs.shape == (4, 3) and obs.device.type == torch.device(device).type and "states" in info
    dones = []
    for _ in range(5):
        obs, rewards, terminated, truncated, info = env.step(torch.zeros((4, 2), device=device))
        torch.testing.assert_close(rewards.view(-1).cpu(), torch.tensor([0.5, 1.0, 1.5, 2.0]))
        assert not truncated.any()  # Preview 2 has no time_outs: every reset is a termination
        dones.append(bool(terminated.all()))
        torch.testing.assert_close(env.states[:, 0], (obs[:, 0] * 10.0).clamp(max=5.0))
    assert dones == [False, False, True, False, False]  # episodeLength 4, the reset step counts as the first
    assert env.render() == "rendered"
    env.close()
    assert env_task.task.closed


def test_preview2_command_line_task_wins(fake, monkeypatch, caplog):
    monkeypatch.setattr(sys, "argv", ["train.py", "--task", "Counting", "--sim_device", "cpu"])
    env_task = load_isaacgym_env_preview2("Ant", num_envs=2, show_cfg=False)
    assert env_task.num_envs == 2 and "Overriding task (Ant)" in caplog.text
    monkeypatch.setattr(sys, "argv", ["train.py"])
    with pytest.raises(ValueError, match="No task name defined"):
        load_isaacgym_env_preview2(show_cfg=False)


def test_torch_imported_first_is_refused_with_the_fix(tmp_path, monkeypatch):
    """The double refuses a process that imported torch first, as real isaacgym's gymdeps does; the loaders say
    what to do."""
    fake_isaacgym.unload()
    paths = fake_isaacgym.build(tmp_path)
    monkeypatch.syspath_prepend(paths["python"])
    monkeypatch.syspath_prepend(paths["repo"])
    try:
        for loader in (load_isaacgym_env_preview2, load_isaacgym_env_preview4):
            with pytest.raises(ImportError) as info:
                loader("Counting", show_cfg=False)
            assert str(info.value) == ("PyTorch was imported before isaacgym modules.  Please import torch after "
                                       "isaacgym modules. -- import isaacgym before torch and skrl_isaac: put "
                                       "`import isaacgym` at the top of your script")
    finally:
        fake_isaacgym.unload()


def test_preview3_constructor_without_rl_device(fake):
    task = load_isaacgym_env_preview3("CountingPreview3", num_envs=4, show_cfg=False, cli_args=CPU)
    assert type(task).__name__ == "CountingPreview3" and task.rl_device == "cpu"
    env = wrap_env(task, verbose=False)
    obs, _ = env.reset()
    assert obs.device.type == "cpu" and obs.shape == (4, 3)
    assert task.render_calls == 0  # Preview 3's constructor takes no force_render


def test_preview4_gym_spaces_become_gymnasium_spaces(fake):
    task = load_isaacgym_env_preview4("Counting", num_envs=2, show_cfg=False, cli_args=CPU + ["force_render=False"])
    assert type(task.observation_space).__module__ == "gym.spaces"  # gym 0.23's Box, as Preview 4 ships
    env = wrap_env(task, verbose=False)
    assert env.observation_space == gymnasium.spaces.Box(-float("inf"), float("inf"), (3,))
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (2,))
    env.reset()
    env.step(torch.zeros((2, 2)))
    assert task.render_calls == 0  # force_render=False: step does not render
