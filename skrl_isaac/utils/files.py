"""Atomic file writes: a temporary file in the same folder, fsync, then rename."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable


def _umask() -> int:
    """The process's umask: read from ``/proc/self/status`` where the OS tells it (Linux >= 4.7), else
    set and restored once (the only way to read it there) and remembered."""
    global _UMASK
    try:
        with open(_PROC_STATUS, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


_PROC_STATUS = "/proc/self/status"
_UMASK: int | None = None  # the umask where /proc does not tell it (read once)


def new_file_mode(path: str | os.PathLike) -> int:
    """The permission bits a file written to ``path`` should get: those of the file it replaces, else
    what ``open()`` would give a new file (``0o666`` less the umask, e.g. ``0o644``)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` atomically: ``write(file)`` fills a temp file that then replaces ``path``.

    A crash at any moment leaves either the old file or the complete new one, never half a file.
    The file gets the permissions of the one it replaces, else those of a plain ``open()``
    (:func:`new_file_mode`; a bare temp file would be readable by its owner only).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # hidden, and not ending like the target, so a crash never leaves a file that looks like a checkpoint
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), new_file_mode(path))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically."""
    import torch  # here, so the module imports without torch (the csv export process uses atomic_write)

    atomic_write(path, lambda f: torch.save(obj, f))
