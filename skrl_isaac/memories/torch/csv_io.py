"""CSV writing of memory dumps: ``step, env, <tensor>.<i>`` rows, floats that read back bit-exactly.

Three engines write the same header and the same values (they read back to the same bits):

* ``fixed`` (:mod:`csv_fixed`, numpy): float32/float16 as ``%+.8e``, booleans as 0/1, ``step`` and
  ``env`` zero-padded, so every row has the same length and numpy fills the text column by column.
  The fastest (~2.5x polars); it takes float32 / float16 / bool dumps with finite values only, which
  is what agents store. The default for such dumps.
* ``polars`` (``polars.DataFrame.write_csv``: Rust, releases the GIL, shortest round-trip float text
  that always keeps a decimal point or exponent): every other dump, when polars is importable.
* ``numpy`` (``%`` formatting of row blocks with 5/9/17 significant digits for float16/32/64): every
  other dump without polars. Float columns whose values all look like integers get a decimal point
  where needed (-0.0, huge values), so a plain ``pandas.read_csv`` keeps them as floats (and -0.0's sign).

``CSV_ENGINE`` forces one.
"""

from __future__ import annotations

import io
import threading
from typing import Any, Callable

import numpy as np

from skrl_isaac.memories.torch import csv_fixed

CSV_FLOAT_FORMATS = {np.dtype(np.float16): "%.5g", np.dtype(np.float32): "%.9g", np.dtype(np.float64): "%.17g"}
CSV_CHUNK_ROWS = 128  # rows formatted per call (numpy engine): keeps each GIL hold on the writer thread short
CSV_ENGINES = ("fixed", "polars", "numpy")
CSV_ENGINE: str | None = None  # "fixed" | "polars" | "numpy"; None: the fastest that can (see csv_engine())
_FIXED = threading.local()  # each writing thread's csv_fixed.FixedWidthCsv (it keeps scratch arrays)


def csv_columns(arrays: dict[str, np.ndarray]) -> list[str]:
    return ["step", "env"] + [f"{name}.{i}" for name, a in arrays.items() for i in range(a.shape[-1])]


def csv_engine(arrays: dict[str, np.ndarray] | None = None) -> str:
    """The CSV writer :func:`write_csv` uses by default for ``arrays``: ``CSV_ENGINE`` if set, else
    ``"fixed"`` when it can write them (:func:`csv_fixed.fits`: float32/float16/bool, all finite),
    else ``"polars"`` when polars is importable, else ``"numpy"``. Without ``arrays``: the engine
    for dumps that ``"fixed"`` cannot write."""
    if CSV_ENGINE is not None:
        return CSV_ENGINE
    if arrays is not None and csv_fixed.fits(arrays):
        return "fixed"
    return "polars" if _polars() is not None else "numpy"


def write_csv(f: Any, arrays: dict[str, np.ndarray], engine: str | None = None) -> None:
    """Write ``arrays`` (``{name: (steps, envs, size)}``) as CSV to the file ``f`` (binary or text).

    ``engine``: ``"fixed"`` (:mod:`csv_fixed`: numpy, ``%+.8e``, zero-padded ``step``/``env``; float32,
    float16 and bool dumps with finite values only), ``"polars"`` (``polars.DataFrame.write_csv``:
    Rust, releases the GIL, shortest round-trip float formatting) or ``"numpy"`` (vectorized ``%``
    formatting, ``%.5g/%.9g/%.17g``); default :func:`csv_engine`. All write the same header, and
    their values parse back to the same bits (float columns that hold ``-0.0`` get a decimal point
    on their integral values, so ``pandas.read_csv`` infers a float column and keeps the sign).
    """
    explicit, engine = engine is not None, engine or csv_engine(arrays)
    if engine not in CSV_ENGINES:
        raise ValueError(f"csv engine must be one of {CSV_ENGINES}, got {engine!r}")
    if engine == "polars" and _polars() is None:
        raise ImportError("the 'polars' csv engine needs polars (pip install polars); or use engine='numpy'")
    if engine == "fixed" and (explicit or CSV_ENGINE is not None) and not csv_fixed.fits(arrays):
        raise ValueError(f"the 'fixed' csv engine writes float32, float16 and bool tensors with finite values "
                         f"only, got {csv_fixed.misfits(arrays)}; use engine='polars' or 'numpy'")
    text = isinstance(f, io.TextIOBase)
    write = f.write if text else (lambda s: f.write(s.encode("utf-8")))  # (tensor names may be non-ASCII)
    write(",".join(csv_columns(arrays)) + "\n")
    if engine == "fixed":
        if not hasattr(_FIXED, "writer"):
            _FIXED.writer = csv_fixed.FixedWidthCsv()
        _FIXED.writer.write((lambda chunk: f.write(str(chunk, "ascii"))) if text else f.write, arrays)
    elif engine == "polars" and text:
        f.write(_polars_csv_body(arrays).decode("ascii"))
    elif engine == "polars":
        if hasattr(f, "flush"):
            f.flush()  # the header first, whether polars writes through f or to its file descriptor
        _polars_frame(arrays).write_csv(f, include_header=False, quote_style="never")  # no copy of the text
    else:
        _numpy_csv_body(write, arrays)


def _negative_zero_columns(a: np.ndarray) -> np.ndarray:
    """Per column of a float ``(rows, k)`` array: does it hold a ``-0.0``?"""
    return (np.signbit(a) & (a == 0)).any(axis=0)


def _numpy_csv_body(write: Callable[[str], Any], arrays: dict[str, np.ndarray]) -> None:
    """Each block of rows is turned into one matrix and formatted with a single ``%`` operation
    (one row format repeated), so there is no Python loop over rows or values."""
    steps, envs, flat = csv_fixed.flat_rows(arrays)
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


def _polars_csv_body(arrays: dict[str, np.ndarray]) -> bytes:
    """The CSV rows (no header), formatted by ``polars.DataFrame.write_csv`` (off the GIL).

    Floats are written in the shortest form that reads back to the same float32/64 value, always
    with a decimal point or an exponent (``-0.0``, ``3.0``, ``1e+19``), so readers infer floats;
    float16 goes through float32 (which holds it exactly); booleans are written as 0/1.
    """
    buffer = io.BytesIO()
    _polars_frame(arrays).write_csv(buffer, include_header=False, quote_style="never")
    return buffer.getvalue()


def _polars_frame(arrays: dict[str, np.ndarray]) -> Any:
    """One ``polars.DataFrame`` column per csv column after the header's ``step, env`` (see
    :func:`_polars_csv_body`)."""
    pl = _polars()
    steps, envs, flat = csv_fixed.flat_rows(arrays)
    columns = {"0": np.repeat(np.arange(steps, dtype=np.int64), envs),
               "1": np.tile(np.arange(envs, dtype=np.int64), steps)}
    for a in flat:
        if a.dtype.kind == "b":
            a = a.view(np.uint8)
        elif a.dtype == np.float16:
            a = a.astype(np.float32)
        for column in np.ascontiguousarray(a.T):
            columns[str(len(columns))] = column
    return pl.DataFrame(columns)


_POLARS: Any = False  # not looked up yet


def _polars() -> Any:
    """The ``polars`` module, or None when it is not installed."""
    global _POLARS
    if _POLARS is False:
        try:
            import polars
        except ImportError:
            polars = None
        _POLARS = polars
    return _POLARS


# -- reading ----------------------------------------------------------------------------------
