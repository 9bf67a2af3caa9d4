"""The CLI's error type and its check of integer values (importable without torch)."""

from __future__ import annotations

from typing import Any


class CLIError(Exception):
    """A bad command-line value: the message says what was wrong and what is valid."""


def optional_int(cfg: Any, key: str, minimum: int | None, required: bool = False) -> int | None:
    """``cfg[key]`` as an int (``>= minimum`` unless that is None), or None when unset (null or '') and not
    ``required``."""
    value = cfg.get(key)
    if value in ("", None) and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        expected = "an integer" + (f" >= {minimum}" if minimum is not None else "")
        raise CLIError(f"{key}={value!r} is not valid: expected {expected}" + ("" if required else " (or leave it unset)"))
    return value
