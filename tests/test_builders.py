"""skrl_isaac/builders.py: PPO's models with a shared trunk (``models.separate: False``, rl_games' actor-critic)."""

from __future__ import annotations

import pytest
import torch

from skrl_isaac.builders import ConfigError, build_agent
from skrl_isaac.envs.torch import load_embedded_env, wrap_env

CFG = {"agent": {"class": "PPO", "rollouts": 4, "mini_batches": 1, "learning_epochs": 1,
                 "experiment": {"write_interval": 0, "checkpoint_interval": 0}},
       "models": {"separate": False, "policy": {"hiddens": [32, 16]}}}


def make(cfg: dict):
    env = wrap_env(load_embedded_env("Cartpole", num_envs=4, device="cpu", seed=0), verbose=False)
    return build_agent(cfg, env, torch.device("cpu"), "Cartpole"), env


def test_shared_trunk_is_one_set_of_parameters_trained_by_both_losses(tmp_path):
    agent, env = make({**CFG, "agent": {**CFG["agent"], "experiment": {"directory": str(tmp_path),
                                                                       "write_interval": 0, "checkpoint_interval": 0}}})
    policy, value = agent.policy, agent.value
    assert policy.net[0] is value.net[0] and policy.net[-1] is not value.net[-1]
    assert value.net[-1].out_features == 1 and policy.net[-1].out_features == 1  # Cartpole: one action
    optimized = [p for group in agent.optimizer.param_groups for p in group["params"]]
    assert len(optimized) == len({id(p) for p in optimized}) == len(
        {id(p) for p in [*policy.parameters(), *value.parameters()]})  # the trunk once
    trunk_before = policy.net[0].weight.detach().clone()
    agent.init()
    states, _ = env.reset()
    for t in range(4):
        with torch.no_grad():
            actions = agent.act(states, t, 4)[0]
        next_states, rewards, terminated, truncated, infos = env.step(actions)
        agent.record_transition(states, actions, rewards, next_states, terminated, truncated, infos, t, 4)
        agent.post_interaction(t, 4)
        states = next_states
    assert not torch.equal(policy.net[0].weight, trunk_before) and value.net[0].weight is policy.net[0].weight


def test_a_shared_trunk_with_other_value_sizes_is_one_error():
    with pytest.raises(ConfigError, match=r"models.separate=False shares the policy's hidden layers: models.value"):
        make({**CFG, "models": {**CFG["models"], "value": {"hiddens": [8]}}})
    with pytest.raises(ConfigError, match=r"models.separate='no' is not valid: expected True"):
        make({**CFG, "models": {**CFG["models"], "separate": "no"}})
