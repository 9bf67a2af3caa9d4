"""Seeing a CLI run: training videos every video_interval timesteps, a play video, curves.png, an MLflow tracker
that mirrors the scalars and goes on after a resume, and one error line for each bad value."""

from __future__ import annotations

import imageio.v3 as iio
import pytest
from test_train_cli import run_cli

VIDEO = ["video_width=64", "video_height=48"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("watch")
    result = run_cli("task=Cartpole", "num_envs=8", "max_iterations=3", "experiment=w", "rl_device=cpu",
                     "write_interval=16", "checkpoint_interval=16", "video_interval=20", "video_length=6",
                     "tracker=mlflow", *VIDEO, cwd=cwd, env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, result


def mlflow_run(cwd, run_id):
    import os

    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # the store the CLI wrote (MLflow's file store)
    client = MlflowClient(tracking_uri=f"file://{cwd / 'runs' / 'mlruns'}")
    return client, client.get_run(run_id)


def tracker_id(stdout: str) -> str:
    line = next(line for line in stdout.splitlines() if line.startswith("[skrl_isaac] tracker mlflow: run "))
    return line.split("run ")[1].split()[0]


def test_training_writes_videos_curves_and_tracker_scalars(run):
    cwd, result = run
    folder = cwd / "runs" / "w"
    assert sorted(p.name for p in (folder / "videos").iterdir()) == ["0.mp4", "20.mp4", "40.mp4"]
    frames = iio.imread(folder / "videos" / "20.mp4", plugin="FFMPEG")
    assert frames.shape == (6, 48, 64, 3) and frames.std() > 1  # not blank
    assert (folder / "curves.png").stat().st_size > 10_000
    client, tracked = mlflow_run(cwd, tracker_id(result.stdout))
    history = client.get_metric_history(tracked.info.run_id, "Reward / Total reward mean")
    assert [m.step for m in history] == [16, 32, 48]
    assert tracked.data.params["task.name"] == "Cartpole" and tracked.data.params["num_envs"] == "8"
    assert sorted(a.path for a in client.list_artifacts(tracked.info.run_id, "videos")) == [
        "videos/0.mp4", "videos/20.mp4", "videos/40.mp4"]
    assert [a.path for a in client.list_artifacts(tracked.info.run_id, "checkpoints")] == ["checkpoints/48_agent.pt"]


def test_a_resume_continues_the_tracker_run(run):
    cwd, first = run
    result = run_cli("checkpoint=runs/w/checkpoints/48_agent.pt", "max_iterations=4", cwd=cwd,
                     env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    assert tracker_id(result.stdout) == tracker_id(first.stdout) and "(continued)" in result.stdout
    client, tracked = mlflow_run(cwd, tracker_id(first.stdout))
    history = client.get_metric_history(tracked.info.run_id, "Reward / Total reward mean")
    assert [m.step for m in history] == [16, 32, 48, 64]


def test_play_writes_one_video_named_after_the_checkpoint(run):
    cwd, _ = run
    result = run_cli("task=Cartpole", "test=True", "checkpoint=runs/w/checkpoints/32_policy.pt", "num_envs=4",
                     "video=True", "video_length=5", "video_envs=4", "test_timesteps=12", *VIDEO, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    frames = iio.imread(cwd / "runs" / "w" / "videos" / "play_32.mp4", plugin="FFMPEG")
    assert frames.shape == (5, 96, 128, 3)  # 4 envs in a 2 x 2 grid
    assert "offscreen rendering with MuJoCo's" in result.stdout


@pytest.mark.parametrize("overrides, message", [
    (["video=True"], "error: video=True records play mode (test=True checkpoint=...)"),
    (["video_interval=0"], "error: video_interval=0 is not valid: expected an integer >= 1"),
    (["video_length=abc"], "error: video_length='abc' is not valid"),
    (["tracker=neptune"], "error: tracker='neptune' is not valid: expected one of ['wandb', 'mlflow']"),
    (["headless=False", "max_iterations=1"], "error: headless=False needs a display"),
])
def test_bad_values_are_one_error_line(tmp_path, overrides, message):
    result = run_cli("task=Cartpole", "num_envs=4", *overrides, cwd=tmp_path, env={"DISPLAY": ""})
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # refused before any work
