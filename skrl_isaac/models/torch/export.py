"""Export a policy (with its observation normalizer inside) to TorchScript and ONNX for deployment."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

import torch
from torch import nn

from skrl_isaac.models.torch.base import Model
from skrl_isaac.utils.files import atomic_write

EXPORT_FORMATS = ("onnx", "torchscript")


class DeployablePolicy(nn.Module):
    """``observations -> actions``: the normalizer (if any) followed by the policy's deterministic action.

    :param policy: a Gaussian, deterministic or categorical policy model, or a Q-network
    :param state_preprocessor: the ``RunningStandardScaler`` the policy was trained with, or None
    :param greedy: the model outputs one Q-value per discrete action (DQN's ``q_network``): return
                   the greedy action ``(N, 1)``
    """

    def __init__(self, policy: Model, state_preprocessor: nn.Module | None = None, greedy: bool = False) -> None:
        super().__init__()
        self.policy = policy
        self.normalizer = state_preprocessor if isinstance(state_preprocessor, nn.Module) else None
        self.greedy = greedy

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if self.normalizer is not None:
            observations = self.normalizer(observations)
        if self.greedy:
            return self.policy.compute(observations, None).argmax(dim=-1, keepdim=True)
        return self.policy.deterministic_act(observations)


def export_policy(policy: Model, state_preprocessor: nn.Module | None, directory: str,
                  formats: tuple[str, ...] = EXPORT_FORMATS, greedy: bool = False) -> dict[str, str]:
    """Write ``directory/policy.pt`` (TorchScript) and/or ``directory/policy.onnx``; return ``{format: path}``.

    Both take a float32 batch ``(N, num_observations)`` named ``observations`` and return the
    deterministic actions ``(N, num_actions)`` (``greedy=True``: a Q-network's argmax, ``(N, 1)``);
    the batch size is dynamic.
    """
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        raise ValueError(f"export formats must be among {EXPORT_FORMATS}, got {list(formats)}")
    device = next(policy.parameters()).device
    module = DeployablePolicy(policy, state_preprocessor, greedy).to(device).eval()
    example = torch.zeros((2, policy.num_observations), device=device)
    os.makedirs(directory, exist_ok=True)
    paths = {}
    with torch.no_grad(), _frozen(module):  # the files' parameters and outputs need no gradient
        if "torchscript" in formats:
            traced = torch.jit.trace(module, example, check_trace=False)
            path = os.path.join(directory, "policy.pt")
            atomic_write(path, lambda f: torch.jit.save(traced, f))
            paths["torchscript"] = path
        if "onnx" in formats:
            import io
            import warnings

            buffer = io.BytesIO()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated but needs no onnxscript
                torch.onnx.export(module, (example,), buffer, dynamo=False, input_names=["observations"],
                                  output_names=["actions"], dynamic_axes={"observations": {0: "batch"},
                                                                          "actions": {0: "batch"}},
                                  opset_version=17)
            path = os.path.join(directory, "policy.onnx")
            atomic_write(path, lambda f: f.write(buffer.getvalue()))
            paths["onnx"] = path
    return paths


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """``requires_grad=False`` on the parameters of ``module`` inside the block (restored after it)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def parse_formats(value: Any) -> tuple[str, ...]:
    """``"onnx"``, ``"torchscript"``, ``"all"`` or a comma list -> the formats tuple (ValueError if unknown)."""
    if value in ("all", True):
        return EXPORT_FORMATS
    items = tuple(v.strip() for v in str(value).split(",") if v.strip())
    unknown = [v for v in items if v not in EXPORT_FORMATS]
    if unknown or not items:
        raise ValueError(f"export={value!r} is not valid: expected onnx, torchscript, all or a comma list of them")
    return items
