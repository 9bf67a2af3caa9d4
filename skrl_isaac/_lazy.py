"""Lazy package attributes (PEP 562), so a package's ``__init__`` imports nothing heavy (torch) until
one of its attributes is used."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_attributes(package: str, sources: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``name`` from ``sources[name]`` (a module
    path) on first use."""

    def __getattr__(name: str) -> Any:
        if name in sources:
            return getattr(importlib.import_module(sources[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
