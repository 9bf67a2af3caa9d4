"""Memory export (one file per fill cycle, off the training thread) and exact import."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skrl_isaac.dumps import exporter as exporter_mod
from skrl_isaac.dumps import writer as writer_mod
from skrl_isaac.dumps.formats import DumpError, load_dump
from skrl_isaac.dumps.writer import MemoryExportError
from skrl_isaac.memories.torch import RandomMemory

FORMATS = ["pt", "np", "csv"]
EXT = {"pt": ".pt", "np": ".npz", "csv": ".csv"}
DTYPES = [torch.float32, torch.float64, torch.int64, torch.int32, torch.bool, torch.uint8]


def make_memory(device, size=3, envs=2, export_dir=None, fmt="pt", tensors=None, **kw):
    memory = RandomMemory(memory_size=size, num_envs=envs, device=device, export=export_dir is not None,
                          export_format=fmt, export_directory=export_dir or "", **kw)
    for name, (n, dtype) in (tensors or {"states": (3, torch.float32), "done": (1, torch.bool)}).items():
        memory.create_tensor(name, n, dtype)
    return memory


def add_step(memory, value: float):
    """One step whose every entry encodes ``value`` (env e gets value + e / 100)."""
    envs = memory.num_envs
    offsets = torch.arange(envs, device=memory.device, dtype=torch.float64) / 100
    memory.add_samples(states=(value + offsets).float().unsqueeze(-1).expand(envs, 3),
                       done=(torch.arange(envs, device=memory.device) % 2 == int(value) % 2))


def dumps(directory):
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if not f.startswith(".") and not f.endswith(".sha256"))  # (a csv dump's integrity record)


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal dtypes/shapes and values, bit for bit (so -0.0 != 0.0), NaN positions equal."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.is_floating_point:
        nan_a, nan_b = torch.isnan(a), torch.isnan(b)
        if not torch.equal(nan_a, nan_b):
            return False
        bits = {torch.float16: torch.int16, torch.float32: torch.int32, torch.float64: torch.int64}[a.dtype]
        return torch.equal(a.masked_fill(nan_a, 0).view(bits), b.masked_fill(nan_b, 0).view(bits))
    return torch.equal(a, b)


# -- round trips ------------------------------------------------------------------------------
def _elements(dtype):
    if dtype.is_floating_point:
        width = 32 if dtype == torch.float32 else 64
        return st.floats(width=width, allow_nan=True, allow_infinity=True, allow_subnormal=True)
    if dtype == torch.bool:
        return st.booleans()
    info = torch.iinfo(dtype)
    return st.integers(info.min, info.max)


@st.composite
def memories_data(draw):
    size = draw(st.integers(1, 4))
    envs = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(["states", "actions", "rewards", "terminated", "log.prob"]),
                          min_size=1, max_size=3, unique=True))
    spec = {n: (draw(st.integers(1, 3)), draw(st.sampled_from(DTYPES))) for n in names}
    data = {}
    for n, (k, dtype) in spec.items():
        np_dtype = torch.empty((), dtype=dtype).numpy().dtype
        data[n] = draw(hnp.arrays(np_dtype, (size, envs, k), elements=_elements(dtype)))
    return size, envs, spec, data


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=memories_data())
def test_round_trip_through_a_fill_cycle(device, fmt, case):
    size, envs, spec, data = case
    with tempfile.TemporaryDirectory() as tmp:
        memory = make_memory(device, size, envs, tmp, fmt, spec)
        for step in range(size):
            memory.add_samples(**{n: torch.from_numpy(a[step]).to(device) for n, a in data.items()})
        memory.close()
        (path,) = dumps(tmp)
        assert path.endswith(EXT[fmt])
        fresh = make_memory(device, size, envs, None, fmt, spec)
        fresh.load(path)
        assert fresh.filled and fresh.memory_index == 0
        for name, array in data.items():
            loaded = fresh.get_tensor_by_name(name)
            assert loaded.device.type == torch.device(device).type
            assert same(loaded.cpu(), torch.from_numpy(array)), name
            assert same(loaded, memory.get_tensor_by_name(name)), name


def test_float_edge_values_survive_every_format(tmp_path):
    specials = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e-45, -1e-45, 1.17549421e-38,
                3.4028235e38, -3.4028235e38, 0.1, 1 / 3]
    spec = {"f32": (len(specials), torch.float32), "f64": (len(specials), torch.float64)}
    extra64 = [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 2 / 3, -0.0]
    for fmt in FORMATS:
        memory = make_memory("cpu", 1, 1, None, fmt, spec)
        f64 = torch.tensor([specials[:-len(extra64)] + extra64], dtype=torch.float64)
        memory.add_samples(f32=torch.tensor([specials], dtype=torch.float32), f64=f64)
        fresh = make_memory("cpu", 1, 1, None, fmt, spec)
        fresh.load(memory.save(str(tmp_path / fmt), fmt))
        for name in spec:
            assert same(fresh.tensors[name], memory.tensors[name]), (fmt, name)


# -- one file per fill cycle ------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_one_file_per_fill_cycle_in_cycle_order(device, tmp_path, fmt):
    size, envs, cycles = 3, 2, 5
    memory = make_memory(device, size, envs, str(tmp_path), fmt)
    for step in range(size * cycles + 2):  # 5 full cycles and a partial one
        add_step(memory, step)
    memory.close()
    files = dumps(tmp_path)
    assert len(files) == cycles
    assert [int(os.path.basename(f).rsplit("_", 1)[1].split(".")[0]) for f in files] == list(range(1, cycles + 1))
    for k, path in enumerate(files):
        states = load_dump(path)["states"]
        expected = np.arange(k * size, (k + 1) * size)[:, None] + np.arange(envs)[None, :] / 100
        np.testing.assert_array_equal(states[..., 0].astype(np.float32), expected.astype(np.float32))
        done = load_dump(path)["done"][..., 0].astype(bool)
        np.testing.assert_array_equal(done, np.arange(envs)[None, :] % 2 == np.arange(k * size, (k + 1) * size)[:, None] % 2)


def test_two_memories_in_one_folder_do_not_clash(tmp_path):
    a = make_memory("cpu", 2, 1, str(tmp_path), "np")
    b = make_memory("cpu", 2, 1, str(tmp_path), "np")
    for step in range(4):
        add_step(a, step)
        add_step(b, step + 100)
    a.close(), b.close()
    files = dumps(tmp_path)
    assert len(files) == 4
    prefixes = {os.path.basename(f).split("_memory_")[0] for f in files}
    assert len(prefixes) == 2


def test_no_host_access_between_fills(device, tmp_path, monkeypatch):
    memory = make_memory(device, 5, 3, str(tmp_path), "csv")
    data = [torch.randn(3, 3, device=device) for _ in range(5)]
    zeros, ones = torch.zeros(3, dtype=torch.bool, device=device), torch.ones(3, dtype=torch.bool, device=device)

    def forbidden(*args, **kwargs):
        raise AssertionError("host access on the hot path")

    with monkeypatch.context() as patch:
        for attr in ("item", "cpu", "numpy", "tolist"):
            patch.setattr(torch.Tensor, attr, forbidden)
        for step in range(memory.memory_size - 1):
            memory.add_samples(states=data[step], done=zeros)
    assert dumps(tmp_path) == []
    memory.add_samples(states=data[4], done=ones)  # fills: exported before the next write, or at close()
    memory.close()
    assert len(dumps(tmp_path)) == 1


def test_snapshot_is_taken_before_the_first_overwrite(tmp_path, monkeypatch):
    gate = threading.Event()
    real = exporter_mod.write_dump
    monkeypatch.setattr(exporter_mod, "write_dump", lambda *a: (gate.wait(5), real(*a)))
    memory = make_memory("cpu", 2, 1, str(tmp_path), "pt")
    for step in range(3):  # fill (export queued, writer blocked), then overwrite step 0
        add_step(memory, step)
    gate.set()
    memory.close()
    (path,) = dumps(tmp_path)
    assert load_dump(path)["states"][:, 0, 0].tolist() == [0.0, 1.0]


# -- background writer ------------------------------------------------------------------------
def test_close_waits_for_every_pending_write(tmp_path, monkeypatch):
    real = exporter_mod.write_dump
    monkeypatch.setattr(exporter_mod, "write_dump", lambda *a: (time.sleep(0.02), real(*a)))
    memory = make_memory("cpu", 2, 4, str(tmp_path), "csv")
    for step in range(2 * 12):
        add_step(memory, step)
    memory.close()
    files = dumps(tmp_path)
    assert len(files) == 12
    for k, path in enumerate(files):
        assert load_dump(path)["states"][:, 0, 0].tolist() == [2 * k, 2 * k + 1]
    # no temp files left (each csv dump has its integrity record beside it)
    assert sorted(os.listdir(tmp_path)) == sorted(n for f in files for n in (os.path.basename(f), os.path.basename(f) + ".sha256"))


def test_at_most_two_snapshots_pending(tmp_path, monkeypatch):
    gate = threading.Event()
    real = exporter_mod.write_dump
    monkeypatch.setattr(exporter_mod, "write_dump", lambda *a: (gate.wait(10), real(*a)))
    memory = make_memory("cpu", 1, 1, str(tmp_path), "pt")
    add_step(memory, 0)  # fills cycle 1 (exported before the next write)
    add_step(memory, 1)  # snapshot 1: being written (blocked)
    add_step(memory, 2)  # snapshot 2: queued
    done = threading.Event()
    worker = threading.Thread(target=lambda: (add_step(memory, 3), done.set()))
    worker.start()
    assert not done.wait(0.3), "the third fill should block while two snapshots are pending"
    gate.set()
    assert done.wait(5)
    worker.join()
    memory.close()
    assert len(dumps(tmp_path)) == 4


def test_failed_write_raises_once_and_keeps_earlier_files(tmp_path, monkeypatch):
    # csv on the writer's own thread, so the fault injected here (os.fsync) reaches the write
    # (the child-process path has its own failure tests in test_csv_child.py)
    monkeypatch.setattr(writer_mod, "CSV_CHILD", False)
    memory = make_memory("cpu", 2, 2, str(tmp_path), "csv")
    for step in range(3):  # fills cycle 1; the next write exports it
        add_step(memory, step)
    memory.exporter.writer.wait()
    (first,) = dumps(tmp_path)
    content = open(first).read()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", disk_full)
    for step in range(3, 5):
        add_step(memory, step)  # fills cycle 2, whose export then fails in the background
    memory.exporter.writer.wait()
    monkeypatch.setattr(os, "fsync", real_fsync)
    with pytest.raises(MemoryExportError) as info:
        add_step(memory, 5)
    message = str(info.value)
    assert "memory_00000002.csv" in message and "No space left on device" in message
    add_step(memory, 6)  # raised once (and step 5 was not recorded): training goes on, fills cycle 3
    memory.close()
    assert dumps(tmp_path) == [first, *dumps(tmp_path)[1:]]
    assert open(first).read() == content
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))  # no temp file left behind
    assert len(dumps(tmp_path)) == 2  # cycles 1 and 3; cycle 2 failed and left nothing


def test_export_directory_that_is_a_file_fails_clearly(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    memory = make_memory("cpu", 2, 1, str(blocker / "memory"), "np")
    for step in range(2):
        add_step(memory, step)
    with pytest.raises(MemoryExportError, match="not_a_dir") as info:
        memory.close()
    assert "Errno" in str(info.value)
    assert blocker.read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_fails_at_save(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    memory = make_memory("cpu", 1, 1, str(folder), "pt")
    add_step(memory, 0)
    try:
        with pytest.raises(MemoryExportError, match="Permission denied"):
            memory.save()
    finally:
        folder.chmod(0o700)


# -- save / load ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_save_partial_memory_and_load_sets_fill_state(device, tmp_path, fmt):
    memory = make_memory(device, 4, 2)
    for step in range(3):
        add_step(memory, step)
    path = memory.save(str(tmp_path), fmt)
    assert os.path.isfile(path) and path.endswith(EXT[fmt])
    fresh = make_memory(device, 4, 2)
    fresh.load(path)
    assert not fresh.filled and fresh.memory_index == 3 and len(fresh) == 3
    for name in ("states", "done"):
        assert same(fresh.tensors[name][:3], memory.tensors[name][:3])


def test_save_empty_memory_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        make_memory("cpu").save(str(tmp_path), "pt")


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_refuses_a_file_that_does_not_match(tmp_path, fmt):
    memory = make_memory("cpu", 2, 2, tensors={"states": (3, torch.float32), "done": (1, torch.bool),
                                               "extra": (1, torch.float32)})
    for step in range(2):
        memory.add_samples(states=torch.zeros(2, 3), done=torch.ones(2, dtype=torch.bool), extra=torch.ones(2))
    path = memory.save(str(tmp_path), fmt)

    wrong_size = make_memory("cpu", 2, 2, tensors={"states": (4, torch.float32), "done": (1, torch.bool),
                                                   "extra": (1, torch.float32)})
    with pytest.raises(DumpError, match=r"'states'.*\(2, 2, 3\)"):
        wrong_size.load(path)
    names = make_memory("cpu", 2, 2, tensors={"states": (3, torch.float32), "done": (1, torch.bool),
                                              "rewards": (1, torch.float32)})
    with pytest.raises(DumpError) as info:
        names.load(path)
    assert "['extra']" in str(info.value) and "['rewards']" in str(info.value)
    with pytest.raises(DumpError, match="more than memory_size"):
        make_memory("cpu", 1, 2, tensors={"states": (3, torch.float32), "done": (1, torch.bool),
                                          "extra": (1, torch.float32)}).load(path)
    envs = make_memory("cpu", 2, 3, tensors={"states": (3, torch.float32), "done": (1, torch.bool),
                                             "extra": (1, torch.float32)})
    with pytest.raises(DumpError, match="'done'"):
        envs.load(path)
    dtype = make_memory("cpu", 2, 2, tensors={"states": (3, torch.float32), "done": (1, torch.float64 if fmt != "csv" else torch.bool),
                                              "extra": (1, torch.int64)})
    if fmt == "csv":  # csv: 1.0 reads back as an int exactly; 0.5 does not
        dtype.load(path)
        memory.tensors["extra"].fill_(0.5)
        path = memory.save(str(tmp_path), fmt)
        with pytest.raises(DumpError, match="'extra'.*int64"):
            dtype.load(path)
    else:
        with pytest.raises(DumpError, match=r"'done': file dtype torch.bool vs memory dtype torch.float64"):
            dtype.load(path)


def test_load_refuses_files_that_are_not_dumps(tmp_path):
    memory = make_memory("cpu")
    cases = {"a.txt": "hello", "b.csv": "x,y\n1,2\n", "c.csv": "step,env,s.1\n0,0,1\n", "d.csv": "step,env,s.0\n0,1,1\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(DumpError, match="not a memory dump"):
            memory.load(tmp_path / name)
    torch.save([1, 2], tmp_path / "e.pt")
    (tmp_path / "f.npz").write_bytes(b"not a zip")
    for name in ("e.pt", "f.npz"):
        with pytest.raises(DumpError, match="not a memory dump"):
            memory.load(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        memory.load(tmp_path / "missing.pt")
    # a cell that is not a number, in a column parsed as the memory's float dtype: named, nothing loaded
    (tmp_path / "g.csv").write_text("step,env,done.0,states.0,states.1,states.2\n0,0,1,0.5,1.5,2.5\n0,1,0,0.5,x,2.5\n")
    with pytest.raises(DumpError, match=r"line 3 \(data row 2\), column 'states.1': 'x'"):
        memory.load(tmp_path / "g.csv")
    assert not memory.filled and memory.memory_index == 0 and not memory.tensors["states"].any()


def test_pt_dump_is_a_plain_dict_and_csv_reads_with_pandas(tmp_path):
    memory = make_memory("cpu", 2, 3)
    for step in range(2):
        add_step(memory, step)
    pt = torch.load(memory.save(str(tmp_path), "pt"), weights_only=True)
    # plus the content digest that loading checks
    assert set(pt) == {"states", "done", "__integrity__"} and pt["states"].device.type == "cpu" and pt["done"].dtype == torch.bool
    npz = np.load(memory.save(str(tmp_path), "np"))
    assert set(npz.files) == {"states", "done", "__integrity__"} and npz["states"].shape == (2, 3, 3)
    for name in ("states", "done"):  # the live memory's values, as they are
        assert same(pt[name], memory.tensors[name]) and np.array_equal(npz[name], memory.tensors[name].numpy())
    df = pd.read_csv(memory.save(str(tmp_path), "csv"))
    assert list(df.columns) == ["step", "env", "done.0", "states.0", "states.1", "states.2"]
    assert len(df) == 6 and df["step"].tolist() == [0, 0, 0, 1, 1, 1] and df["env"].tolist() == [0, 1, 2] * 2
    # each row is (step, env) of the live memory: booleans as 0/1, floats that read back to the same float32
    done = memory.tensors["done"].reshape(6, 1)
    states = memory.tensors["states"].reshape(6, 3)
    assert df["done.0"].dtype.kind == "i" and df["done.0"].tolist() == done[:, 0].long().tolist()
    assert same(torch.from_numpy(df[["states.0", "states.1", "states.2"]].to_numpy(np.float32, copy=True)), states)


def test_csv_and_np_refuse_bfloat16_but_pt_keeps_it(tmp_path):
    memory = make_memory("cpu", 1, 1, tensors={"h": (2, torch.bfloat16)})
    memory.add_samples(h=torch.tensor([[1.5, -2.0]]))
    fresh = make_memory("cpu", 1, 1, tensors={"h": (2, torch.bfloat16)})
    fresh.load(memory.save(str(tmp_path), "pt"))
    assert torch.equal(fresh.tensors["h"], memory.tensors["h"])
    for fmt in ("np", "csv"):
        with pytest.raises(ValueError, match="bfloat16.*'pt'"):
            memory.save(str(tmp_path), fmt)
