"""A run's folder: a plain experiment name, one run at a time (an OS file lock), no stale temp files.

* :func:`validate_experiment_name`: an experiment name is one plain folder name inside ``runs/``
  (no path separators, no ``.`` / ``..``, no absolute path, bounded length, known characters).
* :class:`RunFolderLock`: a run holds ``fcntl.flock`` on ``<run folder>/.lock`` for its lifetime; the
  OS releases it when the process ends, however it ends (a crash, SIGKILL), so a second run into the
  same folder is refused with the holder's pid while the first lives, and never after.
* :func:`remove_stale_temp_files`: temp files of our own naming (``.<name>.<random>.tmp``, see
  :func:`skrl_isaac.utils.files.atomic_write`) left by a killed write.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import time
import unicodedata
from typing import Any

MAX_NAME_LENGTH = 128  # characters (and at most 255 bytes of UTF-8, the usual file-name limit)
NAME_PUNCTUATION = "._-+=@"
LOCK_FILE_NAME = ".lock"
TEMP_FILE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")
STALE_AFTER_S = 60.0  # a temp file untouched this long has no live writer (a writer touches it as it writes)

_VALID = (f"a name is 1-{MAX_NAME_LENGTH} characters: letters (unicode included), digits and {' '.join(NAME_PUNCTUATION)}, "
          "not starting with '.' or '-'")


class ExperimentNameError(ValueError):
    """An experiment name that is not one plain folder name (the message says why and what is valid)."""


class RunFolderLocked(RuntimeError):
    """Another live process holds the run folder's lock: :attr:`pid` is its process id (None if unknown)."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def validate_experiment_name(name: Any) -> str:
    """``name`` as the plain folder name of a run, or :class:`ExperimentNameError` (one line).

    hydra parses ``experiment=2024`` as an int and ``experiment=nan`` as a float: numbers and booleans
    become their text (``"2024"``, ``"nan"``, ``"true"``; a float is written as Python writes it, so
    ``experiment=1e3`` becomes ``"1000.0"``: quote it, ``experiment="'1e3'"``, to keep the text).
    ``""`` is returned as is, and None (hydra's ``experiment=null``) as ``""``: they ask for the default name.
    Unicode letters and digits are accepted (normalized to NFC, so the same name typed on two systems
    is one folder); whitespace, control characters, path separators and other symbols are not.
    """
    if name is None:
        return ""
    if isinstance(name, bool):
        name = "true" if name else "false"
    elif isinstance(name, int):
        name = str(name)
    elif isinstance(name, float):
        name = "nan" if math.isnan(name) else str(name)
    elif not isinstance(name, str):
        raise ExperimentNameError(f"experiment name must be a string, got {type(name).__name__} {name!r}; {_VALID}")
    if name == "":
        return name
    name = unicodedata.normalize("NFC", name)
    shown = name if len(name) <= 60 else name[:57] + "..."

    def bad(why: str) -> ExperimentNameError:
        return ExperimentNameError(f"experiment name {shown!r} is not a plain folder name: {why}; {_VALID}")

    if name in (".", ".."):
        raise bad("it names a folder itself, not a run folder inside runs/")
    if os.path.isabs(name) or "/" in name or "\\" in name:
        raise bad("it holds a path separator, so the run would be written outside runs/ or in a sub-folder")
    if len(name) > MAX_NAME_LENGTH or len(name.encode("utf-8")) > 255:
        raise bad(f"it is {len(name)} characters long")
    if name[0] in ".-":
        raise bad(f"it starts with {name[0]!r}")
    odd = sorted({c for c in name if not (c.isalnum() or c in NAME_PUNCTUATION)})
    if odd:
        raise bad("it holds " + ", ".join(repr(c) if c.isprintable() else ascii(c) for c in odd[:5]))
    return name


class RunFolderLock:
    """An exclusive lock on a run folder, held from :meth:`acquire` until :meth:`release` or the process's end.

    ``fcntl.flock`` on ``<folder>/.lock`` (the file stays; holding the lock is what counts). The file
    records the holder's pid, so a refused run can name it. The OS drops the lock when the holder
    exits, however it exits: a crashed or killed run never blocks the next one. The lock is per open
    file, so a second lock on the same folder in the same process is refused too. Children forked
    without ``exec`` share the holder's open file, and with it the lock, until they end.

    Use as a context manager or call :meth:`acquire` / :meth:`release`.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK_FILE_NAME)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunFolderLock":
        """Take the lock (creating the folder if needed), or raise :class:`RunFolderLocked` naming the holder's pid."""
        import fcntl

        if self._fd is not None:
            return self
        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            pid = self._holder_pid()
            holder = f"pid {pid}" if pid is not None else "a process that has not written its pid yet"
            raise RunFolderLocked(f"run folder {self.folder} is in use by another run ({holder}); wait for it to end "
                                  "or choose another experiment= name", pid) from None
        record = f"{os.getpid()}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (idempotent). The lock file stays: removing it would let two runs lock two different files."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor of the open file releases the flock

    def _holder_pid(self, wait_s: float = 0.5) -> int | None:
        """The pid written in the lock file (the holder writes it just after locking: wait a moment for it)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                with open(self.path, "rb") as f:
                    text = f.read(32).decode("ascii", "replace").strip()
                if text.isdigit():
                    return int(text)
            except OSError:
                pass
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def __enter__(self) -> "RunFolderLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def remove_stale_temp_files(folder: str | os.PathLike, min_age_s: float = STALE_AFTER_S) -> list[str]:
    """Remove the temp files of our atomic writes (``.<name>.<8 characters>.tmp``) that a killed write left
    in ``folder`` and its sub-folders; return their paths.

    Only regular files of that pattern (never links, folders or other names), and only those not
    modified for ``min_age_s`` seconds: a live writer keeps touching its temp file, so a run that
    opens a folder another process is still writing into never removes that process's file. A run
    that holds the folder's :class:`RunFolderLock` before its own writers start may pass ``0``.
    """
    removed: list[str] = []
    now = time.time()
    for root, _dirs, files in os.walk(os.fspath(folder)):
        for name in files:
            if not TEMP_FILE.match(name):
                continue
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < min_age_s:
                    continue
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed.append(path)
    return sorted(removed)


_CHECKPOINT = re.compile(r"^(\d+)_(\w+)\.pt$")


def newest_complete_checkpoint(folder: str | os.PathLike, model: str = "agent") -> str | None:
    """The ``<timestep>_<model>.pt`` file in ``folder`` with the highest timestep that verifies
    (:func:`skrl_isaac.utils.integrity.verify_checkpoint_file`), or None: what a run that failed can say
    it kept. ``model="agent"`` for resumable checkpoints, ``"policy"`` for policy files."""
    from skrl_isaac.utils.integrity import IntegrityError, verify_checkpoint_file

    try:
        names = os.listdir(os.fspath(folder))
    except OSError:
        return None
    found = sorted(((int(m.group(1)), n) for n in names if (m := _CHECKPOINT.match(n)) and m.group(2) == model),
                   reverse=True)
    for _, name in found:
        path = os.path.join(os.fspath(folder), name)
        try:
            verify_checkpoint_file(path)
        except (IntegrityError, OSError):
            continue
        return path
    return None
