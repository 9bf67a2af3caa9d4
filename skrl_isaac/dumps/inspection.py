"""Look at a memory dump (``.pt`` / ``.npz`` / ``.csv``): a summary, or the rows of one env.

    skrl-isaac memory inspect memory/<file>.csv            # tensors, shapes, column stats
    skrl-isaac memory inspect memory/<file>.pt --env 3     # every step of env 3
    skrl-isaac memory inspect memory/<file>.npz --rows 10  # plus the first 10 rows
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from skrl_isaac.dumps.formats import dump_format, load_dump

_FORMAT_NAMES = {"pt": "PyTorch", "np": "NumPy .npz", "csv": "CSV"}


def dump_table(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """The dump as one table: one row per (step, env), columns ``step, env, <tensor>.<i>``."""
    steps, envs = next(iter(arrays.values())).shape[:2]
    columns = {"step": np.repeat(np.arange(steps), envs), "env": np.tile(np.arange(envs), steps)}
    for name, a in arrays.items():
        flat = a.reshape(steps * envs, a.shape[-1])
        for i in range(a.shape[-1]):
            columns[f"{name}.{i}"] = flat[:, i]
    return pd.DataFrame(columns)


def column_stats(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per column: dtype, min / mean / max over the finite-or-inf values (NaN ignored), NaN count."""
    rows = []
    for name, a in arrays.items():
        flat = a.reshape(-1, a.shape[-1])
        values = flat.astype(np.float64) if flat.dtype.kind in "biuf" else None
        for i in range(a.shape[-1]):
            col = values[:, i] if values is not None else None
            if col is None or col.size == 0:
                rows.append((f"{name}.{i}", str(a.dtype), np.nan, np.nan, np.nan, 0))
                continue
            nan = int(np.isnan(col).sum())
            if nan == col.size:
                rows.append((f"{name}.{i}", str(a.dtype), np.nan, np.nan, np.nan, nan))
                continue
            with np.errstate(invalid="ignore", over="ignore"):
                rows.append((f"{name}.{i}", str(a.dtype), np.nanmin(col), np.nanmean(col), np.nanmax(col), nan))
    return pd.DataFrame(rows, columns=["column", "dtype", "min", "mean", "max", "nan"])


def inspect_dump(path: str | os.PathLike, env: int | None = None, rows: int | None = None) -> str:
    """A text report of a memory dump of any format.

    :param path: a ``.pt``, ``.npz`` or ``.csv`` file written by a memory export or ``Memory.save``
    :param env: also list the rows (every step) of this environment
    :param rows: list at most this many rows (of ``env`` if given, else of the whole dump)
    :raises DumpError: if the file is not a memory dump; ``ValueError`` if ``env`` is out of range
    """
    path = os.fspath(path)
    integrity: list[str] = []
    arrays = load_dump(path, on_status=integrity.append)
    steps, envs = next(iter(arrays.values())).shape[:2]
    if env is not None and not 0 <= env < envs:
        raise ValueError(f"--env must be in [0, {envs - 1}] ({envs} envs in {path!r}), got {env}")
    fmt = dump_format(path)
    inferred = " (inferred from the text)" if fmt == "csv" else ""
    lines = [f"{path}",
             f"format: {_FORMAT_NAMES[fmt]}; {steps} steps x {envs} envs = {steps * envs} rows; "
             f"{len(arrays)} tensors",
             f"integrity: {integrity[0]}",
             "",
             f"tensors (shape: steps, envs, size; dtype{inferred}):"]
    width = max(len(n) for n in arrays)
    for name, a in arrays.items():
        nan = int(np.isnan(a).sum()) if a.dtype.kind == "f" else 0
        lines.append(f"  {name:<{width}}  {str(tuple(a.shape)):<16} {str(a.dtype):<8} NaN: {nan}")
    lines += ["", "columns:", _indent(column_stats(arrays).to_string(index=False, float_format=_fmt))]
    if env is not None or rows is not None:
        table = dump_table(arrays)
        title = "rows"
        if env is not None:
            table = table[table["env"] == env]
            title = f"rows of env {env}"
        if rows is not None:
            table = table.head(max(rows, 0))
        lines += ["", f"{title} ({len(table)} shown):",
                  _indent(table.to_string(index=False, float_format=_fmt, max_cols=None))]
    return "\n".join(lines) + "\n"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
