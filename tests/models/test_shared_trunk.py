"""skrl_isaac/models/torch/mlp.py: a trunk shared by the policy and the value runs once per minibatch."""

from __future__ import annotations

import copy
import pickle

import gymnasium
import numpy as np
import pytest
import torch

from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy, SharedTrunkMLP, share_hidden_layers

OBS = gymnasium.spaces.Box(-np.inf, np.inf, (5,))
ACT = gymnasium.spaces.Box(-1.0, 1.0, (3,))


def shared_pair(seed: int = 0, count_calls: bool = True):
    torch.manual_seed(seed)
    policy = MLPGaussianPolicy(OBS, ACT, hiddens=[16, 8])
    value = MLPDeterministic(OBS, ACT, outputs=1, hiddens=[16, 8])
    share_hidden_layers(policy, value)
    calls = []
    if count_calls:
        policy.net[0].register_forward_hook(lambda *_: calls.append(1))
    return policy, value, calls


def ppo_like_loss(policy, value, states_for_policy, states_for_value, actions):
    _, log_prob, _ = policy.act(states_for_policy, taken_actions=actions)
    values = value.act(states_for_value)[0]
    return -log_prob.mean() + values.square().mean()


def test_the_trunk_runs_once_for_both_heads_with_the_same_gradients():
    policy, value, calls = shared_pair()
    states, actions = torch.randn(32, 5), torch.rand(32, 3) * 2 - 1
    ppo_like_loss(policy, value, states, states, actions).backward()
    assert len(calls) == 1
    once = [p.grad.clone() for p in [*policy.parameters(), value.net[-1].weight, value.net[-1].bias]]

    policy.zero_grad(), value.zero_grad()
    ppo_like_loss(policy, value, states, states.clone(), actions).backward()  # another tensor: the trunk runs again
    assert len(calls) == 3
    twice = [p.grad for p in [*policy.parameters(), value.net[-1].weight, value.net[-1].bias]]
    for a, b in zip(once, twice):
        torch.testing.assert_close(a, b)


def test_without_gradients_or_after_a_change_every_call_runs_the_trunk():
    policy, value, calls = shared_pair()
    states = torch.randn(4, 5)
    with torch.no_grad():
        policy.act(states), value.act(states)
    assert len(calls) == 2
    policy.act(states)
    states.add_(1.0)  # modified in place since the policy saw it
    value.act(states)
    assert len(calls) == 4
    policy.act(states)  # the value ran the trunk on these states last: reused
    assert len(calls) == 4
    other = torch.randn(4, 5)
    policy.act(other), policy.act(other)  # the same model twice: no reuse of its own output
    assert len(calls) == 6


def test_copies_and_pickles_of_a_pair_keep_sharing_and_give_the_same_outputs():
    policy, value, _ = shared_pair(count_calls=False)
    states = torch.randn(4, 5)
    value.act(states)  # leaves an autograd output behind in the shared trunk
    assert value.net.trunk_output.output is not None
    pair = copy.deepcopy((policy, value))
    loaded = pickle.loads(pickle.dumps((policy, value)))
    for p, v in (pair, loaded):
        assert isinstance(p.net, SharedTrunkMLP) and p.net.trunk_output is v.net.trunk_output
        assert p.net.trunk_output is not policy.net.trunk_output
        torch.testing.assert_close(v.act(states)[0], value.act(states.clone())[0])
    assert list(policy.net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]


@pytest.mark.parametrize("grad", [True, False])
def test_a_slice_is_a_plain_network_of_its_own(grad):
    policy, _, _ = shared_pair()
    trunk = policy.net[:-1]
    states = torch.randn(4, 5)
    with torch.set_grad_enabled(grad):
        torch.testing.assert_close(trunk(states), policy.net[3](policy.net[2](policy.net[1](policy.net[0](states)))))
