"""Atomic writes: whole files or none, with the permissions a plain ``open()`` would give."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.utils import files
from skrl_isaac.utils.files import atomic_torch_save, atomic_write, new_file_mode

pytestmark = pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX permission bits")


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_umask_is_read_without_changing_it(umask_027):
    assert files._umask() == 0o027
    assert os.umask(0o027) == 0o027  # still set


def test_without_proc_the_umask_is_read_once_and_kept(umask_027, monkeypatch, tmp_path):
    monkeypatch.setattr(files, "_PROC_STATUS", str(tmp_path / "no_proc_here"))
    monkeypatch.setattr(files, "_UMASK", None)
    assert files._umask() == 0o027 and files._UMASK == 0o027
    assert os.umask(0o027) == 0o027  # restored
    atomic_write(tmp_path / "a.bin", lambda f: f.write(b"x"))
    assert mode(tmp_path / "a.bin") == 0o640


def test_a_new_file_gets_the_permissions_of_a_plain_open(tmp_path, umask_027):
    atomic_write(tmp_path / "a.bin", lambda f: f.write(b"x"))
    with open(tmp_path / "plain.bin", "wb") as f:
        f.write(b"x")
    assert mode(tmp_path / "a.bin") == mode(tmp_path / "plain.bin") == 0o640
    atomic_torch_save({"w": torch.zeros(2)}, tmp_path / "c.pt")
    assert mode(tmp_path / "c.pt") == 0o640


@pytest.mark.parametrize("bits", [0o600, 0o604, 0o664])
def test_a_replaced_file_keeps_its_permissions(tmp_path, bits):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    os.chmod(path, bits)
    assert new_file_mode(path) == bits
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new" and mode(path) == bits


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        atomic_write(path, fail)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]


@pytest.mark.parametrize("fmt", ["pt", "np", "csv"])
def test_memory_exports_are_readable_like_any_new_file(tmp_path, fmt):
    # the process's own umask: csv dumps are written by the shared export child, which inherited it at its start
    memory = RandomMemory(memory_size=2, num_envs=3, device="cpu", export=True, export_format=fmt,
                          export_directory=str(tmp_path))
    memory.create_tensor("states", 2)
    for _ in range(2):
        memory.add_samples(states=torch.ones(3, 2))
    memory.close()
    names = sorted(os.listdir(tmp_path))  # a csv dump and its integrity record, or one pt / npz dump
    assert len(names) == (2 if fmt == "csv" else 1)
    for name in names:
        assert mode(tmp_path / name) == 0o666 & ~files._umask() != 0o600


# -- failed writes: one error naming the file and the OS error, no temp file left ---------------
class SizeLimitedFile:
    """A file whose file system fills up after ``limit`` bytes (as the OS reports it)."""

    def __init__(self, f, limit: int = 64):
        self._f, self._left = f, limit

    def write(self, data):
        if len(data) > self._left:
            raise OSError(28, "No space left on device")
        self._left -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def test_a_full_disk_during_torch_save_names_the_file_and_the_errno(tmp_path, monkeypatch):
    target = tmp_path / "2500_agent.pt"
    atomic_torch_save({"w": torch.zeros(2)}, target)
    before = target.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: SizeLimitedFile(real_fdopen(fd, mode)))
    with pytest.raises(files.FileWriteError) as e:
        atomic_torch_save({"w": torch.zeros(100_000)}, target)
    # torch.save itself says only "inline_container.cc: unexpected pos": the cause is kept underneath
    assert "unexpected pos" in str(e.value.__cause__)
    assert str(e.value) == f"could not write {str(target)!r}: [Errno 28] No space left on device"
    assert e.value.errno == 28 and e.value.filename == str(target)
    assert sorted(os.listdir(tmp_path)) == ["2500_agent.pt"] and target.read_bytes() == before  # old file kept


def test_a_library_error_that_hides_a_full_disk_is_reported_as_one(tmp_path, monkeypatch):
    class Full:
        f_bavail, f_frsize = 0, 4096

    monkeypatch.setattr(os, "statvfs", lambda folder: Full)

    def write(f):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    with pytest.raises(files.FileWriteError, match=r"a\.pt'.*No space left on device"):
        atomic_write(tmp_path / "a.pt", write)
    assert os.listdir(tmp_path) == []


def test_other_errors_pass_unchanged_and_leave_no_temp_file(tmp_path):
    def write(f):
        raise ValueError("not an I/O problem")

    with pytest.raises(ValueError, match="not an I/O problem"):
        atomic_write(tmp_path / "a.pt", write)
    assert os.listdir(tmp_path) == []


def test_a_folder_that_cannot_be_written_names_the_file(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system", str(tmp_path / ".a.pt.xxxxxxxx.tmp"))

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(files.FileWriteError) as e:
        atomic_write(tmp_path / "a.pt", lambda f: f.write(b"x"))
    assert str(e.value) == f"could not write {str(tmp_path / 'a.pt')!r}: [Errno 30] Read-only file system"
