"""Memories (``skrl_isaac.memories.torch``) and memory-dump tools (``inspect_dump``, ``load_dump``)."""

from skrl_isaac.memories.inspection import inspect_dump
from skrl_isaac.memories.torch.export import load_dump

__all__ = ["inspect_dump", "load_dump"]
