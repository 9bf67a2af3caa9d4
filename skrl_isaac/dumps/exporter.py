"""A memory's tensors to dump files and back: the exporter a memory calls once per fill cycle,
``Memory.save`` (:func:`save_tensors`) and ``Memory.load`` (:func:`load_tensors`).

Everything here takes the memory's public tensors (``{name: (memory_size, num_envs, size)}`` on
the env device) as arguments; the memory keeps its own state (fill cycles, write position).
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import torch

from skrl_isaac.dumps.formats import (DumpError, check_exportable, check_format, dump_format, dump_path, new_prefix,
                                      read_dump, write_dump)
from skrl_isaac.dumps.writer import ExportWriter


def snapshot(tensors: dict[str, torch.Tensor], steps: int | None = None) -> tuple[dict[str, torch.Tensor], Callable[[], None] | None]:
    """Host copies of ``tensors`` (their first ``steps`` rows, names sorted), and a function that waits for them.

    On CUDA the copies are enqueued asynchronously (``non_blocking``) behind the writes already on
    the stream and a CUDA event is recorded; the returned function waits for that event. On the
    CPU the tensors are cloned (the memory is about to be overwritten).
    """
    out: dict[str, torch.Tensor] = {}
    on_cuda = False
    for name in sorted(tensors):
        t = tensors[name] if steps is None else tensors[name][:steps]
        if t.device.type == "cpu":
            out[name] = t.clone()
        else:
            out[name] = t.to("cpu", non_blocking=True)
            on_cuda = on_cuda or t.device.type == "cuda"
    if on_cuda:
        event = torch.cuda.Event()
        event.record()
        return out, event.synchronize
    return out, None


class MemoryExporter:
    """Writes each fill cycle of a memory to ``<directory>/<creation time>_memory_<cycle>.<ext>``, off
    the training thread.

    The memory calls :meth:`export` once per fill cycle, before the cycle's first overwrite: the only
    device -> host copy happens there, and a background :class:`~skrl_isaac.dumps.writer.ExportWriter`
    (started at the first export) writes the file. The creation-time prefix is fixed at the first
    export, so the files of one memory share it and sort by cycle.

    :param directory: folder of the exported files (made if missing)
    :param fmt: ``"pt"``, ``"np"`` or ``"csv"``
    :param csv_child: csv dumps through the low-priority child process (default:
        :data:`skrl_isaac.dumps.writer.CSV_CHILD` when the writer starts)
    """

    def __init__(self, directory: str | os.PathLike, fmt: str, csv_child: bool | None = None) -> None:
        self.directory = os.fspath(directory)
        self.format = check_format(fmt)
        self.writer: ExportWriter | None = None
        self._csv_child = csv_child
        self._prefix: str | None = None

    @property
    def failed(self) -> bool:
        """Has a background write failed since the last :meth:`raise_if_failed` (cheap: polled per step)?"""
        return self.writer is not None and self.writer.failed

    def export(self, tensors: dict[str, torch.Tensor], cycle: int) -> None:
        """Hand fill cycle ``cycle`` of ``tensors`` to the background writer (blocks while two are pending)."""
        fmt = self.format
        if self._prefix is None:
            self._prefix = new_prefix(self.directory)
        if self.writer is None:
            self.writer = ExportWriter(csv_child=self._csv_child)
        writer = self.writer

        def take() -> tuple[dict[str, torch.Tensor], Callable[[], None] | None]:
            host, ready = snapshot(tensors)
            check_exportable(host, fmt)
            return host, ready

        # csv through the idle-priority child: if it is starved of CPU, the dump is written here instead
        write_now = (lambda p, host: write_dump(p, host, fmt)) if fmt == "csv" and writer.csv_process else None
        writer.submit(dump_path(self.directory, self._prefix, cycle, fmt), take,
                      lambda p, host: write_dump(p, host, fmt, writer.csv_process), write_now)

    def raise_if_failed(self) -> None:
        """Raise a failed background write (once), as a :class:`~skrl_isaac.dumps.writer.MemoryExportError`."""
        if self.writer is not None:
            self.writer.raise_if_failed()

    def wait(self) -> None:
        """Block until every export handed over is written, then raise a failed one."""
        if self.writer is not None:
            self.writer.wait()
        self.raise_if_failed()

    def close(self) -> None:
        """Wait for the pending writes and stop the writer thread; raise a failed write."""
        if self.writer is not None:
            self.writer.close()


def save_tensors(tensors: dict[str, torch.Tensor], steps: int, directory: str, fmt: str = "pt", cycle: int = 0) -> str:
    """Write the first ``steps`` rows of ``tensors`` to a new dump in ``directory`` now (synchronously);
    return its path (``<creation time>_memory_<cycle>.<ext>``)."""
    check_format(fmt)
    if steps == 0:
        raise ValueError("cannot save an empty memory: add samples first")
    if not tensors:
        raise ValueError("cannot save a memory without tensors: create_tensor() first")
    host, ready = snapshot(tensors, steps)
    check_exportable(host, fmt)
    if ready is not None:
        ready()
    path = dump_path(directory, new_prefix(directory), cycle, fmt)
    write_dump(path, host, fmt)
    return path


def load_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor]) -> int:
    """Read a dump of any format into ``tensors`` (``{name: (memory_size, num_envs, size)}``) exactly;
    return the number of steps it held (its first rows are written, the others left alone).

    The file must hold exactly these tensors, each ``(steps, num_envs, size)`` with their
    ``num_envs`` and sizes, ``1 <= steps <= memory_size``, and (``.pt`` / ``.npz``) the same dtypes.
    CSV columns are cast to the tensors' dtypes: integers and booleans must survive the cast exactly,
    floats are rounded to nearest (exact for an exported file) and must not overflow.
    Nothing is written unless every check passes.

    :raises DumpError: listing every mismatch
    """
    path = os.fspath(path)
    fmt = dump_format(path)
    mem_np = {n: torch.empty((), dtype=t.dtype).numpy().dtype if t.dtype != torch.bfloat16 else None
              for n, t in tensors.items()}
    csv_dtypes = {n: np.float64 for n, d in mem_np.items() if d is not None and d.kind == "f"}
    data = read_dump(path, csv_dtypes)

    problems = []
    extra, missing = sorted(set(data) - set(tensors)), sorted(set(tensors) - set(data))
    if extra:
        problems.append(f"tensors in the file but not in the memory: {extra}")
    if missing:
        problems.append(f"tensors in the memory but not in the file: {missing}")
    steps = next(iter(data.values())).shape[0]
    memory_size = next(iter(tensors.values())).shape[0] if tensors else 0
    if steps == 0:
        problems.append("the file holds no steps")
    if steps > memory_size:
        problems.append(f"the file holds {steps} steps, more than memory_size={memory_size}")
    converted: dict[str, torch.Tensor] = {}
    for name in sorted(set(data) & set(tensors)):
        target, value = tensors[name], data[name]
        if tuple(value.shape[1:]) != tuple(target.shape[1:]):
            problems.append(f"{name!r}: file shape {tuple(value.shape)} vs memory (steps, {target.shape[1]}, {target.shape[-1]})")
            continue
        if fmt == "csv":
            value, why = _cast_exact(value, mem_np[name])
            if why:
                problems.append(f"{name!r}: {why}")
                continue
            converted[name] = torch.from_numpy(value)
        else:
            tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(value)
            if tensor.dtype != target.dtype:
                problems.append(f"{name!r}: file dtype {tensor.dtype} vs memory dtype {target.dtype}")
                continue
            converted[name] = tensor
    if problems:
        raise DumpError(f"cannot load {path!r} into this memory (tensors: "
                        f"{ {n: (tuple(t.shape), str(t.dtype)) for n, t in sorted(tensors.items())} }):\n  - "
                        + "\n  - ".join(problems))
    with torch.no_grad():
        for name, tensor in converted.items():
            tensors[name][:steps].copy_(tensor)
    return steps


def _cast_exact(value: np.ndarray, dtype: np.dtype | None) -> tuple[np.ndarray, str]:
    """Cast csv values to ``dtype``; return ``(array, "")`` or ``(value, reason)`` if inexact."""
    if dtype is None:
        return value, "the memory's dtype (bfloat16) cannot be read from csv"
    if dtype.kind == "b":
        if value.dtype.kind not in "iuf" or not np.isin(value, (0, 1)).all():
            return value, "boolean column holds values other than 0 and 1"
        return value.astype(bool), ""
    if dtype.kind in "iu":
        if value.dtype.kind not in "iuf":
            return value, f"cannot read {value.dtype} values as {dtype}"
        with np.errstate(invalid="ignore", over="ignore"):
            cast = value.astype(dtype)
            ok = np.isfinite(value).all() if value.dtype.kind == "f" else True
            ok = ok and np.array_equal(cast.astype(value.dtype), value)
            if ok and value.dtype.kind in "iu":
                info = np.iinfo(dtype)
                ok = value.size == 0 or (value.min() >= info.min and value.max() <= info.max)
        return (cast, "") if ok else (value, f"values do not fit {dtype} exactly")
    # floats: the decimals were written with enough digits that the nearest `dtype` value is the
    # exported one; what can go wrong is a finite value beyond the dtype's range
    if value.dtype.kind != "f":
        value = value.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        cast = value.astype(dtype)
    if (np.isinf(cast) & np.isfinite(value)).any():
        return value, f"values overflow {dtype}"
    return cast, ""
