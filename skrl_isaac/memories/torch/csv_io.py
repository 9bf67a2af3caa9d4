"""CSV writing of memory dumps: ``step, env, <tensor>.<i>`` rows, floats that read back bit-exactly.

Two engines write the same header and rows: ``pyarrow`` (``pyarrow.csv.write_csv``: C++, releases the
GIL, shortest round-trip float text; used when pyarrow >= 11 is importable) and ``numpy`` (``%``
formatting of row blocks with 5/9/17 significant digits for float16/32/64). ``CSV_ENGINE`` forces one.
Float columns whose values all look like integers get a decimal point where needed (-0.0, huge
values), so a plain ``pandas.read_csv`` keeps them as floats (and -0.0's sign).
"""

from __future__ import annotations

import io
from typing import Any, Callable

import numpy as np

CSV_FLOAT_FORMATS = {np.dtype(np.float16): "%.5g", np.dtype(np.float32): "%.9g", np.dtype(np.float64): "%.17g"}
CSV_CHUNK_ROWS = 128  # rows formatted per call (numpy engine): keeps each GIL hold on the writer thread short
ARROW_BATCH_ROWS = 4096  # rows per pyarrow CSV batch
CSV_ENGINE: str | None = None  # "pyarrow" | "numpy"; None: pyarrow when importable (see csv_engine())


def csv_columns(arrays: dict[str, np.ndarray]) -> list[str]:
    return ["step", "env"] + [f"{name}.{i}" for name, a in arrays.items() for i in range(a.shape[-1])]


def csv_engine() -> str:
    """The CSV writer :func:`write_csv` uses by default: ``CSV_ENGINE`` if set, else ``"pyarrow"``
    when pyarrow is importable, else ``"numpy"``."""
    if CSV_ENGINE is not None:
        return CSV_ENGINE
    return "pyarrow" if _arrow() is not None else "numpy"


def write_csv(f: Any, arrays: dict[str, np.ndarray], engine: str | None = None) -> None:
    """Write ``arrays`` (``{name: (steps, envs, size)}``) as CSV to the file ``f`` (binary or text).

    ``engine``: ``"pyarrow"`` (``pyarrow.csv.write_csv``: C++, releases the GIL, shortest round-trip
    float formatting) or ``"numpy"`` (vectorized ``%`` formatting, ``%.5g/%.9g/%.17g``); default
    :func:`csv_engine`. Both write the same header and rows, and their values parse back to the
    same bits (float columns that hold ``-0.0`` get a decimal point on their integral values, so
    ``pandas.read_csv`` infers a float column and keeps the sign).
    """
    engine = engine or csv_engine()
    if engine not in ("pyarrow", "numpy"):
        raise ValueError(f"csv engine must be 'pyarrow' or 'numpy', got {engine!r}")
    if engine == "pyarrow" and _arrow() is None:
        raise ImportError("the 'pyarrow' csv engine needs pyarrow (pip install pyarrow); or use engine='numpy'")
    text = isinstance(f, io.TextIOBase)
    write = f.write if text else (lambda s: f.write(s.encode("utf-8")))  # (tensor names may be non-ASCII)
    write(",".join(csv_columns(arrays)) + "\n")
    if engine == "pyarrow":
        data = _arrow_csv_body(arrays)
        if text:
            f.write(data.to_pybytes().decode("ascii"))
        else:
            f.write(data)
    else:
        _numpy_csv_body(write, arrays)


def _flat(arrays: dict[str, np.ndarray]) -> tuple[int, int, list[np.ndarray]]:
    steps, envs = next(iter(arrays.values())).shape[:2]
    return steps, envs, [a.reshape(steps * envs, a.shape[-1]) for a in arrays.values()]


def _negative_zero_columns(a: np.ndarray) -> np.ndarray:
    """Per column of a float ``(rows, k)`` array: does it hold a ``-0.0``?"""
    return (np.signbit(a) & (a == 0)).any(axis=0)


def _numpy_csv_body(write: Callable[[str], Any], arrays: dict[str, np.ndarray]) -> None:
    """Each block of rows is turned into one matrix and formatted with a single ``%`` operation
    (one row format repeated), so there is no Python loop over rows or values."""
    steps, envs, flat = _flat(arrays)
    fmts = ["%d", "%d"]
    exact_in_f64 = True  # every value representable as a float64 (else: object matrix)
    for a in flat:
        if a.dtype.kind == "f":
            # '#': keep the decimal point ("-0.00000000"), so pandas does not read the column as
            # integers and drop the sign of -0.0
            fmt = CSV_FLOAT_FORMATS[a.dtype]
            fmts += [fmt.replace("%", "%#") if neg else fmt for neg in _negative_zero_columns(a)]
        else:
            fmts += ["%d"] * a.shape[1]
            if a.dtype.itemsize >= 8 and a.size and (a.min() < -2**53 or a.max() > 2**53):
                exact_in_f64 = False
    ncols = len(fmts)
    row_fmt = ",".join(fmts) + "\n"
    rows = steps * envs
    row = np.arange(rows)
    for start in range(0, rows, CSV_CHUNK_ROWS):
        stop = min(start + CSV_CHUNK_ROWS, rows)
        block = np.empty((stop - start, ncols), dtype=np.float64 if exact_in_f64 else object)
        block[:, 0] = row[start:stop] // envs
        block[:, 1] = row[start:stop] % envs
        col = 2
        with np.errstate(invalid="ignore"):  # signalling NaNs quiet on the cast
            for a in flat:
                block[:, col:col + a.shape[1]] = a[start:stop]  # exact: float64 or Python int/float
                col += a.shape[1]
        write((row_fmt * (stop - start)) % tuple(block.ravel().tolist()))


def _arrow_csv_body(arrays: dict[str, np.ndarray]) -> Any:
    """The CSV rows (no header) as a ``pyarrow.Buffer``, formatted by ``pyarrow.csv.write_csv``.

    Floats are written in the shortest form that reads back to the same float16/32/64 value
    (float16 goes through float32, which holds it exactly), booleans as 0/1.
    """
    pa, pa_csv, pc = _arrow()
    steps, envs, flat = _flat(arrays)
    columns = [pa.array(np.repeat(np.arange(steps, dtype=np.int64), envs)),
               pa.array(np.tile(np.arange(envs, dtype=np.int64), steps))]
    for a in flat:
        if a.dtype.kind == "b":
            a = a.view(np.uint8)
        elif a.dtype == np.float16:
            a = a.astype(np.float32)
        fix = _negative_zero_columns(a) if a.dtype.kind == "f" else np.zeros(a.shape[1], dtype=bool)
        if a.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                fix |= (np.abs(a) >= 2.0**63).any(axis=0) & np.isfinite(a).all(axis=0)
        for i, column in enumerate(np.ascontiguousarray(a.T)):
            arr = pa.array(column)
            if fix[i]:  # integral tokens get ".0": pandas reads a float column (keeps -0.0, no int64 overflow)
                text = pc.cast(arr, pa.string())
                arr = pc.if_else(pc.match_substring_regex(text, r"^-?[0-9]+$"),
                                 pc.binary_join_element_wise(text, ".0", ""), text)
            columns.append(arr)
    table = pa.Table.from_arrays(columns, names=[str(i) for i in range(len(columns))])
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="none",
                                                      batch_size=ARROW_BATCH_ROWS))
    return sink.getvalue()


_ARROW: Any = False  # not looked up yet


def _arrow() -> Any:
    """``(pyarrow, pyarrow.csv, pyarrow.compute)``, or None when pyarrow is not installed (or too old
    to write unquoted text columns: ``quoting_style``, pyarrow >= 11)."""
    global _ARROW
    if _ARROW is False:
        try:
            import pyarrow
            import pyarrow.compute
            import pyarrow.csv

            pyarrow.csv.WriteOptions(include_header=False, quoting_style="none")
            _ARROW = (pyarrow, pyarrow.csv, pyarrow.compute)
        except (ImportError, TypeError):
            _ARROW = None
    return _ARROW


# -- reading ----------------------------------------------------------------------------------
