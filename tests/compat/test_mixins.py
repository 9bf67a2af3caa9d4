"""The mixins' behaviour in both calling styles, per role, and the adapter the agents call them through."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from skrl_style_models import (CategoricalPolicyInputs, CriticInputs, PolicyInputs, PolicyStates, SharedCachedInputs,
                               SharedInputs, SharedStates, ValueStates)

from skrl_isaac.models.torch import DeterministicModel
from skrl_isaac.models.torch.adapter import ModelAdapter, adapt_model, is_gaussian_policy, unwrap
from skrl_isaac.models.torch.mixins import signature_generation

OBS = gymnasium.spaces.Box(-np.inf, np.inf, (3,), dtype=np.float32)
ACT = gymnasium.spaces.Box(-0.5, 0.5, (2,), dtype=np.float32)


def test_signature_generation_is_read_from_compute_or_own_act():
    assert signature_generation(PolicyInputs(OBS, ACT, "cpu")) == "inputs"
    assert signature_generation(PolicyStates(OBS, ACT, "cpu")) == "states"
    assert signature_generation(SharedInputs(OBS, ACT, "cpu")) == "inputs"
    assert signature_generation(SharedStates(OBS, ACT, "cpu")) == "states"


@pytest.mark.parametrize("model_class", [PolicyInputs, PolicyStates])
def test_gaussian_mixin_in_both_calling_styles(model_class):
    torch.manual_seed(0)
    model = model_class(OBS, ACT, "cpu", clip_actions=True, clip_log_std=True, min_log_std=-1.0, max_log_std=-0.5,
                        reduction="sum")
    with torch.no_grad():
        model.log_std_parameter.fill_(3.0)  # clipped to max_log_std
    states = torch.randn(200, 3)
    actions, log_prob, outputs = model.act({"states": states}, role="policy")
    assert actions.shape == (200, 2) and log_prob.shape == (200, 1) and set(outputs) == {"mean_actions"}
    assert actions.abs().max() <= 0.5 and actions.abs().max() == 0.5  # clipped to the action space
    assert torch.allclose(model.get_log_std(role="policy"), torch.full((200, 2), -0.5))
    assert model.get_entropy(role="policy").shape == (200, 2)  # per dimension, as skrl
    taken = torch.zeros(200, 2)
    _, taken_log_prob, mean = model.act(states, taken, role="policy")  # skrl 0.8 style: the mean third
    assert torch.equal(mean, outputs["mean_actions"])
    expected = torch.distributions.Normal(mean, torch.tensor(-0.5).exp()).log_prob(taken).sum(-1, keepdim=True)
    assert torch.allclose(taken_log_prob, expected)


def test_reductions_and_bad_reduction():
    states = torch.randn(4, 3)
    none = PolicyInputs(OBS, ACT, "cpu", reduction="none")
    assert none.act({"states": states})[1].shape == (4, 2)
    mean = PolicyInputs(OBS, ACT, "cpu", reduction="mean")
    assert mean.act({"states": states})[1].shape == (4, 1)
    with pytest.raises(ValueError, match="reduction must be one of"):
        PolicyInputs(OBS, ACT, "cpu", reduction="max")


def test_deterministic_and_categorical_mixins():
    critic = CriticInputs(OBS, ACT, "cpu")
    q, none, outputs = critic.act({"states": torch.randn(5, 3), "taken_actions": torch.randn(5, 2)}, role="critic_1")
    assert q.shape == (5, 1) and none is None and outputs == {}
    value = ValueStates(OBS, ACT, "cpu")
    v, _, same = value.act(torch.randn(5, 3), None, "value")
    assert v.shape == (5, 1) and same is v
    policy = CategoricalPolicyInputs(OBS, gymnasium.spaces.Discrete(3), "cpu")
    actions, log_prob, outputs = policy.act({"states": torch.randn(7, 3)}, role="policy")
    assert actions.shape == (7, 1) and log_prob.shape == (7, 1) and outputs["net_output"].shape == (7, 3)
    assert policy.get_entropy(role="policy").shape == (7,)
    random_actions = policy.random_act({"states": torch.randn(7, 3)}, role="policy")[0]
    assert random_actions.shape == (7, 1) and int(random_actions.max()) < 3


def test_shared_model_settings_per_role():
    model = SharedInputs(OBS, ACT, "cpu", clip_actions=True)  # GaussianMixin role "policy", DeterministicMixin "value"
    assert model.mixin_kind("policy") == "gaussian" and model.mixin_kind("value") == "deterministic"
    states = torch.randn(50, 3) * 10
    assert model.act({"states": states}, role="policy")[0].abs().max() <= 0.5
    # skrl 1.x's Isaac Gym shared model: both mixins on the default role; the role names decide
    cached = SharedCachedInputs(OBS, ACT, "cpu")
    assert cached.mixin_kind("policy") == "gaussian" and cached.mixin_kind("value") == "deterministic"


def test_adapter_calls_the_model_in_its_role_and_leaves_the_rest_to_it():
    model = SharedCachedInputs(OBS, ACT, "cpu")
    policy, value = adapt_model(model, "policy"), adapt_model(model, "value")
    assert isinstance(policy, ModelAdapter) and unwrap(policy) is model and unwrap(value) is model
    assert is_gaussian_policy(policy) and not is_gaussian_policy(value)
    seed_model = DeterministicModel(OBS, ACT, "cpu")
    assert adapt_model(seed_model, "value") is seed_model  # the seed's models pass as they are
    # state and parameters are the user's module's
    assert policy.state_dict().keys() == model.state_dict().keys()
    assert list(policy.parameters()) == list(model.parameters())
    policy.set_mode("train")
    assert model.training
    # the seed's calling convention, skrl's semantics
    states = torch.randn(6, 3)
    actions, log_prob, mean = policy.act(states)
    assert actions.shape == (6, 2) and log_prob.shape == (6, 1) and mean.shape == (6, 2)
    assert policy.get_entropy().shape == (6, 1)
    assert torch.allclose(policy.get_entropy().mean(), model.get_entropy(role="policy").mean())
    assert torch.equal(policy.deterministic_act(states), model.act({"states": states}, "policy")[2]["mean_actions"])
    # the value of other states is computed from them, not from the cached features of the policy call
    other = torch.randn(9, 3)
    policy.act(states)
    assert torch.equal(value.act(other)[0], model.value_layer(model.net(other)))
    # the value of the same states reuses them (skrl's single forward pass)
    calls = []
    model.net.register_forward_hook(lambda *args: calls.append(1))
    policy.act(states)
    value.act(states)
    assert len(calls) == 1
    states.add_(1.0)  # modified in place: computed again
    policy.act(states)
    states.add_(1.0)
    value.act(states)
    assert len(calls) == 3
