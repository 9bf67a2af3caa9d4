"""Agent/trainer configuration dictionaries: defaults merged with user values, unknown keys refused."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import numbers
import typing
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


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


def typed_view(view_type: type[T], cfg: Mapping[str, Any], *, owner: str) -> T:
    """The dataclass ``view_type`` of a merged configuration ``cfg``, built once by the agent.

    Each field takes the value of the key of its name (a trailing ``_`` dropped: ``lambda_`` reads
    ``"lambda"``), converted to the field's annotated type when that is ``int``, ``float`` or ``bool``.

    :raises ValueError: for a value that does not convert, naming the key and the type it must have
    """
    hints = typing.get_type_hints(view_type)
    values = {}
    for field in dataclasses.fields(view_type):
        key = field.name.rstrip("_")
        value, kind = cfg[key], hints[field.name]
        if kind in (int, float, bool):
            if ((kind is not bool and isinstance(value, bool)) or not isinstance(value, numbers.Real)
                    or (kind is int and value != int(value))):
                raise ValueError(f"{owner}: cfg[{key!r}] must be a{'n' if kind is int else ''} {kind.__name__}, "
                                 f"got {value!r}")
            value = kind(value)
        values[field.name] = value
    return view_type(**values)
