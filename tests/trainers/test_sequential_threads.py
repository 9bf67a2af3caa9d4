"""SequentialTrainer's torch thread scoping: the rollout runs on ``rollout_torch_threads``, the
agent's ``post_interaction`` (where updates happen) on the caller's thread count."""

from __future__ import annotations

import pytest
import torch

from skrl_isaac.envs.torch import wrap_env
from skrl_isaac.trainers.torch import SequentialTrainer
from tests.agents.test_ppo import make_ppo


@pytest.fixture
def caller_threads():
    saved = torch.get_num_threads()
    torch.set_num_threads(3)  # a count the rollout setting (1) and torch's default are unlikely to equal
    yield 3
    torch.set_num_threads(saved)


def record_threads(agent, seen: dict) -> None:
    for name in ("act", "record_transition", "post_interaction"):
        method = getattr(agent, name)

        def wrapped(*args, _method=method, _name=name, **kwargs):
            seen.setdefault(_name, set()).add(torch.get_num_threads())
            return _method(*args, **kwargs)

        setattr(agent, name, wrapped)


def make(counting_task, tmp_path, **trainer_cfg):
    env = wrap_env(counting_task(4, [3, 5, 4, 6], [1.0, 1.0, 1.0, 1.0]), verbose=False)
    agent = make_ppo(env, "cpu", tmp_path, rollouts=4)
    step = env.step
    seen: dict = {}

    def counted_step(actions):
        seen.setdefault("env.step", set()).add(torch.get_num_threads())
        return step(actions)

    env.step = counted_step
    record_threads(agent, seen)
    trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": 12, "disable_progressbar": True,
                                                            "close_environment_at_exit": False, **trainer_cfg})
    return trainer, seen


@pytest.mark.parametrize("rollout_threads", [1, 2])
def test_rollout_runs_on_rollout_threads_and_update_on_the_callers(counting_task, tmp_path, caller_threads,
                                                                   rollout_threads):
    trainer, seen = make(counting_task, tmp_path, rollout_torch_threads=rollout_threads)
    trainer.train()
    assert seen["act"] == seen["env.step"] == seen["record_transition"] == {rollout_threads}
    assert seen["post_interaction"] == {caller_threads}
    assert torch.get_num_threads() == caller_threads  # restored after training


def test_none_leaves_the_thread_count_alone(counting_task, tmp_path, caller_threads):
    trainer, seen = make(counting_task, tmp_path, rollout_torch_threads=None)
    trainer.train()
    assert set().union(*seen.values()) == {caller_threads}


def test_eval_runs_on_rollout_threads_and_restores(counting_task, tmp_path, caller_threads):
    trainer, seen = make(counting_task, tmp_path, rollout_torch_threads=1)
    trainer.eval()
    assert seen["env.step"] == {1}
    assert torch.get_num_threads() == caller_threads


def test_thread_count_is_restored_when_the_rollout_raises(counting_task, tmp_path, caller_threads):
    trainer, _ = make(counting_task, tmp_path, rollout_torch_threads=1)

    def broken_step(actions):
        raise RuntimeError("simulator crashed")

    trainer.env.step = broken_step
    with pytest.raises(RuntimeError, match="simulator crashed"):
        trainer.train()
    assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_rollout_threads_is_a_clear_error(counting_task, tmp_path, bad):
    with pytest.raises(ValueError, match=r"rollout_torch_threads must be None or an int >= 1, got"):
        make(counting_task, tmp_path, rollout_torch_threads=bad)
