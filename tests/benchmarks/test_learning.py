"""benchmarks/learning.py (P4): it reads the trainer's own summary lines, and times a real CLI run."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

import learning  # noqa: E402

from skrl_isaac.agents.torch.tracking import TrackingSummary  # noqa: E402
from skrl_isaac.trainers.torch import SequentialTrainer  # noqa: E402


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**9), st.floats(0.0, 1e7), st.floats(-1e6, 1e6), st.integers(1, 10**6), st.floats(1.0, 1e5))
def test_summary_lines_of_the_trainer_parse_back(step, rate, ret, n, length):
    summary = TrackingSummary({"Reward / Total reward (mean)": ret, "Episode / Total timesteps (mean)": length},
                              finished_episodes=n, timestep=step)
    point = learning.parse_summary(SequentialTrainer._summary(rate, summary) + "\n", 12.5)
    assert point is not None
    assert (point.seconds, point.timestep, point.episodes) == (12.5, step, n)
    assert point.env_steps_per_s == float(f"{rate:.0f}")
    assert point.episode_return == float(f"{ret:.2f}") and point.episode_length == float(f"{length:.0f}")


def test_a_line_without_finished_episodes_and_other_lines():
    point = learning.parse_summary(SequentialTrainer._summary(1234.0, TrackingSummary(timestep=32)), 1.0)
    assert point is not None and point.timestep == 32 and point.episode_return is None and point.episodes == 0
    assert learning.parse_summary("[skrl_isaac] task Ant (embedded MuJoCo suite), 512 envs", 1.0) is None
    assert learning.parse_summary("mean over 3 episodes: return 12.00, length 5.0", 1.0) is None


def test_summary_of_a_curve():
    def p(t, ret):
        return learning.Point(float(t), t, 1.0, ret, 0 if ret is None else 1, None if ret is None else 10.0)

    curve = [p(1, None), p(2, 5.0), p(3, 12.0), p(4, 30.0), p(5, 11.0), p(6, None)]
    s = learning.Summary.of(curve, threshold=10.0)
    assert s.reached.timestep == 3 and s.best.timestep == 4 and s.last.timestep == 5  # None points skipped
    s = learning.Summary.of(curve, threshold=31.0)
    assert s.reached is None and s.best.episode_return == 30.0
    assert learning.Summary.of([p(1, None)], 0.0) == learning.Summary(None, None, None)


def test_a_cli_run_is_timed_and_its_curve_written(tmp_path, capsys):
    curve = tmp_path / "curve.csv"
    code = learning.main(["--task", "Cartpole", "--threshold=-1e9", "--curve", str(curve), "--run-dir",
                          str(tmp_path / "run"), "--", "num_envs=64", "train.trainer.timesteps=64"])
    out = capsys.readouterr().out
    assert code == 0, out
    df = pd.read_csv(curve)
    assert list(df.columns) == learning.CURVE_COLUMNS
    assert df["timestep"].tolist() == [16, 32, 48, 64]  # CartpolePPO writes every 16 timesteps
    assert df["seconds"].is_monotonic_increasing and df["seconds"].iloc[0] > 0
    assert "first mean return >= -1e+09: " in out and "timestep 16 " in out and "meets" in out
    assert os.listdir(tmp_path / "run" / "runs")  # the experiment folder, kept under --run-dir


def test_stop_at_threshold_ends_the_run_early(tmp_path, capsys):
    code = learning.main(["--task", "Cartpole", "--threshold=-1e9", "--stop-at-threshold", "--run-dir",
                          str(tmp_path), "--", "num_envs=64", "train.trainer.timesteps=100000"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "(stopped at the threshold)" in out and "timestep 16 " in out
    assert "timestep 100000" not in out


def test_seeds_make_one_run_each_and_a_table(tmp_path, capsys):
    curve = tmp_path / "curve.csv"
    code = learning.main(["--task", "Cartpole", "--threshold=-1e9", "--seeds", "3", "4", "--curve", str(curve),
                          "--run-dir", str(tmp_path / "run"), "--", "num_envs=64", "train.trainer.timesteps=32"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "seed=3" in out and "seed=4" in out and "(2 of 2 seeds)" in out
    table = [line for line in out.splitlines() if line.strip().startswith(("3 |", "4 |"))]
    assert len(table) == 2 and all(" 16 |" in line for line in table)  # reached at the first summary line
    df = pd.read_csv(curve)
    assert list(df.columns) == ["seed"] + learning.CURVE_COLUMNS
    assert df["seed"].tolist() == [3, 3, 4, 4] and df["timestep"].tolist() == [16, 32, 16, 32]
    runs = sorted(os.listdir(tmp_path / "run" / "runs"))
    assert len(runs) == 2  # one experiment folder per seed


def test_a_run_without_summary_lines_says_why(tmp_path, capsys):
    code = learning.main(["--task", "Cartpole", "--run-dir", str(tmp_path), "--", "num_envs=16",
                          "train.trainer.timesteps=16", "write_interval=0"])
    out = capsys.readouterr().out
    assert code == 0 and "0 points" in out and "printed no summary line" in out and "NOT MET" in out


def test_a_failing_command_is_reported(tmp_path, capsys):
    code = learning.main(["--task", "NoSuchTask", "--threshold", "1", "--run-dir", str(tmp_path)])
    assert code != 0
    assert "train_isaac.py failed" in capsys.readouterr().err


def test_bad_arguments_say_what_is_valid(capsys):
    with pytest.raises(SystemExit):
        learning.main(["--task", "Humanoid"])  # no default threshold for Humanoid
    assert "pass --threshold" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        learning.main(["--task", "Ant", "--seeds", "1", "2", "--", "seed=3"])
    assert "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        learning.main(["--task", "Ant", "--oops"])
    assert "unknown options ['--oops']" in capsys.readouterr().err
