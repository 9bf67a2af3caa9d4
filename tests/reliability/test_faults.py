"""Fault injection: SIGKILLs during checkpoint and csv writes, a full disk, a read-only folder, corrupt
files, two runs into one folder. Each test checks the guarantees of docs/crash-safety.md and adds its
figures to a summary printed at the end of the session.

Run them (and re-measure the figures) with::

    python -m pytest -q -p no:cacheprovider tests/reliability
    FAULT_ROUNDS=15 python -m pytest -q -p no:cacheprovider tests/reliability   # more kills and flips

A full disk is a 1 MiB tmpfs where the tests run as root (``mount -t tmpfs``), else a 1 MiB file-size
limit (``RLIMIT_FSIZE``: the OS then says "File too large" instead of "No space left on device");
a read-only folder is a read-only tmpfs as root, else a folder without write permission
(``FAULT_NO_MOUNT=1`` takes these fallbacks as root too).
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from skrl_isaac.dumps.formats import DumpError, load_dump, verify_dump
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.utils.files import FileWriteError, atomic_torch_save
from skrl_isaac.utils.integrity import IntegrityError, verify_checkpoint_file
from skrl_isaac.utils.run_folder import TEMP_FILE, remove_stale_temp_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUNDS = int(os.environ.get("FAULT_ROUNDS", "4"))
DISK_BYTES = 1 << 20
FIGURES: list[str] = []


class _Summary:
    """Prints the figures at the end of the session (a plugin registered by the fixture below)."""

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if FIGURES:
            terminalreporter.section("fault injection figures")
            for line in FIGURES:
                terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    if request.config.pluginmanager.get_plugin("fault-injection-figures") is None:
        request.config.pluginmanager.register(_Summary(), "fault-injection-figures")
    yield


def child_env() -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    return env


def temp_files(folder) -> list[str]:
    return [os.path.join(r, n) for r, _, files in os.walk(folder) for n in files if n.endswith(".tmp")]


# -- SIGKILL during writes ----------------------------------------------------------------------
CHECKPOINT_WRITER = """
import sys, torch
torch.set_num_threads(1)
from skrl_isaac.utils.files import atomic_torch_save
folder, n = sys.argv[1], 0
print("ready", flush=True)
while True:
    n += 1
    # every tensor holds n: a file mixing two writes would show two values
    atomic_torch_save({"step": torch.tensor(n), **{f"w{i}": torch.full((512, 1024), float(n)) for i in range(4)}},
                      f"{folder}/{n % 3}_agent.pt")
"""

CSV_WRITER = """
import sys, numpy as np
from skrl_isaac.dumps.csv_text import write_csv_file
folder, n = sys.argv[1], 0
states = np.random.default_rng(0).standard_normal((200, 64, 8)).astype(np.float32)
print("ready", flush=True)
while True:
    n += 1
    states[:, :, 0] = n  # every row holds n
    write_csv_file(f"{folder}/dump_{n % 3}.csv", {"states": states, "done": states[:, :, :1] > 0})
"""


def kill_writers(tmp_path, code: str, rounds: int) -> list[str]:
    """Start ``rounds`` writers (one folder each), SIGKILL each at a random moment of its write loop."""
    folders = [str(tmp_path / f"round{i}") for i in range(rounds)]
    procs = []
    for folder in folders:
        os.makedirs(folder)
        procs.append(subprocess.Popen([sys.executable, "-c", code, folder], stdout=subprocess.PIPE, text=True,
                                      env=child_env(), cwd=ROOT))
    rng = random.Random(os.environ.get("FAULT_SEED", "0"))
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            time.sleep(rng.uniform(0.2, 0.8))
            proc.send_signal(signal.SIGKILL)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
            proc.stdout.close()
    return folders


def test_sigkill_during_checkpoint_writes_leaves_only_whole_checkpoints(tmp_path):
    folders = kill_writers(tmp_path, CHECKPOINT_WRITER, ROUNDS)
    whole = leftovers = 0
    for folder in folders:
        names = os.listdir(folder)
        assert all(n.endswith("_agent.pt") or TEMP_FILE.match(n) for n in names), names
        for name in names:
            if TEMP_FILE.match(name):
                leftovers += 1
                continue
            path = os.path.join(folder, name)
            assert verify_checkpoint_file(path) == "verified"
            state = torch.load(path, weights_only=True)
            n = int(state["step"])
            assert all(bool((state[f"w{i}"] == n).all()) for i in range(4)), f"{path} mixes two writes"
            whole += 1
        # the next run that opens the folder removes what the killed writes left
        assert len(remove_stale_temp_files(folder, min_age_s=0)) == sum(map(bool, map(TEMP_FILE.match, names)))
        assert temp_files(folder) == []
    FIGURES.append(f"SIGKILL during checkpoint writes: {ROUNDS} kills, {whole} whole checkpoints verified, 0 partial, "
                   f"{leftovers} temp files left by a killed write (removed)")


def test_sigkill_during_csv_writes_leaves_only_whole_dumps(tmp_path):
    folders = kill_writers(tmp_path, CSV_WRITER, ROUNDS)
    verified = unrecorded = leftovers = 0
    for folder in folders:
        names = os.listdir(folder)
        for name in names:
            path = os.path.join(folder, name)
            if TEMP_FILE.match(name):
                leftovers += 1
            elif name.endswith(".csv"):
                status = verify_dump(path)
                verified += status.startswith("verified")
                unrecorded += status.startswith("no integrity record")  # killed between the rename and the record
                data = load_dump(path)
                assert data["states"].shape == (200, 64, 8)
                assert np.unique(data["states"][:, :, 0]).size == 1, f"{path} mixes two writes"
            else:
                assert name.endswith(".csv.sha256"), name
        remove_stale_temp_files(folder, min_age_s=0)
        assert temp_files(folder) == []
    assert verified + unrecorded > 0
    FIGURES.append(f"SIGKILL during csv writes: {ROUNDS} kills, {verified} whole dumps verified, {unrecorded} whole "
                   f"without a record, 0 partial, {leftovers} temp files (removed)")


# -- a full disk ----------------------------------------------------------------------------------
@contextmanager
def tmpfs(path, options: str):
    os.makedirs(path, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def can_mount() -> bool:
    """Root with ``mount`` (``FAULT_NO_MOUNT=1`` tests the unprivileged fallbacks instead)."""
    return os.geteuid() == 0 and shutil.which("mount") is not None and not os.environ.get("FAULT_NO_MOUNT")


FULL_DISK_RUN = """
import sys, torch
from skrl_isaac import logger
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.utils.cleanup import close_all
from skrl_isaac.utils.files import atomic_torch_save
folder = sys.argv[1]
atomic_torch_save({"w": torch.ones(1000)}, f"{folder}/checkpoints/1000_agent.pt")  # fits
memory = RandomMemory(memory_size=200, num_envs=64, device="cpu", export=True, export_format="csv",
                      export_directory=f"{folder}/memory")
memory.create_tensor("states", 8)
try:
    with close_all(memory.close):
        for _ in range(200):  # one fill cycle: its csv export (about 2 MB) meets the full disk too
            memory.add_samples(states=torch.randn(64, 8))
        atomic_torch_save({"w": torch.ones(1 << 19)}, f"{folder}/checkpoints/2000_agent.pt")  # 2 MB: does not fit
except OSError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
"""


def test_a_full_disk_is_one_error_naming_the_checkpoint_and_keeps_the_previous_one(tmp_path):
    disk = tmp_path / "disk"
    with tmpfs(disk, f"size={DISK_BYTES}") if can_mount() else _no_mount() as mounted:
        if mounted:
            limit, errno_text = None, "[Errno 28] No space left on device"
        else:
            disk.mkdir(exist_ok=True)
            limit, errno_text = DISK_BYTES, "[Errno 27] File too large"

        def limited():
            if limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the OS's error instead of a signal
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        done = subprocess.run([sys.executable, "-c", FULL_DISK_RUN, str(disk)], capture_output=True, text=True,
                              env=child_env(), cwd=ROOT, preexec_fn=limited, timeout=120)
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        target = str(disk / "checkpoints" / "2000_agent.pt")
        assert done.returncode == 1, done.stderr
        # the first error is the one reported: the checkpoint's, not the memory export's
        assert lines == [f"error: could not write {target!r}: {errno_text}"], done.stderr
        assert "also failed while closing: MemoryExportError: memory export failed: could not write" in done.stderr
        assert errno_text in done.stderr.split("also failed while closing")[1]
        assert "inline_container" not in "\n".join(lines) and "Traceback" not in done.stderr
        kept = disk / "checkpoints" / "1000_agent.pt"
        assert verify_checkpoint_file(kept) == "verified" and torch.load(kept, weights_only=True)["w"].sum() == 1000
        assert temp_files(disk) == [] and not (disk / "checkpoints" / "2000_agent.pt").exists()
        assert [n for n in os.listdir(disk / "memory") if not n.startswith(".")] == []
    FIGURES.append(f"full disk ({'1 MiB tmpfs' if mounted else '1 MiB RLIMIT_FSIZE'}): one error line naming the "
                   "checkpoint and the errno, the earlier checkpoint verified, no temp file, no partial dump")


@contextmanager
def _no_mount():
    yield False


# -- a read-only folder ---------------------------------------------------------------------------
@contextmanager
def read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    if can_mount():
        with tmpfs(folder, "ro,size=65536") as mounted:
            if mounted:
                yield folder, "[Errno 30] Read-only file system"
                return
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user can write to any folder (root without mount)")
        yield folder, "[Errno 13] Permission denied"
    finally:
        folder.chmod(0o755)


def test_a_read_only_folder_is_one_error_naming_the_file(tmp_path):
    with read_only_folder(tmp_path) as (folder, errno_text):
        target = str(folder / "checkpoints" / "1000_agent.pt")
        with pytest.raises(FileWriteError) as e:
            atomic_torch_save({"w": torch.ones(3)}, target)
        assert str(e.value) == f"could not write {target!r}: {errno_text}"
        memory = RandomMemory(memory_size=2, num_envs=2, device="cpu")
        memory.create_tensor("states", 1)
        memory.add_samples(states=torch.ones(2, 1))
        for fmt in ("pt", "np", "csv"):
            with pytest.raises(OSError, match=r"could not write '.*\.(pt|npz|csv)': " + errno_text.replace("[", r"\[")
                               .replace("]", r"\]")):
                memory.save(str(folder / "memory"), fmt)
    FIGURES.append("read-only folder: checkpoint and pt/np/csv dumps each one error naming the file and the errno")


# -- corrupt files --------------------------------------------------------------------------------
def test_flipped_bytes_anywhere_in_a_checkpoint_never_load_as_wrong_weights(tmp_path):
    path = tmp_path / "1000_policy.pt"
    weights = {"net.0.weight": torch.randn(64, 32), "net.0.bias": torch.randn(64), "log_std": torch.zeros(4)}
    atomic_torch_save(weights, path)
    good = path.read_bytes()
    rng = random.Random(0)
    refused = load_errors = same = 0
    for _ in range(50 * ROUNDS):
        data = bytearray(good)
        for at in rng.sample(range(len(data)), rng.choice([1, 8])):
            data[at] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        try:
            verify_checkpoint_file(path)
        except IntegrityError as e:
            assert "\n" not in str(e) and str(path) in str(e) and "weights_only" not in str(e)
            refused += 1
            continue
        try:
            loaded = torch.load(path, weights_only=True)
        except Exception:  # noqa: BLE001 - an error (the model loader reports it), not wrong weights
            load_errors += 1
            continue
        assert set(loaded) == set(weights) and all(torch.equal(loaded[k], weights[k]) for k in weights), \
            "damage passed the check and loaded as different weights"
        same += 1  # damage in bytes that hold no data (zip padding, unused header fields)
    FIGURES.append(f"flipped bytes in a checkpoint: {50 * ROUNDS} files, {refused} refused by the CRC check, "
                   f"{load_errors} refused by torch.load, {same} loaded the same weights, 0 wrong weights")


@pytest.mark.parametrize("fmt", ["pt", "np", "csv"])
def test_corrupt_or_cut_dumps_are_one_error_never_wrong_data(tmp_path, fmt):
    memory = RandomMemory(memory_size=8, num_envs=4, device="cpu")
    memory.create_tensor("states", 3)
    memory.create_tensor("done", 1, torch.bool)
    for _ in range(8):
        memory.add_samples(states=torch.randn(4, 3), done=torch.rand(4, 1) < 0.5)
    path = memory.save(str(tmp_path), fmt)
    good = open(path, "rb").read()
    expected = load_dump(path)
    rng = random.Random(1)
    refused = same = 0
    cases = [("cut", rng.randrange(1, len(good))) for _ in range(10 * ROUNDS)] + \
            [("flip", rng.randrange(len(good))) for _ in range(10 * ROUNDS)]
    for kind, at in cases:
        data = bytearray(good[:at] if kind == "cut" else good)
        if kind == "flip":
            data[at] ^= 1 << rng.randrange(8)
        open(path, "wb").write(bytes(data))
        try:
            loaded = load_dump(path)
        except DumpError as e:
            assert "\n" not in str(e) and path in str(e)
            refused += 1
            continue
        assert all(np.array_equal(loaded[k], expected[k]) for k in expected), f"{kind} at {at} loaded wrong data"
        same += 1
    FIGURES.append(f"corrupt {fmt} dumps: {len(cases)} cut or flipped files, {refused} refused with one error line, "
                   f"{same} loaded the same data, 0 wrong data")


# -- two runs into one folder ---------------------------------------------------------------------
RACER = """
import sys, time
from skrl_isaac.utils.run_folder import RunFolderLock, RunFolderLocked
try:
    lock = RunFolderLock(sys.argv[1]).acquire()
except RunFolderLocked as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
print("holder", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_two_runs_started_together_into_one_folder_one_is_refused(tmp_path):
    folder = str(tmp_path / "runs" / "same")
    procs = [subprocess.Popen([sys.executable, "-c", RACER, folder, "3"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT) for _ in range(2)]
    results = [(p.pid, *p.communicate(timeout=60), p.returncode) for p in procs]
    assert sorted(r[3] for r in results) == [0, 2], results
    winner = next(r[0] for r in results if r[3] == 0)
    _, out, err, _ = next(r for r in results if r[3] == 2)
    assert out == "" and err.count("\n") == 1 and f"(pid {winner})" in err
    FIGURES.append("two runs into one folder: one runs, the other refused with the holder's pid")
