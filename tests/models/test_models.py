"""Models: act outputs, save/load of plain state_dicts, clear errors for wrong checkpoints."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from skrl_isaac.models.torch import CategoricalModel, CheckpointError, DeterministicModel, GaussianModel
from skrl_isaac.models.torch.mlp import MLPCategoricalPolicy, MLPDeterministic, MLPGaussianPolicy


def box(n, low=-np.inf, high=np.inf):
    return gymnasium.spaces.Box(low, high, (n,), dtype=np.float32)


class Policy(DeterministicModel):
    def __init__(self, observation_space, action_space, device, clip_actions=False, hidden=32):
        super().__init__(observation_space, action_space, device, clip_actions)
        self.net = nn.Sequential(nn.Linear(self.num_observations, hidden), nn.ReLU(), nn.Linear(hidden, self.num_actions))

    def compute(self, states, taken_actions):
        return self.net(states)


@settings(max_examples=25, deadline=None)
@given(num_obs=st.integers(1, 12), num_actions=st.integers(1, 6), batch=st.integers(1, 17))
def test_gaussian_act_shapes_and_log_prob(num_obs, num_actions, batch):
    policy = MLPGaussianPolicy(box(num_obs), box(num_actions, -1, 1), "cpu", hiddens=[8], initial_log_std=-0.5)
    states = torch.randn(batch, num_obs)
    actions, log_prob, mean = policy.act(states)
    assert actions.shape == mean.shape == (batch, num_actions)
    assert log_prob.shape == (batch, 1)
    expected = torch.distributions.Normal(mean, torch.full_like(mean, np.exp(-0.5))).log_prob(actions).sum(-1, keepdim=True)
    torch.testing.assert_close(log_prob, expected)
    torch.testing.assert_close(policy.deterministic_act(states), mean)


def test_gaussian_log_std_is_clipped():
    policy = MLPGaussianPolicy(box(3), box(2, -1, 1), "cpu", hiddens=[4], initial_log_std=10.0, max_log_std=1.0)
    policy.act(torch.zeros(5, 3))
    torch.testing.assert_close(policy.distribution().stddev, torch.full((5, 2), np.exp(1.0)))


def test_deterministic_clip_actions(device):
    policy = Policy(box(3), box(2, -0.5, 0.5), device, clip_actions=True).to(device)
    with torch.no_grad():
        policy.net[-1].bias.fill_(100.0)
    actions = policy.act(torch.zeros(4, 3, device=device))[0]
    assert torch.all(actions == 0.5)


def test_categorical_actions_and_argmax():
    policy = MLPCategoricalPolicy(box(4), gymnasium.spaces.Discrete(3), "cpu", hiddens=[8])
    actions, log_prob, logits = policy.act(torch.randn(10, 4))
    assert actions.shape == (10, 1) and log_prob.shape == (10, 1) and logits.shape == (10, 3)
    states = torch.randn(6, 4)
    assert torch.equal(policy.deterministic_act(states), policy.compute(states, None).argmax(-1, keepdim=True))


def test_save_load_roundtrip_plain_state_dict(tmp_path, device):
    policy = Policy(box(5), box(2, -1, 1), device).to(device)
    path = tmp_path / "2500_policy.pt"
    policy.save(path)
    state = torch.load(path, weights_only=True)
    assert set(state) == {"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"}
    other = Policy(box(5), box(2, -1, 1), device)  # not moved: load() puts it on its device
    other.load(path)
    assert next(other.parameters()).device.type == torch.device(device).type
    x = torch.randn(3, 5, device=device)
    torch.testing.assert_close(other.act(x)[0], policy.act(x)[0])
    assert not other.training


def test_load_other_architecture_names_keys_and_shapes(tmp_path):
    Policy(box(5), box(2), "cpu", hidden=32).save(tmp_path / "p.pt")
    with pytest.raises(CheckpointError) as e:
        Policy(box(5), box(2), "cpu", hidden=16).load(tmp_path / "p.pt")
    message = str(e.value)
    assert "p.pt" in message and "net.0.weight: checkpoint (32, 5) vs model (16, 5)" in message
    MLPGaussianPolicy(box(5), box(2), "cpu", hiddens=[8]).save(tmp_path / "g.pt")
    with pytest.raises(CheckpointError, match=r"unexpected keys \['log_std_parameter'"):
        Policy(box(5), box(2), "cpu").load(tmp_path / "g.pt")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04 truncated zip"])
def test_load_garbage_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad_policy.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad_policy.pt: not a readable checkpoint"):
        Policy(box(5), box(2), "cpu").load(path)


def test_load_refuses_pickled_code(tmp_path):
    torch.save({"net": Policy(box(5), box(2), "cpu")}, tmp_path / "module.pt")  # a whole module, not a state_dict
    with pytest.raises(CheckpointError, match="module.pt"):
        Policy(box(5), box(2), "cpu").load(tmp_path / "module.pt")


def test_update_parameters_polyak(device):
    a = MLPDeterministic(box(3), box(1), device, hiddens=[4])
    b = MLPDeterministic(box(3), box(1), device, hiddens=[4])
    before = [p.clone() for p in b.parameters()]
    b.update_parameters(a, polyak=0.25)
    for p_b, p_a, p0 in zip(b.parameters(), a.parameters(), before):
        torch.testing.assert_close(p_b, 0.25 * p_a + 0.75 * p0)
    b.update_parameters(a)
    for p_b, p_a in zip(b.parameters(), a.parameters()):
        assert torch.equal(p_b, p_a)


def test_abstract_compute_has_a_clear_error():
    class NoCompute(GaussianModel):
        pass

    with pytest.raises(NotImplementedError, match="compute"):
        NoCompute(box(2), box(1), "cpu").act(torch.zeros(1, 2))
    assert CategoricalModel(box(2), gymnasium.spaces.Discrete(2), "cpu").num_actions == 1


@pytest.mark.parametrize("activation", ["elu", "relu", "selu", "leaky_relu", "tanh", "silu", "gelu"])
def test_mlp_hidden_activations_run_in_place_where_exact(device, activation):
    """The hidden activations overwrite the Linear outputs where the gradient needs only the output,
    and the network computes the same values and gradients as one built with plain activations."""
    from skrl_isaac.models.torch.mlp import ACTIVATIONS, IN_PLACE_ACTIVATIONS, mlp

    torch.manual_seed(0)
    net = mlp(7, [32, 16], 3, activation).to(device)
    plain = nn.Sequential(*[ACTIVATIONS[activation]() if not isinstance(m, nn.Linear) else m for m in net]).to(device)
    acts = [m for m in net if not isinstance(m, nn.Linear)]
    assert len(acts) == 2
    assert all(getattr(m, "inplace", False) == (activation in IN_PLACE_ACTIVATIONS) for m in acts)
    x = torch.randn(64, 7, device=device) * 3
    outputs, grads = [], []
    for model in (net, plain):
        model.zero_grad()
        y = model(x)
        (y ** 2).sum().backward()
        outputs.append(y.detach())
        grads.append([p.grad.clone() for p in model.parameters()])
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)  # same forward ops
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # ELU's backward from its output rounds differently
    with torch.no_grad():  # inference (the rollout) works in place too
        torch.testing.assert_close(net(x), outputs[0], rtol=0, atol=0)


def test_mlp_unknown_activation_is_a_clear_error():
    from skrl_isaac.models.torch.mlp import hidden_activation, mlp

    with pytest.raises(ValueError, match="unknown activation 'swish'; valid: .*'elu'"):
        hidden_activation("swish")
    with pytest.raises(ValueError, match="unknown activation 'swish'; valid: .*'elu'"):
        mlp(3, [], 2, "swish")  # no hidden layer: still checked
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'; valid: .*'tanh'"):
        MLPDeterministic(box(3), box(2), output_activation="sigmoid")


def test_outputs_are_float32_under_autocast():
    """Under bfloat16 autocast (PPO's mixed_precision) the networks run in bfloat16, but the models return
    float32, so distributions, clipping and losses are float32 math."""
    from skrl_isaac.models.torch.base import full_precision

    assert full_precision(torch.ones(2, dtype=torch.bfloat16)).dtype == torch.float32
    assert full_precision(torch.ones(2, dtype=torch.float16)).dtype == torch.float32
    x64, ints = torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.long)
    assert full_precision(x64) is x64 and full_precision(ints) is ints and full_precision(None) is None
    torch.manual_seed(0)
    states = torch.randn(32, 3)
    gaussian = MLPGaussianPolicy(box(3), box(2), "cpu", hiddens=[8])
    deterministic = MLPDeterministic(box(3), box(2), "cpu", hiddens=[8])
    categorical = MLPCategoricalPolicy(box(3), gymnasium.spaces.Discrete(4), "cpu", hiddens=[8])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert gaussian.net(states).dtype == torch.bfloat16
        actions, log_prob, mean = gaussian.act(states)
        assert actions.dtype == log_prob.dtype == mean.dtype == torch.float32
        assert gaussian.get_entropy().dtype == torch.float32
        assert gaussian.deterministic_act(states).dtype == torch.float32
        assert deterministic.act(states)[0].dtype == torch.float32
        _, log_prob, logits = categorical.act(states)
        assert log_prob.dtype == logits.dtype == torch.float32
