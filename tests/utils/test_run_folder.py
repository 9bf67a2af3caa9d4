"""Run folders: plain experiment names, one run per folder (an OS lock), stale temp files removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from skrl_isaac.utils.files import atomic_write
from skrl_isaac.utils.run_folder import (MAX_NAME_LENGTH, ExperimentNameError, RunFolderLock, RunFolderLocked,
                                         remove_stale_temp_files, validate_experiment_name)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- names --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ant_ppo", "Ant-PPO.seed3", "run+1=a@b", "x", "a" * MAX_NAME_LENGTH, "ünïcode_实验"])
def test_plain_names_are_kept(name):
    assert validate_experiment_name(name) == name


@pytest.mark.parametrize("value, text", [(2024, "2024"), (float("nan"), "nan"), (1.5, "1.5"), (float("inf"), "inf"),
                                         (True, "true"), (0, "0")])
def test_numbers_from_hydra_become_their_text(value, text):
    assert validate_experiment_name(value) == text


def test_the_empty_name_asks_for_the_default():
    assert validate_experiment_name("") == "" and validate_experiment_name(None) == ""


def test_unicode_is_normalized_so_one_name_is_one_folder():
    decomposed = "cafe\u0301"  # e + combining accent (as macOS file names spell it)
    assert validate_experiment_name(decomposed) == "caf\u00e9"


@pytest.mark.parametrize("name, why", [
    ("../escaped", "path separator"), ("/tmp/abs", "path separator"), ("a/b/c", "path separator"),
    ("..\\win", "path separator"), (".", "names a folder itself"), ("..", "names a folder itself"),
    ("a" * 300, "300 characters long"), ("a" * (MAX_NAME_LENGTH + 1), "characters long"),
    (".hidden", "starts with '.'"), ("-rf", "starts with '-'"), ("with space", "' '"), ("tab\there", "'\\t'"),
    ("new\nline", "'\\n'"), ("semi;colon", "';'"), ("star*", "'*'"), ("nul\x00", "'\\x00'"), ("   ", "' '"),
])
def test_names_that_escape_or_misbehave_are_one_line(name, why):
    with pytest.raises(ExperimentNameError) as e:
        validate_experiment_name(name)
    text = str(e.value)
    assert "\n" not in text and why in text and "letters" in text  # says what is valid


@pytest.mark.parametrize("value", [["a"], {"a": 1}, b"bytes", 1j])
def test_non_strings_are_refused(value):
    with pytest.raises(ExperimentNameError, match="must be a string"):
        validate_experiment_name(value)


# -- the lock -----------------------------------------------------------------------------------
HOLD = ("import sys, time; from skrl_isaac.utils.run_folder import RunFolderLock; "
        "lock = RunFolderLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)")
TRY = ("import sys; from skrl_isaac.utils.run_folder import RunFolderLock, RunFolderLocked\n"
       "try:\n    RunFolderLock(sys.argv[1]).acquire()\nexcept RunFolderLocked as e:\n"
       "    print(f'error: {e}', file=sys.stderr); sys.exit(2)\nprint('locked')")


def python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True, **kwargs)


def test_a_second_process_is_refused_with_the_holders_pid_and_the_lock_is_free_after_sigkill(tmp_path):
    folder = str(tmp_path / "runs" / "exp")
    holder = python(HOLD, folder, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = python(TRY, folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("error: run folder ") and f"(pid {holder.pid})" in err
        with pytest.raises(RunFolderLocked) as e:  # this process too
            RunFolderLock(folder).acquire()
        assert e.value.pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    third = python(TRY, folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = third.communicate(timeout=60)
    assert (third.returncode, out.strip(), err) == (0, "locked", "")


def test_the_lock_is_per_holder_and_released(tmp_path):
    first = RunFolderLock(tmp_path / "exp")
    with first:
        assert first.held and (tmp_path / "exp" / ".lock").read_text().strip() == str(os.getpid())
        with pytest.raises(RunFolderLocked, match=f"pid {os.getpid()}"):
            RunFolderLock(tmp_path / "exp").acquire()
    assert not first.held
    with RunFolderLock(tmp_path / "exp") as again:
        assert again.held


# -- stale temp files ----------------------------------------------------------------------------
def age(path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_stale_temp_files_of_our_naming_are_removed_and_nothing_else(tmp_path):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    stale = ckpt / ".2500_policy.pt.k3j_9xq2.tmp"
    fresh = ckpt / ".5000_policy.pt.ab12cd34.tmp"
    keep = [ckpt / "2500_policy.pt", ckpt / ".other.tmp", ckpt / "x.pt.abcdefgh.tmp", tmp_path / ".lock"]
    for p in [stale, fresh, *keep]:
        p.write_bytes(b"x")
    for p in [stale, *keep]:
        age(p, 3600)
    link = ckpt / ".link.pt.abcdefgh.tmp"
    link.symlink_to(ckpt / "2500_policy.pt")
    folder = ckpt / ".dir.pt.abcdefgh.tmp"
    folder.mkdir()
    assert remove_stale_temp_files(tmp_path) == [str(stale)]
    assert not stale.exists() and fresh.exists() and link.is_symlink() and folder.is_dir()
    assert all(p.exists() for p in keep)
    assert remove_stale_temp_files(tmp_path, min_age_s=0) == [str(fresh)]


def test_the_pattern_is_the_one_atomic_write_uses(tmp_path):
    seen = []

    def write(f):
        seen.extend(os.listdir(tmp_path))  # the temp file being written
        raise KeyboardInterrupt  # leaves nothing: atomic_write removes its temp file

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "1000_agent.pt", write)
    # a file with the name atomic_write used, as a SIGKILL would leave it
    (tmp_path / os.path.basename(seen[0])).write_bytes(b"partial")
    assert remove_stale_temp_files(tmp_path, min_age_s=0) == [os.path.join(str(tmp_path), os.path.basename(seen[0]))]


# -- what a failed run kept -----------------------------------------------------------------------
def test_the_newest_complete_checkpoint_skips_damaged_ones_and_says_none_when_there_is_none(tmp_path):
    import torch

    from skrl_isaac.utils.files import atomic_torch_save
    from skrl_isaac.utils.run_folder import newest_complete_checkpoint

    assert newest_complete_checkpoint(tmp_path) is None
    assert newest_complete_checkpoint(tmp_path / "missing") is None
    for t in (500, 1000, 10000):
        atomic_torch_save({"w": torch.ones(3)}, tmp_path / f"{t}_agent.pt")
    atomic_torch_save({"w": torch.ones(3)}, tmp_path / "20000_policy.pt")
    data = (tmp_path / "10000_agent.pt").read_bytes()
    (tmp_path / "10000_agent.pt").write_bytes(data[:len(data) // 2])  # cut: not complete
    assert newest_complete_checkpoint(tmp_path) == str(tmp_path / "1000_agent.pt")  # by timestep, not by name
    assert newest_complete_checkpoint(tmp_path, "policy") == str(tmp_path / "20000_policy.pt")
