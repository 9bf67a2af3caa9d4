"""Memories: ``Memory`` base and ``RandomMemory``.

Loaded on first use, so that the torch-free modules of this package (``csv_io``, ``csv_process``)
import without torch.
"""

from skrl_isaac._lazy import lazy_attributes

__all__ = ["Memory", "RandomMemory"]
__getattr__ = lazy_attributes(__name__, {"Memory": "skrl_isaac.memories.torch.base",
                                         "RandomMemory": "skrl_isaac.memories.torch.random"})
