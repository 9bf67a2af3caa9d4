"""Memories: ``Memory`` base and ``RandomMemory``."""

from skrl_isaac.memories.torch.base import Memory
from skrl_isaac.memories.torch.random import RandomMemory

__all__ = ["Memory", "RandomMemory"]
