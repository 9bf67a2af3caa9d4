"""CSV text of memory dumps: ``step, env, <tensor>.<i>`` rows, floats that read back bit-exactly.

Three engines write the same header and the same values (they read back to the same bits):

* ``fixed`` (:class:`FixedWidthCsv`, numpy): float32/float16 as ``%+.8e``, booleans as 0/1, ``step``
  and ``env`` zero-padded, so every row has the same length and numpy fills the text column by
  column. The fastest; it takes float32 / float16 / bool dumps with finite values only (:func:`fits`),
  which is what agents store. The default for such dumps.
* ``polars`` (``polars.DataFrame.write_csv``: Rust, releases the GIL, shortest round-trip float text
  that always keeps a decimal point or exponent): every other dump, when polars is importable.
* ``numpy`` (``%`` formatting of row blocks with 5/9/17 significant digits for float16/32/64): every
  other dump without polars. Float columns whose values all look like integers get a decimal point
  where needed (-0.0, huge values), so a plain ``pandas.read_csv`` keeps them as floats (and -0.0's sign).

``CSV_ENGINE`` forces one. This module imports numpy only (polars on first use), not torch: the csv
child process (:mod:`skrl_isaac.dumps.csv_child`) runs it.
"""

from __future__ import annotations

import io
import threading
from typing import Any, Callable

import numpy as np

from skrl_isaac.utils.files import atomic_write

CSV_FLOAT_FORMATS = {np.dtype(np.float16): "%.5g", np.dtype(np.float32): "%.9g", np.dtype(np.float64): "%.17g"}
CSV_CHUNK_ROWS = 128  # rows formatted per call (numpy engine): keeps each GIL hold on the writer thread short
CSV_ENGINES = ("fixed", "polars", "numpy")
CSV_ENGINE: str | None = None  # "fixed" | "polars" | "numpy"; None: the fastest that can (see csv_engine())
_FIXED = threading.local()  # each writing thread's FixedWidthCsv (it keeps scratch arrays)


def csv_columns(arrays: dict[str, np.ndarray]) -> list[str]:
    return ["step", "env"] + [f"{name}.{i}" for name, a in arrays.items() for i in range(a.shape[-1])]


def csv_engine(arrays: dict[str, np.ndarray] | None = None) -> str:
    """The CSV writer :func:`write_csv` uses by default for ``arrays``: ``CSV_ENGINE`` if set, else
    ``"fixed"`` when it can write them (:func:`fits`: float32/float16/bool, all finite),
    else ``"polars"`` when polars is importable, else ``"numpy"``. Without ``arrays``: the engine
    for dumps that ``"fixed"`` cannot write."""
    if CSV_ENGINE is not None:
        return CSV_ENGINE
    if arrays is not None and fits(arrays):
        return "fixed"
    return "polars" if _polars() is not None else "numpy"


def write_csv(f: Any, arrays: dict[str, np.ndarray], engine: str | None = None) -> None:
    """Write ``arrays`` (``{name: (steps, envs, size)}``) as CSV to the file ``f`` (binary or text).

    ``engine``: ``"fixed"`` (:class:`FixedWidthCsv`: numpy, ``%+.8e``, zero-padded ``step``/``env``; float32,
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
    if engine == "fixed" and (explicit or CSV_ENGINE is not None) and not fits(arrays):
        raise ValueError(f"the 'fixed' csv engine writes float32, float16 and bool tensors with finite values "
                         f"only, got {misfits(arrays)}; use engine='polars' or 'numpy'")
    text = isinstance(f, io.TextIOBase)
    write = f.write if text else (lambda s: f.write(s.encode("utf-8")))  # (tensor names may be non-ASCII)
    write(",".join(csv_columns(arrays)) + "\n")
    if engine == "fixed":
        if not hasattr(_FIXED, "writer"):
            _FIXED.writer = FixedWidthCsv()
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
    steps, envs, flat = flat_rows(arrays)
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
    steps, envs, flat = flat_rows(arrays)
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


def write_csv_file(path: str, arrays: dict[str, np.ndarray], engine: str | None = None) -> None:
    """Write ``arrays`` as a csv memory dump to ``path`` atomically (temp file, fsync, rename), then its
    integrity record ``<path>.sha256`` (:mod:`skrl_isaac.dumps.csv_integrity`)."""
    from skrl_isaac.dumps import csv_integrity

    measured = []

    def measure(tmp: str) -> None:
        measured.append(csv_integrity.measure(tmp))
        csv_integrity.remove_record(path)  # an older record never describes the new file

    atomic_write(path, lambda f: write_csv(f, arrays, engine), mode="wb", before_replace=measure)
    csv_integrity.write_record(path, measured[0])


# -- the fixed engine ---------------------------------------------------------------------
# Fixed-width csv text for memory dumps of float32 / float16 / bool tensors, built with numpy.
#
# Every float is written as C's ``%+.8e`` (``+1.23456789e-01``: 9 significant digits, which read
# back to the same float32 bits), every boolean as ``0`` / ``1``, and ``step`` / ``env`` with
# leading zeros to the width of the largest (``03``, ``017``). So every row has the same length,
# and each chunk of rows is a ``(rows, row length)`` byte matrix that numpy fills column by column:
# no Python per value or row, no branch per digit (the files are bigger than polars' shortest digits;
# docs/memory-dumps.md has the figures).
#
# How the digits are found, for a finite float32 ``v`` (exactly a float64): ``k = floor(log10|v|)``,
# ``m = rint(|v| * 10**(8 - k))`` in float64, corrected where ``log10`` was off by one (``m`` must
# lie in ``[10**8, 10**9)``). The float64 product is within ~2e-16 relative of the exact one, far
# inside the ~3e-8 a float32 needs to read back to itself, so ``m`` is the correctly rounded 9-digit
# mantissa but for, at most, an exact decimal tie where ``10**(8 - k)`` is not exact in float64
# (which would still read back exactly); the tests compare with C's ``printf`` on edge values.
# Non-finite values, and dtypes other than float32 / float16 / bool, are not handled here:
# :func:`fits` says whether a dump can be written this way.

FLOAT_WIDTH = 15  # "+d.dddddddde+dd"
CHUNK_VALUES = 1 << 15  # floats formatted per numpy pass: their scratch arrays stay in the L2 cache
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float16))
_BOOL = np.dtype(np.bool_)
# k = floor(log10|v|) is kept in [_K_MIN, _K_MAX]: the float32 range (k in [-45, 38]) and room for the +-1 fix
_K_MIN, _K_MAX = -48, 41
_SCALE = np.array([10.0 ** (8 - k) for k in range(_K_MIN, _K_MAX + 1)])  # 10**(8 - k)
_EXPONENT = np.frombuffer(b"".join(b"e%+03d" % k for k in range(_K_MIN, _K_MAX + 1)), dtype="<u4")  # "e-48".."e+41"
_DIGITS4 = np.frombuffer(b"".join(b"%04d" % i for i in range(10000)), dtype="<u4").astype(np.uint64)  # "0000".."9999"
_DIGITS4_HIGH = _DIGITS4 << np.uint64(32)
# one value's text and its comma: "+d.dddddddde+dd,"
_CELL = np.dtype({"names": ["sign", "lead", "point", "fraction", "exponent", "comma"],
                  "formats": ["u1", "u1", "u1", "<u8", "<u4", "u1"],
                  "offsets": [0, 1, 2, 3, 11, 15], "itemsize": FLOAT_WIDTH + 1})


def fits(arrays: dict[str, np.ndarray]) -> bool:
    """Can :class:`FixedWidthCsv` write ``arrays``: float32 / float16 / bool only, all floats finite?"""
    return not misfits(arrays)


def misfits(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Why :func:`fits` is False: ``{name: "dtype float64" or "NaN/inf values"}`` for each tensor it cannot write."""
    out = {}
    for name, a in arrays.items():
        if a.dtype not in _FLOAT_DTYPES and a.dtype != _BOOL:
            out[name] = f"dtype {a.dtype}"
        elif a.dtype != _BOOL and not np.isfinite(a).all():
            out[name] = "NaN/inf values"
    return out


def flat_rows(arrays: dict[str, np.ndarray]) -> tuple[int, int, list[np.ndarray]]:
    """``(steps, envs, [each (steps, envs, size) array as (steps * envs, size) rows])``: a dump's csv rows
    run over the envs of each step (row ``step * envs + env``)."""
    steps, envs = next(iter(arrays.values())).shape[:2]
    return steps, envs, [a.reshape(steps * envs, a.shape[-1]) for a in arrays.values()]


def _digits(n: int) -> int:
    return len(str(max(n - 1, 0)))


class FixedWidthCsv:
    """Writes the csv rows of dumps (``{name: (steps, envs, size)}``) a chunk of rows at a time,
    through scratch arrays of ~``CHUNK_VALUES`` values that it keeps between dumps (so a training
    run's exports allocate nothing after the first, and memory stays bounded whatever the dump's size)."""

    def __init__(self) -> None:
        self._scratch: dict[str, np.ndarray] = {}

    def write(self, write: Callable[[memoryview], Any], arrays: dict[str, np.ndarray]) -> None:
        """Call ``write`` with the csv rows (no header) of ``arrays`` (see :func:`fits`), in chunks of
        whole rows; each chunk's bytes are valid during the call only."""
        steps, envs, flat = flat_rows(arrays)
        rows = steps * envs
        ws, we = _digits(steps), _digits(envs)
        bools, floats = [], []  # (values, first byte in the row)
        offset = ws + we + 2
        for a in flat:
            (bools if a.dtype == _BOOL else floats).append((a, offset))
            offset += (2 if a.dtype == _BOOL else FLOAT_WIDTH + 1) * a.shape[1]
        row_len = offset
        chunk = max(1, min(rows, CHUNK_VALUES // sum(a.shape[1] for a in flat)))
        step_text = np.frombuffer(b"".join(b"%0*d," % (ws, i) for i in range(steps)), np.uint8).reshape(steps, ws + 1)
        env_text = np.frombuffer(b"".join(b"%0*d," % (we, i) for i in range(envs)), np.uint8).reshape(envs, we + 1)
        row = self._buffer("row", np.intp, chunk)
        index = self._buffer("index", np.intp, chunk)
        buffer = self._buffer("text", np.uint8, chunk * row_len)
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            text = buffer[:n * row_len].reshape(n, row_len)
            row_, index_ = row[:n], index[:n]
            np.add(np.arange(n), start, out=row_)
            np.floor_divide(row_, envs, out=index_)
            np.take(step_text, index_, axis=0, out=text[:, :ws + 1], mode="clip")
            np.remainder(row_, envs, out=index_)
            np.take(env_text, index_, axis=0, out=text[:, ws + 1:ws + we + 2], mode="clip")
            for a, at in bools:
                block = text[:, at:at + 2 * a.shape[1]].reshape(n, a.shape[1], 2)
                np.add(a[start:start + n].view(np.uint8), ord("0"), out=block[:, :, 0])
                block[:, :, 1] = ord(",")
            if floats:
                self._floats([(a[start:start + n], at) for a, at in floats], text)
            text[:, row_len - 1] = ord("\n")
            write(memoryview(buffer[:n * row_len]))

    def _buffer(self, name: str, dtype: Any, n: int) -> np.ndarray:
        buf = self._scratch.get(name)
        if buf is None or buf.dtype != dtype or buf.size < n:
            buf = self._scratch[name] = np.empty(n, dtype=dtype)
        return buf[:n]

    def _floats(self, floats: list[tuple[np.ndarray, int]], text: np.ndarray) -> None:
        """Write the float tensors' values (``(rows, cols)`` each, finite) as ``%+.8e,`` into
        ``text`` (``(rows, row length)`` bytes) at their byte offsets."""
        n = text.shape[0]
        columns = sum(a.shape[1] for a, _ in floats)
        x_, scaled_ = (self._buffer(b, np.float64, n * columns).reshape(n, columns) for b in ("x", "scaled"))
        k_, m_, q_ = (self._buffer(b, np.int32, n * columns).reshape(n, columns) for b in ("k", "m", "q"))
        neg_ = self._buffer("negative", np.bool_, n * columns).reshape(n, columns)
        frac_ = self._buffer("fraction", np.uint64, n * columns).reshape(n, columns)
        cells_ = self._buffer("cells", _CELL, n * columns).reshape(n, columns)
        cells_["point"], cells_["comma"] = ord("."), ord(",")
        column = 0
        for a, _ in floats:
            np.copyto(x_[:, column:column + a.shape[1]], a)  # exact in float64
            column += a.shape[1]
        np.signbit(x_, out=neg_)
        np.abs(x_, out=x_)
        with np.errstate(divide="ignore"):
            np.log10(x_, out=scaled_)  # log10(0) = -inf: clipped, then fixed below
        np.floor(scaled_, out=scaled_)
        np.clip(scaled_, _K_MIN + 1, _K_MAX - 1, out=scaled_)
        np.copyto(k_, scaled_, casting="unsafe")
        np.subtract(k_, _K_MIN, out=q_)
        np.take(_SCALE, q_, out=scaled_, mode="clip")
        np.multiply(x_, scaled_, out=scaled_)
        np.rint(scaled_, out=scaled_)
        np.copyto(m_, scaled_, casting="unsafe")
        # m outside [1e8, 1e9): log10 was off by one near a power of ten, or the value is zero
        np.subtract(m_, 100_000_000, out=q_)
        off = np.flatnonzero(q_.reshape(-1).view(np.uint32) >= 900_000_000)
        if off.size:
            _fix(x_.reshape(-1), k_.reshape(-1), m_.reshape(-1), off)
        np.multiply(neg_.view(np.uint8), ord("-") - ord("+"), out=cells_["sign"])
        np.add(cells_["sign"], ord("+"), out=cells_["sign"])
        np.floor_divide(m_, 100_000_000, out=q_)
        np.add(q_, ord("0"), out=cells_["lead"], casting="unsafe")
        np.multiply(q_, 100_000_000, out=q_)
        np.subtract(m_, q_, out=m_)  # the 8 digits after the point
        np.floor_divide(m_, 10_000, out=q_)
        np.take(_DIGITS4, q_, out=frac_, mode="clip")
        np.multiply(q_, 10_000, out=q_)
        np.subtract(m_, q_, out=m_)
        np.take(_DIGITS4_HIGH, m_, out=scaled_.view(np.uint64), mode="clip")
        np.bitwise_or(frac_, scaled_.view(np.uint64), out=cells_["fraction"])
        np.subtract(k_, _K_MIN, out=q_)
        np.take(_EXPONENT, q_, out=cells_["exponent"], mode="clip")
        cell_bytes = cells_.view(np.uint8).reshape(n, columns * (FLOAT_WIDTH + 1))
        column = 0
        for a, offset in floats:
            width = (FLOAT_WIDTH + 1) * a.shape[1]
            text[:, offset:offset + width] = cell_bytes[:, column:column + width]
            column += width


def _fix(x: np.ndarray, k: np.ndarray, m: np.ndarray, off: np.ndarray) -> None:
    """Redo the values at ``off``: zeros get ``k = 0, m = 0``; others move ``k`` by one so that
    ``m`` lands in ``[1e8, 1e9)`` (log10 is off by at most one, so the first pass settles it; the
    second is a guard)."""
    xs, ks = x[off], k[off].astype(np.int64)
    zero = xs == 0
    for _ in range(2):
        ms = np.rint(xs * _SCALE[ks - _K_MIN])
        ks = np.where(zero, 0, np.where(ms >= 1e9, ks + 1, np.where(ms < 1e8, ks - 1, ks)))
    k[off] = ks
    m[off] = np.where(zero, 0, np.rint(xs * _SCALE[ks - _K_MIN]))
