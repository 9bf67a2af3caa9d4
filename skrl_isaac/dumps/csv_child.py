"""CSV memory exports written by a low-priority child process. Formatting text is the one export
step that takes real CPU; here it runs outside the training process's GIL, at the lowest CPU
priority (Linux ``SCHED_IDLE``, else ``nice 19``), on the cores the loop leaves idle
(docs/memory-dumps.md has the measured cost).

:class:`CsvProcess` is the parent's handle: ``write(path, arrays, engine)`` sends one dump (numpy
arrays, pickled through a pipe) and blocks until the child has written it (atomically, fsync'ed) or
reports why not; the caller is the export writer's background thread, never the training thread.
The child (``python -m skrl_isaac.dumps.csv_child FD``) imports numpy and the csv
engines (:mod:`csv_text`), not torch, and exits at end of input: when the parent closes it, or dies (it first
finishes the dumps already sent, so a crash of the trainer loses none of them).

One child serves the whole training process (:func:`shared`, started on the first csv dump, ended
at interpreter exit after the memories' writers have finished): memories closed and made again
(e.g. a trainer's ``train()`` called in rounds) don't pay its start-up again.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import subprocess
import sys
import threading
from typing import BinaryIO

import numpy as np

from skrl_isaac.dumps.csv_text import write_csv_file
from skrl_isaac.utils.processes import python_env

CHILD_ENV = {"POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


class CsvProcessGone(RuntimeError):
    """The child process is not running (it could not start, or died)."""


class CsvProcess:
    """A child process that writes csv memory dumps at idle priority (see the module docstring).

    If the child cannot be started or dies, :meth:`write` says so once (a logged warning) and writes
    the dumps in the calling process from then on: a dump is never lost to the child's absence.
    Thread-safe: the writes of several export writers are served one at a time.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._replies: BinaryIO | None = None
        self._owner = os.getpid()  # a forked copy of this handle starts its own child
        self._lock = threading.Lock()
        self.in_process = False  # True once the child is gone: write here

    def write(self, path: str, arrays: dict[str, np.ndarray], engine: str | None = None) -> None:
        """Write ``arrays`` as csv to ``path`` (atomically, with ``engine``: None for the default of
        :func:`csv_text.csv_engine` where the file is written) and return once it is on
        disk: in the child, or here if the child is gone. Raises the write's error (``OSError``
        with errno and file name where it was one)."""
        if not self.in_process:
            try:
                with self._lock:
                    self.write_in_child(path, arrays, engine)
                return
            except CsvProcessGone as exc:
                from skrl_isaac import logger

                self.in_process = True
                logger.warning(f"{exc}; memory exports are written in the training process from now on")
        write_csv_file(path, arrays, engine)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the child (idempotent); raise :class:`CsvProcessGone` if it cannot be started."""
        if self._owner != os.getpid():  # inherited through a fork: that child belongs to the parent
            self._proc = self._replies = None
            self._owner = os.getpid()
        if self._proc is not None:
            return
        root = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules["skrl_isaac"].__file__)))
        env = python_env(root, **CHILD_ENV)
        read_fd, write_fd = os.pipe()
        try:
            # own session: a Ctrl-C in the terminal interrupts the trainer, which then closes the
            # child after the pending dumps, instead of killing the child mid-file
            self._proc = subprocess.Popen([sys.executable, "-m", __name__, str(write_fd)], stdin=subprocess.PIPE,
                                          pass_fds=(write_fd,), env=env, close_fds=True, start_new_session=True)
        except Exception as exc:  # noqa: BLE001 - e.g. no pass_fds on Windows: write in-process instead
            os.close(read_fd)
            raise CsvProcessGone(f"could not start the csv export process: {exc}") from exc
        finally:
            os.close(write_fd)
        self._replies = os.fdopen(read_fd, "rb")

    def write_in_child(self, path: str, arrays: dict[str, np.ndarray], engine: str | None) -> None:
        """Have the child write ``arrays`` as csv to ``path`` (atomically) with ``engine``; return once
        it is on disk. Raises the child's error (``OSError`` with errno and file name where it was
        one), or :class:`CsvProcessGone` if the child is not running."""
        self.start()
        assert self._proc is not None and self._proc.stdin is not None and self._replies is not None
        try:
            pickle.dump((path, arrays, engine), self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
            reply = pickle.load(self._replies)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            code = self._proc.poll()
            self._discard()
            raise CsvProcessGone(f"the csv export process stopped (exit code {code})") from exc
        _, error = reply
        if error is not None:
            kind, errno, strerror, filename, text = error
            if kind == "OSError":
                raise OSError(errno, strerror, filename)
            raise RuntimeError(f"csv export process: {text}")

    def close(self, timeout: float = 60.0) -> None:
        """End the child after the dumps already sent (idempotent; the next write starts a new one)."""
        with self._lock:
            proc, replies = self._proc, self._replies
            self._proc = self._replies = None
        if proc is None or self._owner != os.getpid():
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # end of input: the child exits
            proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if replies is not None:
                replies.close()

    def _discard(self) -> None:
        proc, self._proc = self._proc, None
        if self._replies is not None:
            self._replies.close()
            self._replies = None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


_SHARED: CsvProcess | None = None
_SHARED_LOCK = threading.Lock()


def shared() -> CsvProcess:
    """The training process's one csv export child (its handle; the child starts on the first write)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = CsvProcess()
        return _SHARED


@atexit.register
def _close_shared() -> None:
    # registered before the export writers' exit hook (writer.py imports this module), so it runs
    # after it: the writers hand over their last dumps first
    if _SHARED is not None:
        _SHARED.close()


# -- child side -------------------------------------------------------------------------------
def lower_priority() -> str:
    """Put the calling process at the lowest CPU priority available; return which one it got."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "SCHED_IDLE"
        except OSError:
            pass
    try:
        os.nice(19)
        return "nice 19"
    except (AttributeError, OSError):
        return "normal"


def serve(jobs: BinaryIO, replies: BinaryIO) -> None:
    """Write each ``(path, arrays, engine)`` read from ``jobs``; reply ``(path, None)`` or
    ``(path, (kind, errno, strerror, filename, text))``, until end of input."""
    while True:
        try:
            path, arrays, engine = pickle.load(jobs)
        except EOFError:
            return
        try:
            write_csv_file(path, arrays, engine)
            error = None
        except Exception as exc:  # noqa: BLE001 - sent back to the parent, which raises it
            error = (("OSError", exc.errno, exc.strerror, exc.filename, repr(exc)) if isinstance(exc, OSError)
                     else (type(exc).__name__, None, None, None, repr(exc)))
        pickle.dump((path, error), replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()
        arrays = None


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (end of input)
    lower_priority()
    with os.fdopen(int(argv[1]), "wb") as replies:
        serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main(sys.argv)
