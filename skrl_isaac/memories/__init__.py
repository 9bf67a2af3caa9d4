"""Memories (``skrl_isaac.memories.torch``: ``Memory``, ``RandomMemory``).

``inspect_dump`` and ``load_dump`` are re-exported from :mod:`skrl_isaac.dumps`, where the memory-dump
tools live. Loaded on first use.
"""

from skrl_isaac._lazy import lazy_attributes

__all__ = ["inspect_dump", "load_dump"]
__getattr__ = lazy_attributes(__name__, {"inspect_dump": "skrl_isaac.dumps.inspection",
                                         "load_dump": "skrl_isaac.dumps.formats"})
