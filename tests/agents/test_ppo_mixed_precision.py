"""PPO's ``mixed_precision``: the models' forward passes in bfloat16, everything else in float32."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from skrl_isaac.agents.torch.precision import autocast, check_mixed_precision, cpu_has_bfloat16

from test_ppo import counting_env, make_ppo, train


def bf16_supported(device: str) -> bool:
    return cpu_has_bfloat16() if device == "cpu" else torch.cuda.is_bf16_supported()


def linear_output_dtypes(*models):
    seen = []
    for model in models:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    return seen


def test_mixed_precision_runs_the_models_in_bfloat16(counting_task, device, tmp_path):
    if not bf16_supported(device):
        pytest.skip(f"no bfloat16 on {device}")
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, mixed_precision=True, state_preprocessor="RunningStandardScaler",
                     value_preprocessor="RunningStandardScaler", experiment={"write_interval": 0})
    seen = linear_output_dtypes(agent.policy, agent.value)
    train(agent, env, 16)  # two rollouts of 8 steps, two updates
    assert seen and set(seen) == {torch.bfloat16}  # act, the batched values, the last values and the update
    for name, tensor in agent.memory.tensors.items():
        assert tensor.dtype in (torch.float32, torch.bool), name
    for model in (agent.policy, agent.value):
        for p in model.parameters():
            assert p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32
            assert torch.isfinite(p).all()
    assert torch.isfinite(agent.memory.get_tensor_by_name("returns")).all()


def test_mixed_precision_gradients_follow_the_float32_ones(counting_task, device, tmp_path):
    """The same rollout (the counting task's rewards do not depend on the actions) from the same initial
    weights: the update's gradients agree to bfloat16's ~3 significant digits (Adam's first steps are
    ~lr * sign(gradient), so the weights alone would say little)."""
    if not bf16_supported(device):
        pytest.skip(f"no bfloat16 on {device}")
    grads = []
    for mixed in (False, True):
        env, _, _ = counting_env(counting_task, device)
        torch.manual_seed(0)
        agent = make_ppo(env, device, tmp_path / str(mixed), mixed_precision=mixed, learning_epochs=1,
                         mini_batches=1, experiment={"write_interval": 0, "checkpoint_interval": 0})
        train(agent, env, 8)  # one rollout, one update of one minibatch: the grads stay on the parameters
        grads.append(torch.cat([p.grad.flatten() for m in (agent.policy, agent.value) for p in m.parameters()]))
    full, mixed = grads
    assert full.norm() > 0
    cosine = torch.nn.functional.cosine_similarity(full, mixed, dim=0)
    assert 0.99 < cosine < 1.0, float(cosine)  # close, and not the same computation
    assert abs(float(mixed.norm() / full.norm()) - 1) < 0.05


def test_float32_without_it(counting_task, device, tmp_path):
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, experiment={"write_interval": 0})
    seen = linear_output_dtypes(agent.policy, agent.value)
    train(agent, env, 8)
    assert seen and set(seen) == {torch.float32}


def test_mixed_precision_setting_errors():
    with pytest.raises(ValueError, match="mixed_precision must be True or False, got 'yes'"):
        check_mixed_precision("yes", torch.device("cpu"))
    with pytest.raises(ValueError, match="no bfloat16 autocast on device meta"):
        check_mixed_precision(True, torch.device("meta"))
    assert check_mixed_precision(False, torch.device("meta")) is False


def test_autocast_context():
    x, w = torch.randn(4, 8), torch.randn(8, 3)
    with autocast(torch.device("cpu"), False):
        assert (x @ w).dtype == torch.float32
    with autocast(torch.device("cpu"), True):
        assert (x @ w).dtype == torch.bfloat16
