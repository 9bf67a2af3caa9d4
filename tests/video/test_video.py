"""Headless video: mp4 files decode with the expected frames and size, frames show the robot and move."""

from __future__ import annotations

import os
import shutil

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import skrl_isaac_envs as envs
from skrl_isaac.envs.torch import wrap_env
from skrl_isaac.video import VideoRecorder, frames_per_second, render


def record(task, path, steps, width=64, height=48, num_envs=1):
    recorder = VideoRecorder(task, width, height, num_envs=num_envs)
    recorder.start(str(path))
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        task.step(torch.rand((task.num_envs, task.num_actions), generator=gen) * 2 - 1)
        recorder.capture()
    assert recorder.finish() == str(path)
    recorder.close()
    return iio.imread(path, plugin="FFMPEG")


def test_ant_video_has_one_frame_per_step_shows_the_robot_and_moves(tmp_path):
    task = envs.make("Ant", 2, seed=0)
    frames = record(task, tmp_path / "videos" / "ant.mp4", steps=12)
    assert frames.shape == (12, 48, 64, 3)
    assert frames.std() > 10  # not a blank frame
    changes = [np.abs(frames[i + 1].astype(np.int16) - frames[i]).mean() for i in range(11)]
    assert max(changes) > 0.5  # the robot moves between frames
    assert [p.name for p in (tmp_path / "videos").iterdir()] == ["ant.mp4"]  # no temp file left


def test_grid_of_envs_through_the_wrapper(tmp_path):
    env = wrap_env(envs.make("Cartpole", 4, seed=0))
    frames = record(env._env, tmp_path / "grid.mp4", steps=3, num_envs=3)
    assert frames.shape == (3, 96, 128, 3)  # 3 envs in a 2 x 2 grid
    assert frames[:, 48:, 64:].max() <= 16  # the fourth tile is empty (black, up to codec noise)
    assert VideoRecorder(env, 32, 32).task is env._env  # a wrapper is unwrapped


def test_fps_is_one_frame_per_control_step():
    task = envs.make("Cartpole", 1, seed=0, cfg={"env": {"controlFrequencyInv": 2}})
    assert frames_per_second(task) == pytest.approx(1.0 / (task.dt * 2))


def test_bad_input():
    task = envs.make("Cartpole", 2, seed=0)
    with pytest.raises(ValueError, match="video_envs=3 is not valid: expected 1 to num_envs"):
        VideoRecorder(task, 32, 32, num_envs=3)
    with pytest.raises(ValueError, match="video needs a task that hands out its MuJoCo state"):
        VideoRecorder(object(), 32, 32)


def test_finish_without_frames_writes_nothing(tmp_path):
    recorder = VideoRecorder(envs.make("Cartpole", 1, seed=0), 32, 32)
    recorder.start(str(tmp_path / "x.mp4"))
    assert recorder.finish() is None and not (tmp_path / "x.mp4").exists()


def test_no_backend_is_one_error_naming_the_packages(monkeypatch):
    monkeypatch.setattr(render, "_context_class", None)
    monkeypatch.setenv("MUJOCO_GL", "nonexistent")
    with pytest.raises(render.RenderError, match="apt-get install libegl1"):
        render.OffscreenRenderer(envs.make("Cartpole", 1, seed=0).model, 32, 32)


def test_backend_order(monkeypatch):
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    assert render.gl_backends() == ["egl", "osmesa"]
    monkeypatch.setenv("DISPLAY", ":0")
    assert render.gl_backends() == ["glfw", "egl", "osmesa"]
    monkeypatch.setenv("MUJOCO_GL", "EGL")
    assert render.gl_backends() == ["egl"]


def test_viewer_without_a_display_suggests_a_video(monkeypatch):
    from skrl_isaac.video.viewer import LiveViewer, ViewerError

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ViewerError, match="headless=False needs a display .* video=True"):
        LiveViewer(envs.make("Cartpole", 1, seed=0))


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (Debian's xvfb; .ci/run installs it)")
def test_viewer_opens_on_a_virtual_display_and_follows_env_0(tmp_path):
    import subprocess
    import sys

    read_end, write_end = os.pipe()  # Xvfb picks a free display and writes its number once it accepts clients
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x600x24"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as ready:
            display = ":" + ready.readline().strip()
        script = ("import torch, skrl_isaac_envs as envs\n"
                  "from skrl_isaac.video.viewer import LiveViewer\n"
                  "task = envs.make('Ant', 2, seed=0)\n"
                  "viewer = LiveViewer(task)\n"
                  "for _ in range(10):\n"
                  "    task.step(torch.rand(2, 8) * 2 - 1)\n"
                  "    viewer.sync()\n"
                  "assert viewer.running\n"
                  "assert (viewer._data.qpos == task.render_qpos(1)[0]).all()\n"
                  "viewer.close()\n"
                  "print('viewer ok')\n")
        proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "DISPLAY": display},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "viewer ok" in proc.stdout, proc.stderr[-2000:]
    finally:
        server.terminate()  # (SIGTERM: the server removes its lock file)
        server.wait()


def test_schedule_writes_the_expected_files_with_their_lengths(tmp_path):
    from skrl_isaac.video import VideoSchedule

    task = envs.make("Cartpole", 2, seed=0)
    uploaded = []
    schedule = VideoSchedule(VideoRecorder(task, 32, 32), str(tmp_path / "videos"), interval=10, length=4,
                             on_video=lambda path, start: uploaded.append((os.path.basename(path), start)))
    for timestep in range(23):
        task.step(torch.zeros(2, 1))
        schedule.step(timestep)
    schedule.close()  # the video started at 20 has 3 of its 4 frames: written at the end
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["0.mp4", "10.mp4", "20.mp4"]
    assert uploaded == [("0.mp4", 0), ("10.mp4", 10), ("20.mp4", 20)]
    counts = [iio.imread(tmp_path / "videos" / name, plugin="FFMPEG").shape[0] for name in ("0.mp4", "10.mp4", "20.mp4")]
    assert counts == [4, 4, 3]
    with pytest.raises(ValueError, match="video_interval=0 is not valid"):
        VideoSchedule(schedule.recorder, "x", interval=0, length=1)
