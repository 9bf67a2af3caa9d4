"""Small shared helpers: seeding, spaces, files, configs.

Submodules load on first use (``set_seed`` too), so that torch-free helpers such as
:mod:`skrl_isaac.utils.files` import without torch (the csv export process relies on it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["set_seed"]


def __getattr__(name: str) -> Any:
    if name == "set_seed":
        from skrl_isaac.utils.seed import set_seed

        return set_seed
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
