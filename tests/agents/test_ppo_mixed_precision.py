"""PPO's ``mixed_precision``: the models' forward passes in bfloat16 (float16 + GradScaler where the
device has no bfloat16), everything else in float32."""

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
    with pytest.raises(ValueError, match="no autocast on device meta"):
        check_mixed_precision(True, torch.device("meta"))
    assert check_mixed_precision(False, torch.device("meta")) is False


def test_autocast_context():
    x, w = torch.randn(4, 8), torch.randn(8, 3)
    with autocast(torch.device("cpu"), False):
        assert (x @ w).dtype == torch.float32
    with autocast(torch.device("cpu"), True):
        assert (x @ w).dtype == torch.bfloat16


@pytest.fixture
def float16_autocast(monkeypatch):
    """Mixed precision as on a GPU without bfloat16 (float16 + GradScaler), on any device that has
    float16 autocast (the CPU does)."""
    from skrl_isaac.agents.torch import base

    monkeypatch.setattr(base, "autocast_dtype", lambda device: torch.float16)


def test_float16_mixed_precision_scales_the_losses(counting_task, device, tmp_path, float16_autocast):
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, mixed_precision=True, state_preprocessor="RunningStandardScaler",
                     value_preprocessor="RunningStandardScaler", experiment={"write_interval": 0})
    assert isinstance(agent.grad_scaler, torch.amp.GradScaler)
    seen = linear_output_dtypes(agent.policy, agent.value)
    initial = [p.detach().clone() for p in agent.policy.parameters()]
    train(agent, env, 16)  # 2 updates x 2 epochs x 2 minibatches = 8 steps
    assert seen and set(seen) == {torch.float16}
    scale = agent.grad_scaler.get_scale()
    assert scale in [65536.0 / 2**i for i in range(4)]  # starts at 2**16, halves on an overflow (skipped step)
    assert not all(torch.equal(p, q) for p, q in zip(agent.policy.parameters(), initial))  # steps were taken
    for model in (agent.policy, agent.value):
        for p in model.parameters():
            assert p.dtype == torch.float32 and p.grad.dtype == torch.float32 and torch.isfinite(p).all()


def test_float16_gradients_follow_the_float32_ones(counting_task, device, tmp_path, float16_autocast):
    """After unscaling (done before clipping: a clip far above the norm keeps them as they are) the
    float16 run's gradients agree with float32's within 0.1% (the relative error of the whole gradient
    vector, the figure docs/training.md states with its measured value)."""
    grads = []
    for mixed in (False, True):
        env, _, _ = counting_env(counting_task, device)
        torch.manual_seed(0)
        agent = make_ppo(env, device, tmp_path / str(mixed), mixed_precision=mixed, learning_epochs=1,
                         mini_batches=1, grad_norm_clip=1e9, experiment={"write_interval": 0, "checkpoint_interval": 0})
        if mixed:  # a scale this step does not overflow at (the default 2**16 may: that step is skipped)
            agent.grad_scaler = torch.amp.GradScaler(torch.device(device).type, init_scale=256.0)
        train(agent, env, 8)
        grads.append(torch.cat([p.grad.flatten() for m in (agent.policy, agent.value) for p in m.parameters()]))
    full, mixed = grads
    assert not torch.equal(full, mixed)  # float16 did run
    cosine = torch.nn.functional.cosine_similarity(full, mixed, dim=0)
    assert 0.999 < cosine < 1.0 + 1e-6, float(cosine)  # (float32 rounding can put it an ulp above 1: seen on a GPU)
    error = float((mixed - full).norm() / full.norm())
    print(f"float16 vs float32 gradients on {device}: relative error {error:.2e}")  # shown with pytest -s
    assert error < 1e-3


def test_the_grad_scaler_state_is_in_agent_checkpoints(counting_task, device, tmp_path, float16_autocast):
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, mixed_precision=True, experiment={"write_interval": 0})
    train(agent, env, 8)
    agent.grad_scaler.update(1024.0)  # as after overflows
    path = agent.save(str(tmp_path / "agent.pt"), 8)
    fresh = make_ppo(env, device, tmp_path / "fresh", mixed_precision=True, experiment={"write_interval": 0})
    fresh.load(path)
    assert fresh.grad_scaler.get_scale() == 1024.0
