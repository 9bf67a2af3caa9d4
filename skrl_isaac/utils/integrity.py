"""Integrity checks of the files we read back: checkpoints (zip CRCs) and content digests of memory dumps.

``torch.save`` writes a zip archive whose members each carry a CRC-32, but ``torch.load`` never checks
them: a checkpoint with flipped bytes inside a tensor loads, and training resumes from wrong weights.
:func:`verify_checkpoint_file` reads every member and checks its CRC before a checkpoint is loaded, and
says in one line what a damaged, cut or foreign file is (never torch's internal text). It verifies
every checkpoint this package ever wrote (the CRCs are torch's own, not something we added).

:func:`tensors_digest` is the content digest stored inside ``pt`` / ``np`` memory dumps (see
:mod:`skrl_isaac.dumps.formats`).
"""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
import zlib
from typing import Any, Iterable

ZIP_MAGIC = b"PK\x03\x04"
# torch.save(..., _use_new_zipfile_serialization=False): a pickle (protocol 2) of torch's magic number
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
_CHUNK = 1 << 20


class IntegrityError(RuntimeError):
    """A file we wrote is damaged, cut short or not what it claims to be.

    The message names the file and what is wrong in one line; :attr:`path` is the file,
    :attr:`reason` the message without the file's name, :attr:`member` the damaged zip member (or None).
    """

    def __init__(self, path: str, reason: str, member: str | None = None) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason, self.member = path, reason, member


def verify_checkpoint_file(path: str | os.PathLike) -> str:
    """Check that ``path`` is a whole, undamaged ``torch.save`` file before it is loaded.

    Every member of the zip archive is read and its CRC-32 compared with the one stored at save
    time (what ``zipfile``'s ``testzip`` does); the archive must hold torch's ``data.pkl``.

    :returns: ``"verified"``, or ``"not verified (legacy torch format: no checksums)"`` for a file in
        torch's pre-1.6 format, which carries no checksum to check
    :raises FileNotFoundError: if there is no file at ``path``
    :raises IntegrityError: one line naming the file and what it is not: empty, not a zip archive (a
        text file, random bytes), cut short (the zip directory at its end is missing), a zip
        archive that is no torch checkpoint, or damaged (the member whose CRC-32 fails is named)
    """
    return verify_zip_file(path, what="PyTorch checkpoint", writer="torch.save", marker="data.pkl", legacy_torch=True)


def verify_zip_file(path: str | os.PathLike, what: str, writer: str, marker: str | None = None,
                    legacy_torch: bool = False) -> str:
    """Check every member's CRC-32 of the zip archive ``path`` (a ``what`` written by ``writer``), and
    that it holds a member named ``marker`` (or ``*/marker``) when given; see :func:`verify_checkpoint_file`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {what} file at {path}")
    size = os.path.getsize(path)
    if size == 0:
        raise IntegrityError(path, f"the file is empty (0 bytes): not a {what}")
    with open(path, "rb") as f:
        head = f.read(len(LEGACY_TORCH_MAGIC))
    if legacy_torch and head.startswith(LEGACY_TORCH_MAGIC):
        return "not verified (legacy torch format: no checksums)"
    if not head.startswith(ZIP_MAGIC):
        kind = "a text file" if _looks_like_text(path) else "binary data of another kind"
        raise IntegrityError(path, f"not a {what}: it is {kind}, not the zip archive {writer} writes")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, struct.error, EOFError) as exc:
        # the local header says zip, but the directory at the end cannot be read: cut or damaged at its end
        raise IntegrityError(path, f"cut short or damaged at its end: it starts like a {what} (a zip archive) but "
                                   f"its zip directory cannot be read ({size} bytes; {_first_line(exc)}): an "
                                   "interrupted write or copy") from None
    with archive:
        names = archive.namelist()
        if marker is not None and not any(n == marker or n.endswith("/" + marker) for n in names):
            raise IntegrityError(path, f"a zip archive but not a {what} (it holds no {marker})")
        for info in archive.infolist():
            _check_member(path, archive, info)
    return "verified"


def _check_member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Read one member to its end (zipfile compares its CRC-32 there); raise :class:`IntegrityError` if it fails."""
    try:
        with archive.open(info) as member:
            while member.read(_CHUNK):
                pass
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            raise IntegrityError(path, f"damaged: member {info.filename!r} fails its CRC-32 check (its bytes changed "
                                       "after it was written: a disk or copy error); use another copy of it",
                             member=info.filename) from None
        raise IntegrityError(path, f"damaged: member {info.filename!r} cannot be read ({_first_line(exc)})",
                             member=info.filename) from None
    except (OSError, EOFError, ValueError, NotImplementedError, struct.error, zlib.error) as exc:
        raise IntegrityError(path, f"damaged or cut short: member {info.filename!r} cannot be read "
                                   f"({_first_line(exc)})", member=info.filename) from None


def _looks_like_text(path: str) -> bool:
    with open(path, "rb") as f:
        sample = f.read(4096)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return False
    return b"\x00" not in sample


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# -- content digests of memory dumps ---------------------------------------------------------
DIGEST_NAME = "__integrity__"  # the extra key / array holding a dump's digest
DIGEST_VERSION = 1


def tensors_digest(arrays: Iterable[tuple[str, Any]]) -> bytes:
    """SHA-256 over ``(name, numpy array)`` pairs (in the given order): for each one its name, dtype,
    shape and raw bytes (C order), so a changed value, shape, dtype, name or order changes it."""
    import numpy as np

    h = hashlib.sha256(b"skrl_isaac dump v%d\n" % DIGEST_VERSION)
    for name, a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{name}\n{a.dtype.str}\n{a.shape}\n".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.digest()
