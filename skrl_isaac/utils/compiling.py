"""Whether code runs inside ``torch.compile``'s tracing (code that keeps Python-side caches must not then)."""

from __future__ import annotations

import torch


def compiling() -> bool:
    """True inside ``torch.compile`` (dynamo) tracing; False on torch builds without ``torch.compiler``."""
    is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return bool(is_compiling()) if is_compiling is not None else False
