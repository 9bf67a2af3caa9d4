"""Mixed precision (``cfg["mixed_precision"]``, every agent): the models' forward passes under
``torch.autocast`` in bfloat16 (float16 on GPUs without bfloat16), everything else in float32. PPO
autocasts acting, the rollout's values and its update; DQN, DDPG, TD3 and SAC their update steps
(:class:`~skrl_isaac.agents.torch.base.Agent` checks the setting, ``Agent.optimize`` runs backward
and the optimizer step outside autocast).

bfloat16 keeps float32's exponent range, so no gradient scaling is needed, and the same setting
works on CPUs and GPUs. On a CPU with AVX512-BF16 (or AMX) oneDNN runs the matmuls in
bfloat16 (the timings are in docs/training.md). Parameters,
gradients, the optimizer and the losses stay float32; the models return their outputs as float32
(:func:`skrl_isaac.models.torch.base.full_precision`), so distributions and losses are float32 math
on bfloat16-rounded network outputs (about 3 significant digits).

GPUs older than Ampere (V100, T4, RTX 20xx: common on Isaac Gym machines) have no bfloat16. There the
forward passes run in float16 instead, as in skrl, with a ``torch.amp.GradScaler`` (one per agent,
:func:`make_grad_scaler`): the loss is scaled before backward so small float16 gradients don't
underflow, the gradients are unscaled before clipping, and a step whose gradients hold an inf/NaN is
skipped while the scale shrinks. With the agents' fused Adam the skip happens in the kernel, so there
is still no host sync per step.
"""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager

import torch

AUTOCAST_DEVICE_TYPES = ("cpu", "cuda", "xpu")


def check_mixed_precision(value: Any, device: torch.device) -> bool:
    """Validate ``cfg["mixed_precision"]`` for ``device``: a bool; with True, the device must have
    autocast (a clear ``ValueError`` otherwise). Says once which precision it will use where that is
    not bfloat16 at full speed."""
    if not isinstance(value, bool):
        raise ValueError(f"mixed_precision must be True or False, got {value!r}")
    if not value:
        return False
    if device.type not in AUTOCAST_DEVICE_TYPES:
        raise ValueError(f"mixed_precision: no autocast on device {device}; "
                         f"supported device types: {AUTOCAST_DEVICE_TYPES}, or set mixed_precision False")
    from skrl_isaac import logger

    if autocast_dtype(device) == torch.float16:
        logger.info(f"mixed_precision: {torch.cuda.get_device_name(device)} has no bfloat16 (it needs an Ampere or "
                    "newer GPU); using float16 with gradient scaling (torch.amp.GradScaler)")
    if device.type == "cpu" and not cpu_has_bfloat16():
        logger.warning("mixed_precision: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX); "
                       "bfloat16 is emulated and likely slower than float32")
    return True


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of mixed precision on ``device``: bfloat16, or float16 on a CUDA GPU without
    bfloat16 (pre-Ampere)."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def make_grad_scaler(device: torch.device, dtype: torch.dtype | None) -> "torch.amp.GradScaler | None":
    """A ``torch.amp.GradScaler`` for float16 autocast on ``device``; None for bfloat16 or no autocast
    (bfloat16 has float32's range: its gradients need no scaling)."""
    if dtype != torch.float16:
        return None
    return torch.amp.GradScaler(device.type)


def cpu_has_bfloat16() -> bool:
    """Whether oneDNN runs bfloat16 natively on this CPU (False where torch cannot tell)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast(device: torch.device, enabled: bool, dtype: torch.dtype = torch.bfloat16) -> ContextManager:
    """``torch.autocast`` in ``dtype`` on ``device`` when ``enabled``; a no-op context otherwise."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def no_autocast(device: torch.device, enabled: bool) -> ContextManager:
    """With ``enabled`` (mixed precision on), a region with autocast switched off inside
    :func:`autocast` (an update's backward pass and optimizer step); a no-op context otherwise."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, enabled=False)
