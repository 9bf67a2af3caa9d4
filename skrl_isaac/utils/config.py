"""Agent/trainer configuration dictionaries: defaults merged with user values, unknown keys refused."""

from __future__ import annotations

import copy
import difflib
from typing import Any, Mapping


def merge_config(defaults: Mapping[str, Any], cfg: Mapping[str, Any] | None, *, owner: str) -> dict:
    """Return a deep copy of ``defaults`` updated with ``cfg``.

    Nested dicts of ``defaults`` are merged key by key; keys ending in ``_kwargs`` hold free-form
    keyword arguments and are taken as given.

    :raises ValueError: for a key that ``defaults`` does not have, naming the closest valid key
    """
    merged = copy.deepcopy(dict(defaults))
    for key, value in (cfg or {}).items():
        if key not in defaults:
            close = difflib.get_close_matches(str(key), [str(k) for k in defaults], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{owner}: unknown configuration key {key!r}{hint} Valid keys: {sorted(defaults)}")
        if isinstance(defaults[key], Mapping) and not str(key).endswith("_kwargs") and isinstance(value, Mapping):
            merged[key] = merge_config(defaults[key], value, owner=f"{owner}[{key!r}]")
        else:
            merged[key] = copy.deepcopy(value) if isinstance(value, (dict, list)) else value
    return merged
