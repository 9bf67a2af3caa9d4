"""The run recorder beside the agent: the typed summary the trainer reads, and a recorder that writes no file."""

from __future__ import annotations

import os

from skrl_isaac.agents.torch.recorder import RunRecorder
from skrl_isaac.agents.torch.tracking import TrackingSummary
from skrl_isaac.trainers.torch import SequentialTrainer

from test_ppo import counting_env, make_ppo, train


def test_summaries_hand_the_trainer_what_was_written(counting_task, tmp_path, scalars_reader):
    env, lengths, rewards = counting_env(counting_task, "cpu")
    agent = make_ppo(env, "cpu", tmp_path, experiment={"write_interval": 8, "checkpoint_interval": 0})
    assert isinstance(agent.recorder, RunRecorder) and agent.experiment_dir == str(tmp_path / "exp")
    lines = []
    trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": 24, "disable_progressbar": True,
                                                            "close_environment_at_exit": False})
    trainer.print = lines.append
    trainer.train()
    summary = agent.last_summary
    assert isinstance(summary, TrackingSummary) and summary.timestep == 24 == agent.last_written_timestep
    written = {tag: dict(values)[24] for tag, values in scalars_reader(tmp_path / "exp").items()}
    assert summary.scalars.keys() == written.keys()
    assert all(abs(summary.scalars[t] - written[t]) <= 1e-6 * max(1.0, abs(written[t])) for t in written)
    # episodes of length L end every L steps: in steps 17..24, env i finishes 8 // L_i or 8 // L_i + 1 of them
    assert sum(8 // n for n in lengths) <= summary.finished_episodes <= sum(8 // n + 1 for n in lengths)
    assert len(lines) == 3 and lines[-1].startswith("timestep        24 |")
    assert f"(n={summary.finished_episodes}, len {summary.mean_length:.0f})" in lines[-1]


def test_a_recorder_that_writes_no_file_still_summarizes(counting_task, tmp_path):
    """``writes_files=False`` (the switch for processes other than rank 0): the same summaries, no folder."""
    summaries = []
    for writes in (True, False):
        env, _, _ = counting_env(counting_task, "cpu")
        agent = make_ppo(env, "cpu", tmp_path / str(writes), experiment={"write_interval": 8, "checkpoint_interval": 8,
                                                                         "best_window": 2})
        agent.recorder.writes_files = writes
        train(agent, env, 16)
        summaries.append(agent.last_summary)
    assert os.listdir(tmp_path / "True" / "exp" / "checkpoints")
    assert not (tmp_path / "False").exists()
    assert summaries[0].finished_episodes == summaries[1].finished_episodes > 0
    assert summaries[0].window_mean == summaries[1].window_mean is not None
