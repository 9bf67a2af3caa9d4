"""VecTask's scoped torch threads (``sim.mujoco.step_torch_threads``) cover all of ``step``/``reset``."""

from __future__ import annotations

import pytest
import torch

import skrl_isaac_envs as envs


@pytest.mark.parametrize("task", ["Ant", "Cartpole"])
def test_step_and_reset_run_every_torch_op_on_the_scoped_threads(task):
    """The observations' clone (``_make_obs_dict``) runs inside the scope too: at 1024 Ant envs it is a
    61440-value copy, an OpenMP parallel region whose spinning worker slowed the next physics step by
    ~40% when torch kept its default 2 threads (measured: 16-17 ms against 11-12 ms per step)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(3)  # a count the scope (1) is unlikely to equal
    try:
        env = envs.make(task, 4, device="cpu", seed=0, cfg={"sim": {"mujoco": {"step_torch_threads": 1}}})
        seen = []
        inner = env._make_obs_dict
        env._make_obs_dict = lambda: seen.append(torch.get_num_threads()) or inner()
        obs, *_ = env.step(torch.zeros((4, env.num_actions)))
        assert torch.get_num_threads() == 3
        first = env.reset()
        assert torch.get_num_threads() == 3
        assert seen == [1, 1]
        assert obs["obs"].shape == first["obs"].shape == (4, env.num_obs)
    finally:
        torch.set_num_threads(saved)
