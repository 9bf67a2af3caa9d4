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
    [name] = os.listdir(tmp_path)
    assert mode(tmp_path / name) == 0o666 & ~files._umask() != 0o600
