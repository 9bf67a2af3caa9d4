"""Memories: ``Memory`` base and ``RandomMemory``.

Loaded on first use, so that the torch-free modules of this package (``csv_io``, ``csv_process``)
import without torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Memory", "RandomMemory"]


def __getattr__(name: str) -> Any:
    if name == "Memory":
        from skrl_isaac.memories.torch.base import Memory

        return Memory
    if name == "RandomMemory":
        from skrl_isaac.memories.torch.random import RandomMemory

        return RandomMemory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
