"""Memory dump files: ``pt`` / ``np`` (``.npz``) / ``csv`` dumps of a memory's tensors, written and read.

A dump holds, for every tensor of the memory, an array ``(steps, num_envs, size)``:

* ``pt``: ``torch.save`` of ``{name: CPU tensor}`` (read with ``torch.load(..., weights_only=True)``)
* ``np``: ``numpy.savez`` (``.npz``), one array per tensor
* ``csv``: a header row, then one row per ``(step, env)`` (step-major), columns
  ``step, env, <tensor>.<i>`` (``i``: index in the tensor's last dim); booleans as 0/1, integers as
  integers, floats with enough digits to read back bit-exactly (``nan``, ``inf``, ``-inf``, ``-0.0``
  included; a float column that holds ``-0.0`` writes its integral values with a decimal point, so
  ``pandas.read_csv`` keeps the sign). Float32 / float16 / bool dumps with finite values are written
  by the ``fixed`` engine (``%+.8e``, zero-padded ``step``/``env``, fixed-length rows built by numpy);
  others by ``polars.DataFrame.write_csv`` (shortest round-trip digits, off the GIL) when polars is
  installed, else by numpy ``%`` formatting (``%.5g`` / ``%.9g`` / ``%.17g`` for float16 / float32 /
  float64); all parse back to the same values (:mod:`skrl_isaac.dumps.csv_text`).

Automatic exports (``export=True``, :mod:`skrl_isaac.dumps.exporter`) are named
``<creation time>_memory_<fill cycle>.<ext>``, e.g. ``24-05-01_12-30-00-123456_memory_00000003.csv``: the time (``%y-%m-%d_%H-%M-%S-%f``) is fixed per
memory instance, so two runs never clash, and the zero-padded cycle makes the names sort by cycle.
Files are written atomically (temp file in the same folder, fsync, rename). Every dump carries an
integrity record that :func:`read_dump` checks before parsing: a SHA-256 content digest under the
extra key / array ``__integrity__`` in ``pt`` / ``np`` dumps (dropped from the data), and
``<dump>.csv.sha256`` beside a csv dump (:mod:`skrl_isaac.dumps.csv_integrity`).
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from skrl_isaac.dumps import csv_text
from skrl_isaac.dumps.csv_integrity import CsvIntegrityError, verify_csv
from skrl_isaac.dumps.csv_text import write_csv_file
from skrl_isaac.utils.files import atomic_write
from skrl_isaac.utils.integrity import DIGEST_NAME, IntegrityError, tensors_digest, verify_zip_file
from skrl_isaac.utils.stamps import time_stamp

if TYPE_CHECKING:
    from skrl_isaac.dumps.csv_child import CsvProcess

EXTENSIONS = {"pt": "pt", "np": "npz", "csv": "csv"}
FORMAT_OF_EXTENSION = {".pt": "pt", ".npz": "np", ".csv": "csv"}

_prefix_lock = threading.Lock()
_used_prefixes: set[tuple[str, str]] = set()


class DumpError(ValueError):
    """A file is not a memory dump, or does not fit the memory it is loaded into.

    :attr:`reason` is the message without the file's name (for reports that name the file already).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


# -- names ------------------------------------------------------------------------------------
def new_prefix(directory: str) -> str:
    """A creation-time prefix unique in this process for ``directory``."""
    stamp = time_stamp()
    key, n = os.path.abspath(directory), 0
    with _prefix_lock:
        prefix = stamp
        while (key, prefix) in _used_prefixes:
            n += 1
            prefix = f"{stamp}-{n}"
        _used_prefixes.add((key, prefix))
    return prefix


def dump_path(directory: str, prefix: str, cycle: int, fmt: str) -> str:
    """``<directory>/<prefix>_memory_<cycle:08d>.<ext>``."""
    return os.path.join(directory, f"{prefix}_memory_{cycle:08d}.{EXTENSIONS[fmt]}")


def check_format(fmt: str) -> str:
    """``fmt`` if it is an export format (``"pt"``, ``"np"``, ``"csv"``), else a ``ValueError``."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"memory export format must be one of {tuple(EXTENSIONS)}, got {fmt!r}")
    return fmt


# -- checks -----------------------------------------------------------------------------------
def check_exportable(tensors: dict[str, torch.Tensor], fmt: str) -> None:
    """Raise if a tensor's dtype has no ``np``/``csv`` representation (e.g. bfloat16)."""
    if fmt == "pt":
        return
    for name, t in tensors.items():
        try:
            dt = torch.empty((), dtype=t.dtype).numpy().dtype
        except TypeError:
            raise ValueError(f"tensor {name!r} has dtype {t.dtype}, which the {fmt!r} export cannot hold; "
                             f"use export_format='pt'") from None
        if fmt == "csv" and dt.kind not in "biuf":
            raise ValueError(f"tensor {name!r} has dtype {t.dtype}, which the 'csv' export cannot hold "
                             f"(bool, integer and float16/32/64 only); use 'pt' or 'np'")


# -- writing (worker thread or save) ----------------------------------------------------------
def write_dump(path: str, tensors: dict[str, torch.Tensor], fmt: str, csv_process: "CsvProcess | None" = None) -> None:
    """Write ``tensors`` (``{name: (steps, envs, size)}`` CPU tensors) to ``path`` atomically
    (``csv``: by ``csv_process``, the export writer's low-priority child, when given)."""
    if fmt == "pt":
        data = {k: v.contiguous() for k, v in tensors.items()}
        data[DIGEST_NAME] = torch.frombuffer(bytearray(_digest(data)), dtype=torch.uint8)
        atomic_write(path, lambda f: torch.save(data, f))
    elif fmt == "np":
        arrays = {k: v.numpy() for k, v in tensors.items()}
        arrays[DIGEST_NAME] = np.frombuffer(_digest(arrays), dtype=np.uint8)
        atomic_write(path, lambda f: np.savez(f, **arrays))
    elif csv_process is not None:
        # the engine as set here (csv_text.CSV_ENGINE), else the child's default: polars is imported there only
        csv_process.write(path, {k: v.numpy() for k, v in tensors.items()}, csv_text.CSV_ENGINE)
    else:
        write_csv_file(path, {k: v.numpy() for k, v in tensors.items()})


def dump_format(path: str | os.PathLike) -> str:
    """The format of a dump file from its extension (``.pt``, ``.npz``, ``.csv``), else a :class:`DumpError`."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMAT_OF_EXTENSION:
        raise DumpError(f"{os.fspath(path)!r} is not a memory dump: expected a .pt, .npz or .csv file")
    return FORMAT_OF_EXTENSION[ext]


def _not_a_dump(path: str, why: str) -> DumpError:
    return DumpError(f"{path!r} is not a memory dump: {why}", reason=f"not a memory dump: {why}")


def _damaged(path: str, why: str) -> DumpError:
    return DumpError(f"{path!r} is a damaged memory dump: {why}", reason=f"a damaged memory dump: {why}")


# -- integrity --------------------------------------------------------------------------------
def _digest(data: dict[str, Any]) -> bytes:
    """The content digest of ``{name: tensor or array}`` (:func:`skrl_isaac.utils.integrity.tensors_digest`;
    a bfloat16 tensor by its bits)."""
    def array(v: Any) -> np.ndarray:
        if isinstance(v, torch.Tensor):
            v = v.detach().contiguous()
            return v.view(torch.int16).numpy() if v.dtype == torch.bfloat16 else v.numpy()
        return v

    return tensors_digest((k, array(v)) for k, v in data.items())


def _check_digest(path: str, data: dict[str, Any]) -> str:
    """Take the digest record out of ``data`` and check it: the integrity status, or a :class:`DumpError`."""
    record = data.pop(DIGEST_NAME, None)
    if record is None:
        return "no integrity record: not verified (zip CRC-32s checked)"
    stored = (record.numpy() if isinstance(record, torch.Tensor) else np.asarray(record)).tobytes()
    if stored != _digest(data):
        raise _damaged(path, f"its content digest ({DIGEST_NAME}) does not match its tensors (changed after it "
                             "was written); use another copy of it")
    return "verified (sha256 content digest)"


def _warn_unverified(path: str, status: str) -> None:
    if not status.startswith("verified"):
        from skrl_isaac import logger

        logger.warning(f"{path}: {status}")


def verify_dump(path: str | os.PathLike) -> str:
    """Check a dump's integrity without loading it into a memory: the status that :func:`read_dump` reports
    (``"verified ..."`` or ``"no integrity record: not verified ..."``), or a :class:`DumpError`."""
    statuses: list[str] = []
    read_dump(path, on_status=statuses.append)
    return statuses[0]


def read_dump(path: str | os.PathLike, csv_dtypes: dict[str, Any] | None = None,
              on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``{name: (steps, envs, size) tensor or array}`` from a dump (tensors for ``.pt``, arrays else).

    ``csv_dtypes`` maps tensor names to the numpy dtype their csv columns are parsed as (default:
    inferred by pandas).

    The file's integrity is checked first: the zip CRC-32s and the content digest stored inside a
    ``.pt`` / ``.npz`` dump, the ``<dump>.csv.sha256`` record beside a ``.csv`` dump. A damaged or
    cut file is a :class:`DumpError`. ``on_status`` gets the outcome (``"verified ..."`` or, for a dump
    written before integrity records, ``"no integrity record: not verified ..."``); without it, an
    unverified dump is logged as a warning.
    """
    path = os.fspath(path)
    fmt = dump_format(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no memory dump at {path!r}")
    if fmt in ("pt", "np"):
        try:
            if fmt == "pt":
                verify_zip_file(path, what="memory dump", writer="torch.save", marker="data.pkl")
            else:
                verify_zip_file(path, what="memory dump", writer="numpy.savez")
        except IntegrityError as exc:
            if exc.reason.startswith("not a ") or "empty" in exc.reason:
                raise _not_a_dump(path, exc.reason.split(": ", 1)[-1]) from None
            raise _damaged(path, exc.reason) from None
    elif fmt == "csv":
        try:
            status = verify_csv(path)
        except CsvIntegrityError as exc:
            raise _damaged(path, exc.reason) from None
    if fmt == "pt":
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise _not_a_dump(path, f"torch.load failed ({type(exc).__name__}: {exc})") from exc
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()):
            raise _not_a_dump(path, "expected a dict of tensors")
    elif fmt == "np":
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:  # noqa: BLE001
            raise _not_a_dump(path, f"numpy.load failed ({type(exc).__name__}: {exc})") from exc
    else:
        data = _read_csv(path, csv_dtypes or {})
    if fmt != "csv":
        status = _check_digest(path, data)
    (on_status or (lambda status: _warn_unverified(path, status)))(status)
    if not data:
        raise _not_a_dump(path, "it holds no tensors")
    lead = None
    for k, v in data.items():
        if v.ndim != 3 or (lead is not None and tuple(v.shape[:2]) != lead):
            shapes = {n: tuple(a.shape) for n, a in data.items()}
            raise _not_a_dump(path, f"expected arrays (steps, num_envs, size) sharing steps and num_envs, got {shapes}")
        lead = tuple(v.shape[:2])
    return data


_COLUMN = re.compile(r"^(.+)\.(\d+)$")


def _pandas() -> tuple[Any, dict[str, Any]]:
    """``pandas`` (imported on first use: a training run that only exports never needs it) and the
    ``read_csv`` options that parse floats exactly: pandas >= 3.1 does by default (fast_float;
    ``float_precision`` is deprecated there), before only ``float_precision="round_trip"`` is correctly rounded."""
    import pandas as pd

    exact = tuple(int(x) for x in re.findall(r"\d+", pd.__version__)[:2]) >= (3, 1)
    return pd, ({} if exact else {"float_precision": "round_trip"})


def _read_csv(path: str, dtypes: dict[str, Any]) -> dict[str, np.ndarray]:
    pd, exact_opts = _pandas()
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except Exception as exc:  # noqa: BLE001
        raise _not_a_dump(path, f"pandas could not read it ({type(exc).__name__}: {exc})") from exc
    if header[:2] != ["step", "env"]:
        raise _not_a_dump(path, f"the header must start with 'step,env', got {','.join(map(str, header[:3]))!r}")
    groups: dict[str, list[int]] = {}
    for col in header[2:]:
        m = _COLUMN.match(str(col))
        if m is None:
            raise _not_a_dump(path, f"column {col!r} is not '<tensor>.<index>'")
        groups.setdefault(m.group(1), []).append(int(m.group(2)))
    for name, idx in groups.items():
        if idx != list(range(len(idx))):
            raise _not_a_dump(path, f"the columns of tensor {name!r} are not {name}.0 .. {name}.{len(idx) - 1} in order")
    col_dtypes = {c: dtypes[_COLUMN.match(c).group(1)] for c in header[2:] if _COLUMN.match(c).group(1) in dtypes}
    try:
        df = pd.read_csv(path, dtype=col_dtypes, **exact_opts)
    except Exception as exc:  # noqa: BLE001
        why = _unparseable_cells(path)  # a forced float column meets a cell that is not a number
        raise _not_a_dump(path, why or f"pandas could not parse it ({type(exc).__name__}: {exc})") from exc
    numeric = df.dtypes.map(lambda d: d.kind in "biuf").all()
    if not numeric or df.isna().to_numpy().any():  # text cells, or NaNs that may be empty / missing cells
        why = _unparseable_cells(path)
        if why:
            raise _not_a_dump(path, why)
        if not numeric:
            raise _not_a_dump(path, "every column must hold numbers")
    rows = len(df)
    step, env = df["step"].to_numpy(), df["env"].to_numpy()
    if rows == 0 or step.dtype.kind not in "iu" or env.dtype.kind not in "iu":
        raise _not_a_dump(path, "expected integer 'step' and 'env' columns and at least one row")
    envs = int(env.max()) + 1
    steps = rows // envs
    if steps * envs != rows or not (np.array_equal(step, np.repeat(np.arange(steps), envs))
                                     and np.array_equal(env, np.tile(np.arange(envs), steps))):
        raise _not_a_dump(path, "rows must be one per (step, env), step-major: step 0 env 0, step 0 env 1, ...")
    out = {}
    for name, idx in groups.items():
        # a copy: pandas hands out read-only views, which torch.from_numpy warns about
        block = df[[f"{name}.{i}" for i in idx]].to_numpy(copy=True)
        out[name] = block.reshape(steps, envs, len(idx))
    return out


_SHOWN_CELLS = 3


def _unparseable_cells(path: str) -> str:
    """Why the csv ``path`` does not parse as numbers: its cells that are neither a number nor ``nan``
    (empty, missing from a truncated row, or text), with line, row and column; ``""`` if there are none
    (or the file cannot be read cell by cell: the caller reports its own reason)."""
    pd, _ = _pandas()
    try:
        text = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception:  # noqa: BLE001
        return ""
    bad_rows, bad_cols = [], []
    for j, column in enumerate(text.columns):
        cells = text[column]
        bad = pd.to_numeric(cells, errors="coerce").isna().to_numpy() & ~cells.str.strip().str.lower().str.lstrip(
            "+-").eq("nan").to_numpy()
        for i in np.flatnonzero(bad):
            bad_rows.append(int(i))
            bad_cols.append(j)
    if not bad_rows:
        return ""
    order = np.lexsort((bad_cols, bad_rows))
    shown = []
    for k in order[:_SHOWN_CELLS]:
        row, column = bad_rows[k], text.columns[bad_cols[k]]
        cell = text.iat[row, bad_cols[k]]
        shown.append(f"line {row + 2} (data row {row + 1}), column {column!r}: "
                     + (repr(cell) if cell.strip() else "empty or missing"))
    more = f" and {len(order) - _SHOWN_CELLS} more" if len(order) > _SHOWN_CELLS else ""
    return (f"{len(order)} cell(s) are not numbers: " + "; ".join(shown) + more
            + " (a cell holds an integer, a decimal, inf or nan; a truncated row misses its last cells)")


def load_dump(path: str | os.PathLike, on_status: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """A dump of any format as ``{name: numpy array (steps, num_envs, size)}``, its integrity checked
    first (see :func:`read_dump`, which calls ``on_status``).

    ``.pt`` / ``.npz`` keep their dtypes; ``.csv`` dtypes are inferred (int64 / float64).
    """
    data = read_dump(path, on_status=on_status)
    out = {}
    for name, v in data.items():
        if isinstance(v, torch.Tensor):
            v = v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()
        out[name] = v
    return out
