"""SequentialTrainer: a signal stops training after the current step with a checkpoint of that timestep; a
second signal exits at once; the last timestep is always checkpointed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from conftest import python_env
from skrl_isaac.envs.torch import wrap_env
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.trainers.torch.interrupt import TrainingInterrupted
from tests.agents.test_ppo import make_ppo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make(counting_task, tmp_path, timesteps, checkpoint_interval, signal_at=None, signum=signal.SIGTERM):
    env = wrap_env(counting_task(4, [3, 5, 4, 6], [1.0, 1.0, 1.0, 1.0]), verbose=False)
    agent = make_ppo(env, "cpu", tmp_path, rollouts=4,
                     experiment={"checkpoint_interval": checkpoint_interval, "checkpoint_policy_only": False,
                                 "write_interval": 4})
    step, calls = env.step, []

    def step_and_signal(actions):
        calls.append(1)
        if len(calls) == signal_at:  # as if the user pressed Ctrl-C / the scheduler sent SIGTERM mid-step
            os.kill(os.getpid(), signum)
        return step(actions)

    env.step = step_and_signal
    trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": timesteps, "disable_progressbar": True,
                                                            "close_environment_at_exit": False})
    return trainer, agent, calls


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_the_step_and_checkpoints_it(counting_task, tmp_path, signum):
    trainer, agent, calls = make(counting_task, tmp_path, timesteps=100, checkpoint_interval=8, signal_at=11,
                                 signum=signum)
    previous = signal.getsignal(signum)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.train()
    assert info.value.timestep == 11 and len(calls) == 11 and info.value.signum == signum
    assert info.value.exit_code == 128 + signum
    assert isinstance(info.value, KeyboardInterrupt)
    folder = tmp_path / "exp" / "checkpoints"
    names = ("agent", "policy", "value")
    assert sorted(os.listdir(folder)) == sorted(f"{t}_{n}.pt" for t in (8, 11) for n in names)
    assert sorted(info.value.checkpoints) == sorted(str(folder / f"11_{n}.pt") for n in names)
    assert torch.load(folder / "11_agent.pt", weights_only=True)["timestep"] == 11
    assert agent.writer is not None and agent.memory is not None
    assert signal.getsignal(signum) is previous  # the handlers are restored


def test_signal_on_a_checkpoint_step_reuses_its_files(counting_task, tmp_path):
    trainer, _, _ = make(counting_task, tmp_path, timesteps=100, checkpoint_interval=8, signal_at=8)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.train()
    assert info.value.timestep == 8 and len(info.value.checkpoints) == 3
    assert sorted(os.listdir(tmp_path / "exp" / "checkpoints")) == ["8_agent.pt", "8_policy.pt", "8_value.pt"]


def test_signal_without_checkpoints_writes_none(counting_task, tmp_path):
    trainer, _, _ = make(counting_task, tmp_path, timesteps=100, checkpoint_interval=0, signal_at=3)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.train()
    assert info.value.checkpoints == [] and not (tmp_path / "exp" / "checkpoints").exists()


def test_second_signal_exits_at_once(tmp_path):
    script = textwrap.dedent("""
        import signal, time
        from skrl_isaac.trainers.torch.interrupt import StopOnSignal

        with StopOnSignal() as stop:
            signal.raise_signal(signal.SIGINT)
            assert stop.signum == signal.SIGINT
            print("first signal noted", flush=True)
            signal.raise_signal(signal.SIGINT)
            time.sleep(30)
            print("not reached", flush=True)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=python_env(ROOT),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 130
    assert result.stdout == "first signal noted\n"
    assert "second SIGINT: exiting now" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("timesteps, interval, expected", [(10, 4, (4, 8, 10)), (8, 4, (4, 8)), (3, 4, (3,))])
def test_the_last_timestep_is_always_checkpointed(counting_task, tmp_path, timesteps, interval, expected):
    trainer, _, _ = make(counting_task, tmp_path, timesteps=timesteps, checkpoint_interval=interval)
    trainer.train()
    names = ("agent", "policy", "value")
    assert sorted(os.listdir(tmp_path / "exp" / "checkpoints")) == sorted(f"{t}_{n}.pt" for t in expected
                                                                           for n in names)
