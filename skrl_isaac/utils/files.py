"""Atomic file writes: a temporary file in the same folder, fsync, then rename."""

from __future__ import annotations

import errno
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


class FileWriteError(OSError):
    """A file could not be written: one line naming the file and the OS error (``errno``, ``strerror``
    and ``filename`` are set as on any ``OSError``); the file's previous version, if any, is unchanged."""

    def __str__(self) -> str:
        return f"could not write {self.filename!r}: [Errno {self.errno}] {self.strerror}"


class _RecordingFile:
    """A file object that remembers the first ``OSError`` its writes raise: ``torch.save`` turns one into
    ``RuntimeError: ... unexpected pos``, which no longer says "No space left on device"."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.error: OSError | None = None

    def _record(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except OSError as exc:
            if self.error is None:
                self.error = exc
            raise

    def write(self, data: Any) -> Any:
        return self._record(self._f.write, data)

    def flush(self) -> None:
        self._record(self._f.flush)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


LOW_SPACE_BYTES = 1 << 16  # free bytes under which a failed write is put down to a full disk


def _write_error(path: str, folder: str, exc: BaseException, recorded: OSError | None) -> BaseException:
    """The error to raise for a failed atomic write of ``path``: the OS error (recorded by the file, or
    raised directly) as a :class:`FileWriteError` naming ``path``; an error that hides the OS error
    (a library's own text) on a full file system as ``ENOSPC``; anything else unchanged."""
    os_error = recorded if recorded is not None else (exc if isinstance(exc, OSError) else None)
    if isinstance(exc, FileWriteError):
        return exc
    if os_error is not None and os_error.errno is not None:
        return FileWriteError(os_error.errno, os_error.strerror or os.strerror(os_error.errno), path)
    if isinstance(exc, Exception):
        try:
            st = os.statvfs(folder)
            if st.f_bavail * st.f_frsize < LOW_SPACE_BYTES:
                return FileWriteError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        except (OSError, AttributeError):
            pass
    return exc


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb",
                 before_replace: Callable[[str], None] | None = None) -> None:
    """Write ``path`` atomically: ``write(file)`` fills a temp file that then replaces ``path``.

    A crash at any moment leaves either the old file or the complete new one, never half a file.
    The file gets the permissions of the one it replaces, else those of a plain ``open()``
    (:func:`new_file_mode`; a bare temp file would be readable by its owner only).
    ``before_replace(temp_path)`` runs once the temp file is complete and synced, before the rename
    (e.g. to write a digest of it).

    :raises FileWriteError: when the OS refuses the write (``No space left on device``, ``Read-only
        file system``, ``Permission denied``, ...): one line naming ``path`` and the errno text, also
        when a library (``torch.save``) hid the OS error in its own message; the temp file is removed
        and the previous ``path``, if any, is unchanged
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        # hidden, and not ending like the target, so a crash never leaves a file that looks like a checkpoint
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _write_error(path, folder, exc, None) from None
    recording: _RecordingFile | None = None
    try:
        with os.fdopen(fd, mode) as f:
            recording = _RecordingFile(f)
            write(recording)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), new_file_mode(path))
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # the first error is the one to report
        error = _write_error(path, folder, exc, recording.error if recording is not None else None)
        if error is exc:
            raise
        raise error from exc


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically."""
    import torch  # here, so the module imports without torch (the csv export process uses atomic_write)

    atomic_write(path, lambda f: torch.save(obj, f))
