"""Memories (``skrl_isaac.memories.torch``) and memory-dump tools (``inspect_dump``, ``load_dump``).

Loaded on first use, so that the torch-free modules below import without torch.
"""

from skrl_isaac._lazy import lazy_attributes

__all__ = ["inspect_dump", "load_dump"]
__getattr__ = lazy_attributes(__name__, {"inspect_dump": "skrl_isaac.memories.inspection",
                                         "load_dump": "skrl_isaac.memories.torch.export"})
