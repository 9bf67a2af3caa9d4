"""Memories: ``Memory`` base and ``RandomMemory``. Loaded on first use."""

from skrl_isaac._lazy import lazy_attributes

__all__ = ["Memory", "RandomMemory"]
__getattr__ = lazy_attributes(__name__, {"Memory": "skrl_isaac.memories.torch.base",
                                         "RandomMemory": "skrl_isaac.memories.torch.random"})
