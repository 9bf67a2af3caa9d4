"""skrl_isaac.agents.torch.precision and ``Agent.optimize`` with a GradScaler (float16 mixed precision)."""

from __future__ import annotations

import pytest
import torch

from skrl_isaac.agents.torch import precision
from skrl_isaac.agents.torch.base import Agent
from skrl_isaac.agents.torch.optim import make_adam


def test_bfloat16_wherever_the_device_has_it():
    assert precision.autocast_dtype(torch.device("cpu")) == torch.bfloat16
    assert precision.make_grad_scaler(torch.device("cpu"), torch.bfloat16) is None
    assert precision.make_grad_scaler(torch.device("cpu"), None) is None
    assert isinstance(precision.make_grad_scaler(torch.device("cpu"), torch.float16), torch.amp.GradScaler)


def test_float16_on_a_gpu_without_bfloat16(monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Tesla V100")
    cuda = torch.device("cuda:0")
    assert precision.autocast_dtype(cuda) == torch.float16
    with caplog.at_level("INFO", logger="skrl_isaac"):
        assert precision.check_mixed_precision(True, cuda) is True  # no longer an error
    assert any("Tesla V100 has no bfloat16" in r.getMessage() and "GradScaler" in r.getMessage() for r in caplog.records)


class _Agent(Agent):
    """The base agent with one linear model (enough for optimize())."""


def make_agent(tmp_path, monkeypatch, device, grad_norm_clip=0.0):
    from skrl_isaac.agents.torch import base

    monkeypatch.setattr(base, "autocast_dtype", lambda device: torch.float16)
    model = torch.nn.Linear(3, 1).to(device)
    model.device = torch.device(device)
    cfg = {"mixed_precision": True, "grad_norm_clip": grad_norm_clip,
           "experiment": {"directory": str(tmp_path), "experiment_name": "x", "write_interval": 0,
                          "checkpoint_interval": 0, "checkpoint_policy_only": True}}
    agent = _Agent(models={"policy": model}, memory=None, observation_space=None, action_space=None,
                   device=device, cfg=cfg)
    return agent, model, make_adam(model.parameters(), 0.1, torch.device(device))


@pytest.mark.parametrize("grad_norm_clip", [0.0, 0.5])
def test_a_step_with_inf_gradients_is_skipped_and_the_scale_shrinks(tmp_path, monkeypatch, device, grad_norm_clip):
    agent, model, optimizer = make_agent(tmp_path, monkeypatch, device, grad_norm_clip)
    x = torch.ones(4, 3, device=device)
    before = [p.detach().clone() for p in model.parameters()]
    agent.optimize(optimizer, model(x).sum() * float("inf"))
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))  # skipped
    assert agent.grad_scaler.get_scale() == 32768.0  # halved
    agent.optimize(optimizer, model(x).square().mean())
    assert not all(torch.equal(p, b) for p, b in zip(model.parameters(), before))  # a finite step is taken
    assert agent.grad_scaler.get_scale() == 32768.0


def test_optimize_with_a_grad_scaler_reads_nothing_back_to_the_host(tmp_path, monkeypatch, device):
    agent, model, optimizer = make_agent(tmp_path, monkeypatch, device, grad_norm_clip=0.5)
    x = torch.randn(8, 3, device=device)
    agent.optimize(optimizer, model(x).square().mean())  # the scaler's lazy set-up first

    def host_read(*args, **kwargs):
        raise AssertionError("a host read in optimize()")

    loss = model(x).square().mean()
    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, host_read)
    agent.optimize(optimizer, loss)
    monkeypatch.undo()
    assert torch.isfinite(torch.cat([p.flatten() for p in model.parameters()])).all()
