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


@pytest.mark.parametrize("task,kick,max_qvel", [("Humanoid", 400.0, None), ("Ant", 150.0, 30.0)])
def test_a_runaway_sim_ends_its_episode_with_the_death_cost(task, kick, max_qvel, device):
    """A Humanoid hinge kicked to 400 rad/s runs away within one step (|qvel| ~2000, finite: MuJoCo does not reset
    it) and its energy cost gives a reward of about -600; the task ends that episode as terminated, with the death
    cost, once any |qvel| exceeds sim.max_qvel (default 1000; the Ant case lowers it to see the same path)."""
    env = envs.make(task, 3, device=device, seed=0, cfg={"sim": {"max_qvel": max_qvel}} if max_qvel else None)
    env.reset()
    zeros = torch.zeros((3, env.num_actions), device=device)
    for _ in range(3):
        env.step(zeros)
    env._qvel_t[1, 7] = kick
    obs, rew, reset, extras = env.step(torch.ones((3, env.num_actions), device=device))
    assert reset.tolist() == [0, 1, 0] and extras["time_outs"].tolist() == [0, 0, 0]
    assert rew[1].item() == pytest.approx(env.death_cost)
    assert torch.isfinite(obs["obs"]).all() and rew.abs().max().item() < 10
    _, rew, reset, _ = env.step(zeros)  # restarted from a fresh state
    assert not reset.any() and rew.abs().max().item() < 10


def test_max_qvel_must_be_positive():
    with pytest.raises(ValueError, match=r"cfg\['sim'\]\['max_qvel'\] must be > 0, got 0.0"):
        envs.make("Ant", 2, seed=0, cfg={"sim": {"max_qvel": 0}})
