"""The integrity record of a csv memory dump: a ``sha256sum`` file beside it, ``<dump>.csv.sha256``.

Why a second file: a csv dump must stay what ``pandas.read_csv(path)`` reads with no options (the
header row, then one row per ``(step, env)``). Any record inside the file is a line that plain pandas
reads as a row (it skips no comment lines unless told ``comment=``), and the header's cells are the
column names. So the record sits beside the dump, in the format of GNU ``sha256sum`` (checkable with
``sha256sum -c <dump>.csv.sha256`` from the dump's folder) with the row and byte counts on a comment
line::

    # skrl_isaac memory dump integrity v1: rows=4096 bytes=812345
    9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  <name>.csv

A sidecar can go missing (a copy of the csv alone): such a dump loads as "no integrity record: not
verified", like the dumps written before records existed. It is written right after the dump's rename
(an older record of the same name is removed before it), so a crash between the two leaves a
complete dump without a record, never a record that disagrees with an intact dump.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from skrl_isaac.utils.files import atomic_write

RECORD_SUFFIX = ".sha256"
RECORD_VERSION = 1
_COMMENT = re.compile(r"^# skrl_isaac memory dump integrity v(\d+): rows=(\d+) bytes=(\d+)$")
_DIGEST_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_CHUNK = 1 << 20


class CsvIntegrityError(ValueError):
    """A csv dump does not match its integrity record (or the record is unreadable): :attr:`reason` says how."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class CsvRecord:
    sha256: str  # hex digest of the whole file
    size: int  # bytes
    rows: int  # data rows (lines after the header)


def record_path(csv_path: str | os.PathLike) -> str:
    """``<csv_path>.sha256``."""
    return os.fspath(csv_path) + RECORD_SUFFIX


def measure(path: str | os.PathLike) -> CsvRecord:
    """The SHA-256, size and data-row count (lines after the header) of the csv file ``path``."""
    h, size, lines, last = hashlib.sha256(), 0, 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":  # a last line without its newline is a line too
        lines += 1
    return CsvRecord(h.hexdigest(), size, max(lines - 1, 0))


def remove_record(csv_path: str | os.PathLike) -> None:
    """Remove the record of ``csv_path`` if there is one (before the dump is replaced)."""
    try:
        os.unlink(record_path(csv_path))
    except FileNotFoundError:
        pass


def write_record(csv_path: str | os.PathLike, record: CsvRecord) -> None:
    """Write ``record`` beside ``csv_path`` atomically."""
    text = (f"# skrl_isaac memory dump integrity v{RECORD_VERSION}: rows={record.rows} bytes={record.size}\n"
            f"{record.sha256}  {os.path.basename(os.fspath(csv_path))}\n")
    atomic_write(record_path(csv_path), lambda f: f.write(text.encode("utf-8")))


def read_record(csv_path: str | os.PathLike) -> CsvRecord | None:
    """The record beside ``csv_path``, None if it has none; :class:`CsvIntegrityError` if it cannot be read."""
    path = record_path(csv_path)
    try:
        with open(path, "rb") as f:
            text = f.read(64 * 1024).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CsvIntegrityError(os.fspath(csv_path), f"its integrity record {path} cannot be read ({exc.strerror})") from None
    lines = text.splitlines()
    comment = _COMMENT.match(lines[0]) if lines else None
    digest = _DIGEST_LINE.match(lines[1]) if len(lines) > 1 else None
    if comment is None or digest is None or int(comment.group(1)) > RECORD_VERSION:
        raise CsvIntegrityError(os.fspath(csv_path), f"its integrity record {path} is damaged or of a newer version "
                                "(expected the '# skrl_isaac memory dump integrity v1' line and a sha256sum line)")
    return CsvRecord(digest.group(1), int(comment.group(3)), int(comment.group(2)))


def verify_csv(path: str | os.PathLike) -> str:
    """Check the csv dump ``path`` against its record.

    :returns: ``"verified (sha256, N rows)"``, or ``"no integrity record: not verified"``
    :raises CsvIntegrityError: the dump is cut short (at a row boundary or mid-row), longer than written,
        or changed (its digest differs), or the record is unreadable: the reason says which, with the
        row and byte counts
    """
    path = os.fspath(path)
    expected = read_record(path)
    if expected is None:
        return "no integrity record: not verified"
    actual = measure(path)
    counts = f"{actual.rows} of {expected.rows} rows, {actual.size} of {expected.size} bytes"
    if actual.size < expected.size:
        raise CsvIntegrityError(path, f"shorter than written: it holds {counts} (cut short by an interrupted copy or "
                                      "a damaged disk, or edited); use another copy of it")
    if actual.size > expected.size:
        raise CsvIntegrityError(path, f"longer than written: it holds {counts} (appended to or edited after it was "
                                      "written)")
    if actual.sha256 != expected.sha256:
        raise CsvIntegrityError(path, f"damaged: its content differs from what was written (sha256 mismatch; {counts}); "
                                      "use another copy of it")
    return f"verified (sha256, {actual.rows} rows)"
