"""Background writer of memory exports: one worker thread fed by a bounded queue.

The training thread hands over a host snapshot of the memory (taken once per fill cycle) and goes
on; the worker writes the file. At most ``max_pending`` snapshots are alive at once (the one being
written included): beyond that, :meth:`ExportWriter.submit` blocks, so a slow disk slows training
down instead of growing memory without bound. A failed write is kept and raised once, as a
:class:`MemoryExportError` naming the file and the OS error, by the next :meth:`raise_if_failed`
(the memory's exporter calls it in ``add_samples``, ``save`` and ``close``).

csv dumps are formatted and written by a low-priority child process (:mod:`skrl_isaac.dumps.csv_child`; the
worker thread hands each one over and waits for it), so their text formatting takes neither the
training process's GIL nor CPU the loop wants. ``CSV_CHILD = False`` (or a writer built with
``csv_child=False``) writes them on the worker thread instead.

On a machine kept busy by other processes (several seeds trained side by side, say) an idle-priority
child may get too little CPU to keep up, and waiting for it would stall training. So a submit that finds every slot still taken for ``starved_after`` seconds writes that
dump itself, on the calling thread and at its priority, and goes on doing so, without waiting,
while the slots stay taken; the child catches up in the background.
"""

from __future__ import annotations

import atexit
import queue
import sys
import threading
import weakref
from typing import Any, Callable

from skrl_isaac.dumps.csv_child import CsvProcess
from skrl_isaac.dumps.csv_child import shared as shared_csv_process

CSV_CHILD = True  # csv dumps: written by a low-priority child process (False: on the worker thread)
STARVED_AFTER = 0.25  # seconds a submit waits for a slot before writing its dump itself (when it can)
_LIVE_WRITERS: "weakref.WeakSet[ExportWriter]" = weakref.WeakSet()


class MemoryExportError(OSError):
    """A memory export could not be written (the message names the file and the cause)."""


class ExportWriter:
    """One daemon worker thread writing the submitted snapshots in submission order.

    :param max_pending: snapshots alive at once, the one being written included (``>= 1``)
    :param csv_child: write csv dumps through the low-priority child process
        (:attr:`csv_process`, :func:`skrl_isaac.dumps.csv_child.shared`); default :data:`CSV_CHILD`
    :param starved_after: seconds a submit with a ``write_now_fn`` waits for a free slot before it
        writes the dump itself (default :data:`STARVED_AFTER`)
    """

    def __init__(self, max_pending: int = 2, csv_child: bool | None = None, starved_after: float | None = None) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self.max_pending = max_pending
        self.starved_after = STARVED_AFTER if starved_after is None else float(starved_after)
        if not self.starved_after >= 0:
            raise ValueError(f"starved_after must be a number of seconds >= 0, got {starved_after}")
        self.written_now = 0  # dumps written by submit() itself because the background was behind
        self._behind = False
        self._warned = False
        self._slots = threading.BoundedSemaphore(max_pending)  # one per live snapshot
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._errors: list[MemoryExportError] = []
        self._thread: threading.Thread | None = None
        self.failed = False  # plain attribute: cheap to poll on the hot path
        use_child = CSV_CHILD if csv_child is None else csv_child
        self.csv_process: CsvProcess | None = shared_csv_process() if use_child else None
        _LIVE_WRITERS.add(self)

    # -- producer side ------------------------------------------------------------------------
    def submit(self, path: str, snapshot_fn: Callable[[], tuple[Any, Callable[[], None] | None]],
               write_fn: Callable[[str, Any], None],
               write_now_fn: Callable[[str, Any], None] | None = None) -> None:
        """Take a snapshot and queue its write; blocks first while ``max_pending`` snapshots are alive.

        ``snapshot_fn()`` runs on the calling thread and returns ``(snapshot, ready_fn)``; the worker
        calls ``ready_fn()`` (e.g. a CUDA event's ``synchronize``, or None) then
        ``write_fn(path, snapshot)``. With ``write_now_fn``, a submit that would wait longer than
        ``starved_after`` (or finds the slots taken while the writer is still behind) instead calls
        ``ready_fn()`` and ``write_now_fn(path, snapshot)`` itself and returns when the file is written
        (raising :class:`MemoryExportError` if it cannot be).
        """
        if not self._slots.acquire(blocking=False):
            if write_now_fn is None:
                self._slots.acquire()
            elif self._behind or not self._slots.acquire(timeout=self.starved_after):
                self._write_now(path, snapshot_fn, write_now_fn)
                return
        self._behind = False
        try:
            snapshot, ready_fn = snapshot_fn()
        except BaseException:
            self._slots.release()
            raise
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="skrl_isaac-memory-export", daemon=True)
            self._thread.start()
        self._queue.put((path, snapshot, ready_fn, write_fn))

    def _write_now(self, path: str, snapshot_fn: Callable[[], tuple[Any, Callable[[], None] | None]],
                   write_now_fn: Callable[[str, Any], None]) -> None:
        if not self._warned:
            from skrl_isaac import logger

            self._warned = True
            logger.warning(f"memory export: the background writer is {self.starved_after:g} s behind (a busy machine "
                           "starves its low-priority process); writing dumps on the training thread until it "
                           "catches up")
        self._behind = True
        snapshot, ready_fn = snapshot_fn()
        try:
            if ready_fn is not None:
                ready_fn()
            write_now_fn(path, snapshot)
        except Exception as exc:  # noqa: BLE001 - reported as the worker reports its failures
            raise _export_error(path, exc) from exc
        self.written_now += 1

    def raise_if_failed(self) -> None:
        """Raise the first failed write since the last call (once), mentioning later failures."""
        if not self.failed:
            return
        with self._lock:
            errors, self._errors = self._errors, []
            self.failed = False
        if not errors:
            return
        first = errors[0]
        if len(errors) > 1:
            others = ", ".join(getattr(e, "path", "?") for e in errors[1:])
            raise MemoryExportError(f"{first} (and {len(errors) - 1} later export(s) failed too: {others})") from first
        raise first

    def wait(self) -> None:
        """Block until every submitted job is written (or failed)."""
        if self._thread is not None:
            self._queue.join()

    def close(self, raise_errors: bool = True) -> None:
        """Wait for the pending writes, stop the worker, then raise a failed write if any (the csv
        process, shared by all writers, lives on until interpreter exit)."""
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join()
        if raise_errors:
            self.raise_if_failed()

    # -- worker side --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job: Any = self._queue.get()
            if job is None:
                self._queue.task_done()
                return
            path, snapshot, ready_fn, write_fn = job
            job = None
            try:
                if ready_fn is not None:
                    ready_fn()
                write_fn(path, snapshot)
            except BaseException as exc:  # noqa: BLE001 - reported to the training thread
                err = _export_error(path, exc)
                err.__cause__ = exc
                with self._lock:
                    self._errors.append(err)
                    self.failed = True
            finally:
                snapshot = ready_fn = None  # drop the snapshot before freeing its slot
                self._slots.release()
                self._queue.task_done()


def _export_error(path: str, exc: BaseException) -> MemoryExportError:
    """The error that reports a failed write of ``path`` (naming the file and the OS error)."""
    reason = f"[Errno {exc.errno}] {exc.strerror}" if isinstance(exc, OSError) and exc.strerror else repr(exc)
    err = MemoryExportError(f"memory export failed: could not write {path!r}: {reason}")
    err.path = path
    return err


@atexit.register
def _close_live_writers() -> None:
    """At interpreter exit, finish the exports of memories that were never closed."""
    for writer in list(_LIVE_WRITERS):
        writer.close(raise_errors=False)
        with writer._lock:
            for err in writer._errors:
                print(f"[skrl_isaac:ERROR] {err}", file=sys.stderr)
            writer._errors = []
