"""The csv writer's general engines (polars, numpy fallback): same layout, same values, bit for bit.
(The ``fixed`` engine, for float32/float16/bool dumps, is tested in ``test_csv_fixed.py``.)"""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skrl_isaac.dumps import csv_text
from skrl_isaac.dumps import exporter as exporter_mod
from skrl_isaac.dumps import formats as formats_mod
from skrl_isaac.memories.torch import RandomMemory

pytest.importorskip("polars")

ENGINES = ["polars", "numpy"]
NP_DTYPES = [np.float16, np.float32, np.float64, np.int64, np.int32, np.int8, np.uint8, np.bool_]
BITS = {np.dtype(np.float16): np.int16, np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def write(arrays: dict[str, np.ndarray], engine: str) -> bytes:
    buf = io.BytesIO()
    csv_text.write_csv(buf, arrays, engine)
    return buf.getvalue()


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bits (-0.0 != 0.0); NaNs compare by position (their payload is not kept)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return np.array_equal(a, b)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return np.array_equal(nan_a, nan_b) and np.array_equal(np.where(nan_a, 0, a).view(BITS[a.dtype]),
                                                           np.where(nan_b, 0, b).view(BITS[b.dtype]))


def pandas_columns(data: bytes, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Plain ``pandas.read_csv`` (inferred dtypes), each tensor's columns cast back to its dtype."""
    df = pd.read_csv(io.BytesIO(data))
    steps, envs = next(iter(arrays.values())).shape[:2]
    out = {}
    for name, a in arrays.items():
        block = df[[f"{name}.{i}" for i in range(a.shape[-1])]].to_numpy()
        assert block.dtype.kind in "iufb", (name, block.dtype)  # numbers, never strings / objects
        with np.errstate(over="ignore", invalid="ignore"):
            out[name] = block.astype(a.dtype).reshape(steps, envs, a.shape[-1])
    return out


def _elements(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return st.floats(width=8 * dtype.itemsize, allow_nan=True, allow_infinity=True, allow_subnormal=True)
    if dtype.kind == "b":
        return st.booleans()
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


@st.composite
def arrays_data(draw):
    steps, envs = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(["states", "actions", "rewards", "terminated", "log.prob"]),
                          min_size=1, max_size=4, unique=True))
    return {n: draw(hnp.arrays(dtype, (steps, envs, draw(st.integers(1, 3))), elements=_elements(dtype)))
            for n in names for dtype in [draw(st.sampled_from(NP_DTYPES))]}


SPECIALS_32 = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45, 1.17549421e-38, 1.1754942e-38, 3.4028235e38,
               -3.4028235e38, 0.1, 1 / 3, 16777217.0, 1e-7, 123456789.0, 2.0**63, -(2.0**64), 1e19, 1e20]
SPECIALS_64 = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
               0.1, 2 / 3, 9007199254740993.0, 2.0**63, 1e19, -1e19, 1e21, 1e22, 12345678901234567e3]
SPECIALS_16 = [0.0, -0.0, np.nan, np.inf, -np.inf, 6e-8, 6.1e-5, 65504.0, -65504.0, 0.1, 1 / 3]


def specials() -> dict[str, np.ndarray]:
    def col(values, dtype):
        with np.errstate(over="ignore"):
            return np.array(values, dtype=dtype).reshape(len(values), 1, 1)

    integral = col([-0.0, 1.0, 2.0, 3.0], np.float32)  # all-integral column holding -0.0
    huge = col([1e19, -1e19, 2.0**63, 4.0], np.float64)  # integral, beyond int64
    return {"f32": col(SPECIALS_32, np.float32), "f64": col(SPECIALS_64, np.float64),
            "f16": col(SPECIALS_16, np.float16),
            "int": np.tile(col([-(2**63), 2**63 - 1, 0, -1], np.int64), (max(len(SPECIALS_32) // 4, 1), 1, 1)),
            "done": col([True, False] * (len(SPECIALS_32) // 2), np.bool_),
            "negzero": np.tile(integral, (len(SPECIALS_32) // 4, 1, 1)),
            "huge": np.tile(huge, (len(SPECIALS_32) // 4, 1, 1))}


def _equal_steps(arrays):
    steps = min(a.shape[0] for a in arrays.values())
    return {k: a[:steps] for k, a in arrays.items()}


# -- layout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_header_and_rows_layout(engine):
    arrays = {"states": np.arange(12, dtype=np.float32).reshape(2, 3, 2) / 4,
              "done": (np.arange(6).reshape(2, 3, 1) % 2 == 0)}
    lines = write(arrays, engine).decode("ascii").splitlines()
    assert lines[0] == "step,env,states.0,states.1,done.0"
    assert [line.split(",")[:2] for line in lines[1:]] == [[str(s), str(e)] for s in range(2) for e in range(3)]
    assert [line.split(",")[-1] for line in lines[1:]] == ["1", "0", "1", "0", "1", "0"]
    assert all('"' not in line for line in lines)


@pytest.mark.parametrize("engine", ENGINES)
def test_text_and_binary_files_get_the_same_bytes(engine):
    arrays = specials()
    text = io.StringIO()
    csv_text.write_csv(text, _equal_steps(arrays), engine)
    assert text.getvalue().encode("ascii") == write(_equal_steps(arrays), engine)


# -- values -----------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_special_values_read_back_exactly_with_plain_pandas(engine):
    arrays = _equal_steps(specials())
    data = write(arrays, engine)
    back = pandas_columns(data, arrays)
    for name, a in arrays.items():
        assert same_bits(back[name], a), (engine, name, back[name].ravel(), a.ravel())
    df = pd.read_csv(io.BytesIO(data))
    assert df["negzero.0"].dtype.kind == "f" and np.signbit(df["negzero.0"].to_numpy()[0])
    assert set(df["done.0"]) == {0, 1} and df["int.0"].dtype == np.int64


@pytest.mark.parametrize("engine", ENGINES)
def test_special_values_load_back_exactly_into_a_memory(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(csv_text, "CSV_ENGINE", engine)
    arrays = _equal_steps(specials())
    steps = next(iter(arrays.values())).shape[0]
    memory = RandomMemory(memory_size=steps, num_envs=1)
    for name, a in arrays.items():
        memory.create_tensor(name, a.shape[-1], torch.from_numpy(a[:1]).dtype)
    for step in range(steps):
        memory.add_samples(**{n: torch.from_numpy(a[step]) for n, a in arrays.items()})
    path = memory.save(str(tmp_path), "csv")
    fresh = RandomMemory(memory_size=steps, num_envs=1)
    for name, t in memory.tensors.items():
        fresh.create_tensor(name, t.shape[-1], t.dtype)
    fresh.load(path)
    for name, a in arrays.items():
        assert same_bits(fresh.tensors[name].cpu().numpy(), a), (engine, name)


@settings(max_examples=60, deadline=None)
@given(arrays=arrays_data())
def test_both_engines_parse_to_identical_values(arrays):
    files = {engine: write(arrays, engine) for engine in ENGINES}
    assert files["polars"].split(b"\n", 1)[0] == files["numpy"].split(b"\n", 1)[0]
    parsed = {engine: pandas_columns(data, arrays) for engine, data in files.items()}
    for name, a in arrays.items():
        assert same_bits(parsed["polars"][name], a), (name, a.dtype)
        assert same_bits(parsed["numpy"][name], a), (name, a.dtype)
    # through the reader the memory uses (floats parsed as float64, then cast)
    for engine, data in files.items():
        path = f"/dev/shm/skrl_isaac_csv_fast_{os.getpid()}_{engine}.csv" if os.path.isdir("/dev/shm") else None
        if path is None:
            continue
        with open(path, "wb") as f:
            f.write(data)
        try:
            dtypes = {n: np.float64 for n, a in arrays.items() if a.dtype.kind == "f"}
            back = formats_mod.read_dump(path, dtypes)
        finally:
            os.unlink(path)
        for name, a in arrays.items():
            value, why = exporter_mod._cast_exact(back[name], a.dtype)
            assert not why and same_bits(value, a), (engine, name, why)


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrays=arrays_data())
def test_memory_round_trip_with_each_engine(engine, arrays, monkeypatch, tmp_path_factory):
    arrays = {k: v for k, v in arrays.items() if v.dtype != np.float16}  # float16 memories: covered above
    if not arrays:
        return
    monkeypatch.setattr(csv_text, "CSV_ENGINE", engine)
    steps, envs = next(iter(arrays.values())).shape[:2]
    folder = str(tmp_path_factory.mktemp("csv"))
    memory = RandomMemory(memory_size=steps, num_envs=envs, export=True, export_format="csv", export_directory=folder)
    for name, a in arrays.items():
        memory.create_tensor(name, a.shape[-1], torch.from_numpy(a[:1]).dtype)
    for step in range(steps):
        memory.add_samples(**{n: torch.from_numpy(a[step]) for n, a in arrays.items()})
    memory.close()
    (path,) = [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".csv")]
    fresh = RandomMemory(memory_size=steps, num_envs=envs)
    for name, t in memory.tensors.items():
        fresh.create_tensor(name, t.shape[-1], t.dtype)
    fresh.load(path)
    for name, a in arrays.items():
        assert same_bits(fresh.tensors[name].cpu().numpy(), a), name


# -- engine choice ----------------------------------------------------------------------------
def test_default_engine_is_fixed_then_polars_when_installed_then_numpy(monkeypatch):
    monkeypatch.setattr(csv_text, "CSV_ENGINE", None)
    finite = {"x": np.array([[[0.5, -0.0]]], dtype=np.float32), "done": np.array([[[True]]])}
    other = {"x": np.array([[[0.5, np.nan]]], dtype=np.float32)}
    assert csv_text.csv_engine(finite) == "fixed"
    assert csv_text.csv_engine(other) == csv_text.csv_engine() == "polars"
    assert write(finite, None) == write(finite, "fixed")
    assert write(other, None) == write(other, "polars")
    monkeypatch.setattr(csv_text, "_POLARS", None)  # as if polars were not installed
    assert csv_text.csv_engine(finite) == "fixed"
    assert csv_text.csv_engine(other) == csv_text.csv_engine() == "numpy"
    assert write(other, None) == write(other, "numpy")
    with pytest.raises(ImportError, match="pip install polars"):
        write(other, "polars")
    with pytest.raises(ValueError, match=r"one of \('fixed', 'polars', 'numpy'\), got 'pyarrow'"):
        write(other, "pyarrow")


def test_export_without_polars_uses_the_numpy_engine(monkeypatch, tmp_path):
    monkeypatch.setattr(csv_text, "CSV_ENGINE", None)
    monkeypatch.setattr(csv_text, "_POLARS", None)
    memory = RandomMemory(memory_size=2, num_envs=2, export=True, export_format="csv", export_directory=str(tmp_path))
    memory.create_tensor("x", 2, torch.float32)
    values = torch.tensor([[[0.1, -0.0], [1e-45, 3.0]], [[float("nan"), float("inf")], [-1.0, 2.0]]])
    for step in range(2):
        memory.add_samples(x=values[step])
    memory.close()
    (path,) = [p for p in tmp_path.iterdir() if p.suffix == ".csv"]
    assert path.read_text().splitlines()[0] == "step,env,x.0,x.1"
    fresh = RandomMemory(memory_size=2, num_envs=2)
    fresh.create_tensor("x", 2, torch.float32)
    fresh.load(path)
    assert same_bits(fresh.tensors["x"].cpu().numpy(), values.numpy())

