"""Memories (``skrl_isaac.memories.torch``) and memory-dump tools (``inspect_dump``, ``load_dump``).

Loaded on first use, so that the torch-free modules below import without torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["inspect_dump", "load_dump"]


def __getattr__(name: str) -> Any:
    if name == "inspect_dump":
        from skrl_isaac.memories.inspection import inspect_dump

        return inspect_dump
    if name == "load_dump":
        from skrl_isaac.memories.torch.export import load_dump

        return load_dump
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
