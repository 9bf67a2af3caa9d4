"""An env that MuJoCo resets by itself (unstable simulation) ends its episode as terminated."""

from __future__ import annotations

import pytest
import torch

import skrl_isaac_envs as envs


@pytest.mark.parametrize("task", ["Ant", "Humanoid"])
def test_mujoco_auto_reset_terminates_that_episode_only(task, device, capfd):
    env = envs.make(task, 4, device=device, seed=0)
    env.reset()
    zeros = torch.zeros((4, env.num_actions), device=device)
    for _ in range(5):
        _, _, reset, _ = env.step(zeros)
        assert not reset.any()
    progress = env.progress_buf.clone()
    env._qpos_t[2, 3] = float("nan")  # MuJoCo: "Nan, Inf or huge value in QPOS" -> resets sim 2's data
    obs, rew, reset, extras = env.step(zeros)
    assert "unstable" in "".join(capfd.readouterr())  # MuJoCo's own warning: the reset did happen
    assert reset.tolist() == [0, 0, 1, 0]
    assert extras["time_outs"].tolist() == [0, 0, 0, 0]  # terminated, not timed out
    assert rew[2].item() == pytest.approx(env.death_cost)
    assert env.progress_buf.tolist() == [int(p) + 1 if i != 2 else 0 for i, p in enumerate(progress.tolist())]
    assert torch.isfinite(obs["obs"]).all()
    assert env._time_t[2].item() == 0.0  # restarted by our reset (fresh random state)
    # the next steps run normally, the other envs never noticed
    for _ in range(3):
        _, _, reset, _ = env.step(zeros)
        assert not reset.any()


def test_normal_episodes_are_not_mistaken_for_simulator_resets(device):
    env = envs.make("Ant", 8, device=device, seed=1, cfg={"env": {"episodeLength": 12}})
    env.reset()
    zeros = torch.zeros((8, env.num_actions), device=device)
    timeouts = 0
    for _ in range(40):  # three episodes that end by the time limit
        _, _, reset, extras = env.step(zeros)
        assert torch.equal(reset.bool(), extras["time_outs"].bool())  # no termination at rest
        timeouts += int(reset.sum())
    assert timeouts == 8 * 3
