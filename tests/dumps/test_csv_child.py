"""csv memory exports written by the low-priority child process (skrl_isaac.dumps.csv_child)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from conftest import python_env
from skrl_isaac.dumps import csv_child
from skrl_isaac.dumps.formats import load_dump
from skrl_isaac.dumps.writer import MemoryExportError

from test_export import add_step, dumps, make_memory

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def child(monkeypatch):
    """A fresh shared csv child for this test (closed after it), so a test that kills it leaves
    the other tests theirs."""
    fresh = csv_child.CsvProcess()
    monkeypatch.setattr(csv_child, "_SHARED", fresh)
    yield fresh
    fresh.close()


def test_dumps_are_written_by_an_idle_child_and_equal_the_in_thread_files(tmp_path, child):
    memory = make_memory("cpu", 2, 3, str(tmp_path / "child"), "csv")
    for step in range(4):  # cycle 1 (exported at step 2's write) and cycle 2 (exported by close)
        add_step(memory, step)
    memory.close()
    assert memory.exporter.writer.csv_process is child
    assert child.pid is not None and child.pid != os.getpid()
    if hasattr(os, "sched_getscheduler") and hasattr(os, "SCHED_IDLE"):
        assert os.sched_getscheduler(child.pid) == os.SCHED_IDLE

    written = dumps(tmp_path / "child")
    assert [os.path.basename(p)[-12:] for p in written] == ["00000001.csv", "00000002.csv"]
    last = load_dump(written[-1])
    np.testing.assert_array_equal(last["states"][:, :, 0].astype(np.float32),
                                  np.float32([[2.0, 2.01, 2.02], [3.0, 3.01, 3.02]]))
    # byte for byte what the same memory gives when written in this process
    here = tmp_path / "here.csv"
    csv_child.write_csv_file(str(here), {k: memory.tensors[k].numpy() for k in memory.get_tensor_names()})
    assert open(written[-1], "rb").read() == here.read_bytes()
    assert not child.in_process


def test_the_child_imports_no_torch():
    code = ("import sys, skrl_isaac.dumps.csv_child; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    env = python_env(REPO)
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=60).returncode == 0


def test_a_failed_write_in_the_child_raises_once_with_the_file_and_the_reason(tmp_path, child):
    folder = tmp_path / "exports"
    memory = make_memory("cpu", 2, 2, str(folder), "csv")
    for step in range(3):  # cycle 1 exported
        add_step(memory, step)
    memory.exporter.writer.wait()
    (first,) = dumps(folder)
    folder.rename(tmp_path / "moved")
    folder.write_text("a file where the export folder was")
    for step in range(3, 5):  # cycle 2's export fails in the child
        add_step(memory, step)
    memory.exporter.writer.wait()
    with pytest.raises(MemoryExportError) as info:
        add_step(memory, 5)
    assert "memory_00000002.csv" in str(info.value) and "[Errno" in str(info.value)
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno is not None
    folder.unlink()
    (tmp_path / "moved").rename(folder)
    add_step(memory, 6)  # raised once; training goes on and fills cycle 3
    memory.close()
    names = [os.path.basename(p)[-12:] for p in dumps(folder)]
    assert names == ["00000001.csv", "00000003.csv"] and dumps(folder)[0] == first
    assert child.pid is not None and not child.in_process  # the child itself survived the error


def test_a_dead_child_is_reported_once_and_no_dump_is_lost(tmp_path, child, caplog):
    memory = make_memory("cpu", 2, 2, str(tmp_path), "csv")
    for step in range(3):
        add_step(memory, step)
    memory.exporter.writer.wait()
    os.kill(child.pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="skrl_isaac"):
        for step in range(3, 9):  # cycles 2, 3 and 4, written in this process
            add_step(memory, step)
        memory.close()
    assert child.in_process and child.pid is None
    gone = [r for r in caplog.records if "csv export process stopped" in r.getMessage()]
    assert len(gone) == 1 and "written in the training process" in gone[0].getMessage()
    assert len(dumps(tmp_path)) == 4
    np.testing.assert_array_equal(load_dump(dumps(tmp_path)[-1])["states"][:, 0, 0], [6.0, 7.0])


def test_the_child_finishes_what_it_was_sent_when_the_trainer_dies(tmp_path):
    path = tmp_path / "memory_00000001.csv"
    script = textwrap.dedent(f"""
        import os, pickle, numpy as np
        from skrl_isaac.dumps import csv_child
        child = csv_child.shared()
        child.start()
        arrays = {{"states": np.arange(24, dtype=np.float32).reshape(4, 2, 3)}}
        pickle.dump(({str(path)!r}, arrays, "numpy"), child._proc.stdin)
        child._proc.stdin.flush()
        os._exit(3)  # dies without waiting for the reply or closing anything
    """)
    env = python_env(REPO)
    assert subprocess.run([sys.executable, "-c", script], env=env, timeout=60).returncode == 3
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    states = load_dump(path)["states"]
    np.testing.assert_array_equal(states, np.arange(24, dtype=np.float64).reshape(4, 2, 3))


def test_in_process_writing_can_be_chosen(tmp_path, monkeypatch, child):
    from skrl_isaac.dumps import writer

    monkeypatch.setattr(writer, "CSV_CHILD", False)
    memory = make_memory("cpu", 1, 1, str(tmp_path), "csv")
    for step in range(2):
        add_step(memory, step)
    memory.close()
    assert memory.exporter.writer.csv_process is None and child.pid is None
    assert len(dumps(tmp_path)) == 2


def test_a_child_that_cannot_start_means_in_process_writes(tmp_path, child, monkeypatch, caplog):
    def no_processes(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(csv_child.subprocess, "Popen", no_processes)
    memory = make_memory("cpu", 1, 2, str(tmp_path), "csv")
    with caplog.at_level(logging.WARNING, logger="skrl_isaac"):
        for step in range(3):
            add_step(memory, step)
        memory.close()
    assert child.in_process and child.pid is None
    warnings = [r.getMessage() for r in caplog.records if "could not start the csv export process" in r.getMessage()]
    assert len(warnings) == 1 and "Resource temporarily unavailable" in warnings[0]
    np.testing.assert_array_equal([np.float32(load_dump(p)["states"][0, 1, 0]) for p in dumps(tmp_path)],
                                  np.float32([0.01, 1.01, 2.01]))


def test_a_starved_child_does_not_stall_training(tmp_path, child, monkeypatch, caplog):
    from skrl_isaac.dumps import writer

    monkeypatch.setattr(writer, "STARVED_AFTER", 0.2)
    child.start()
    os.kill(child.pid, signal.SIGSTOP)  # gets no CPU at all, as under a machine-wide load
    memory = make_memory("cpu", 2, 3, str(tmp_path), "csv")
    try:
        with caplog.at_level(logging.WARNING, logger="skrl_isaac"):
            start = time.monotonic()
            loop = threading.Thread(target=lambda: [add_step(memory, step) for step in range(12)], daemon=True)
            loop.start()  # cycles 1-5 are exported during these steps (the 6th by close)
            loop.join(timeout=20)
            elapsed = time.monotonic() - start
            assert not loop.is_alive(), "training stalled behind the starved csv child"
        # cycles 1 and 2 hold the two slots (sent to the stopped child); 3 waited 0.2 s once and was
        # written here, as were 4 and 5 without waiting
        assert memory.exporter.writer.written_now == 3
        assert elapsed < 3.0
        here = [p for p in dumps(tmp_path) if p.endswith(("00000003.csv", "00000004.csv", "00000005.csv"))]
        assert len(here) == 3
        behind = [r for r in caplog.records if "behind" in r.getMessage()]
        assert len(behind) == 1
    finally:
        os.kill(child.pid, signal.SIGCONT)
    memory.close()  # the child writes cycles 1, 2; cycle 6 goes through it again
    written = dumps(tmp_path)
    assert [os.path.basename(p)[-12:] for p in written] == [f"{c:08d}.csv" for c in range(1, 7)]
    for cycle, path in enumerate(written, start=1):
        np.testing.assert_array_equal(load_dump(path)["states"][:, 0, 0], [2 * cycle - 2, 2 * cycle - 1])
    assert not child.in_process


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_starved_after_must_be_a_non_negative_number_of_seconds(bad):
    from skrl_isaac.dumps.writer import ExportWriter

    with pytest.raises(ValueError, match="starved_after must be a number of seconds >= 0"):
        ExportWriter(starved_after=bad)
