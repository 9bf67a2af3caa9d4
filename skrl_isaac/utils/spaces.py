"""Space helpers that accept gymnasium spaces, gym (0.23, Isaac Gym) spaces and plain sizes."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np


def flatten_size(space: Any) -> int:
    """Number of scalars a sample of ``space`` flattens to (``Discrete`` counts as 1)."""
    if space is None:
        return 0
    if isinstance(space, (int, np.integer)):
        return int(space)
    if isinstance(space, (tuple, list)):
        return int(np.prod(space))
    name = type(space).__name__
    if name == "Discrete":
        return 1
    if name == "MultiDiscrete":
        return int(np.prod(space.shape))
    if hasattr(space, "shape") and space.shape is not None:
        return int(np.prod(space.shape))
    raise TypeError(f"unsupported space {space!r}: expected a Box, Discrete or MultiDiscrete space or an int size")


def to_gymnasium(space: Any) -> gymnasium.spaces.Space | None:
    """Convert a gym (Isaac Gym ships gym 0.23) space to the equivalent gymnasium space."""
    if space is None or isinstance(space, gymnasium.spaces.Space):
        return space
    name = type(space).__name__
    if name == "Box":
        return gymnasium.spaces.Box(low=np.asarray(space.low), high=np.asarray(space.high), dtype=space.dtype)
    if name == "Discrete":
        return gymnasium.spaces.Discrete(int(space.n))
    if name == "MultiDiscrete":
        return gymnasium.spaces.MultiDiscrete(np.asarray(space.nvec))
    raise TypeError(f"unsupported space {space!r}: expected Box, Discrete or MultiDiscrete")


def is_discrete(space: Any) -> bool:
    """Whether ``space`` is a ``Discrete`` space (gym or gymnasium)."""
    return type(space).__name__ == "Discrete"
