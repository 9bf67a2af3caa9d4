"""The ``fixed`` csv engine: ``%+.8e`` text for every float32, exact read-back, fixed-length rows."""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skrl_isaac.dumps import csv_text
from skrl_isaac.memories.torch import RandomMemory

FINITE_32 = st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=True)


def cells(arrays: dict[str, np.ndarray], writer: csv_text.FixedWidthCsv | None = None) -> list[list[str]]:
    out = io.BytesIO()
    (writer or csv_text.FixedWidthCsv()).write(out.write, arrays)
    text = out.getvalue().decode("ascii")
    assert text.endswith("\n")
    return [line.split(",") for line in text[:-1].split("\n")]


def edge_floats() -> np.ndarray:
    """Random float32 bit patterns, and the values where digit rounding goes wrong if anything does:
    powers of ten and their neighbours, subnormals, exact decimal ties, the range's ends."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    tens = np.array([10.0 ** k for k in range(-45, 39)], dtype=np.float32)
    values = np.concatenate([
        bits.view(np.float32),
        tens, np.nextafter(tens, np.float32(np.inf)), np.nextafter(tens, np.float32(0)),
        (1 + np.arange(0, 1024, 2) / 1024).astype(np.float32),  # 1.001953125: a tie at the 9th digit
        np.arange(1, 3000, dtype=np.uint32).view(np.float32),  # subnormals
        np.array([0.0, -0.0, np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1.0, 0.1, 1 / 3], dtype=np.float32),
    ])
    values = values[np.isfinite(values)]
    return np.concatenate([values, -values])


def test_every_value_is_c_printf_plus_8e_and_reads_back_bit_exactly():
    values = edge_floats()
    values = values[: values.size // 64 * 64]
    text = [row[2] for row in cells({"v": values.reshape(-1, 64, 1)})]
    expected = ["%+.8e" % float(v) for v in values]
    wrong = [(float(v), t, e) for v, t, e in zip(values, text, expected) if t != e]
    assert not wrong, wrong[:5]
    back = np.array(text, dtype=np.float64).astype(np.float32)
    assert np.array_equal(back.view(np.uint32), values.view(np.uint32))


WRITER = csv_text.FixedWidthCsv()  # one writer for every example: its scratch arrays must not leak between dumps


@settings(max_examples=80, deadline=None)
@given(data=st.data(), steps=st.integers(1, 12), envs=st.integers(1, 12), chunk=st.sampled_from([1, 5, 64, 1 << 15]))
def test_rows_read_back_exactly_whatever_the_shapes_and_chunks(data, steps, envs, chunk):
    names = data.draw(st.lists(st.sampled_from(["states", "actions", "terminated", "log_prob", "values"]),
                               min_size=1, max_size=4, unique=True))
    arrays = {}
    for name in names:
        dtype = data.draw(st.sampled_from([np.float32, np.float16, np.bool_]))
        elements = (st.booleans() if dtype == np.bool_ else
                    st.floats(width=16, allow_nan=False, allow_infinity=False) if dtype == np.float16 else FINITE_32)
        arrays[name] = data.draw(hnp.arrays(dtype, (steps, envs, data.draw(st.integers(1, 4))), elements=elements))
    old, csv_text.CHUNK_VALUES = csv_text.CHUNK_VALUES, chunk
    try:
        rows = cells(arrays, WRITER)
    finally:
        csv_text.CHUNK_VALUES = old
    assert len({sum(map(len, row)) for row in rows}) == 1  # every row has the same length
    assert [row[:2] for row in rows] == [[f"{s:0{len(str(steps - 1))}d}", f"{e:0{len(str(envs - 1))}d}"]
                                         for s in range(steps) for e in range(envs)]
    header = ",".join(csv_text.csv_columns(arrays)) + "\n"
    df = pd.read_csv(io.StringIO(header + "\n".join(",".join(row) for row in rows) + "\n"), dtype=np.float64)
    for name, a in arrays.items():
        back = df[[f"{name}.{i}" for i in range(a.shape[-1])]].to_numpy().astype(a.dtype).reshape(a.shape)
        if a.dtype == np.bool_:
            assert np.array_equal(back, a)
        else:
            assert np.array_equal(np.ascontiguousarray(back).view(np.uint8), np.ascontiguousarray(a).view(np.uint8)), name


def test_layout_booleans_and_zero_padding():
    arrays = {"states": np.array([0.25, -2.0] * 12, dtype=np.float32).reshape(2, 12, 1),
              "done": (np.arange(24).reshape(2, 12, 1) % 3 == 0)}
    rows = cells(arrays)
    assert rows[0] == ["0", "00", "+2.50000000e-01", "1"]
    assert rows[13] == ["1", "01", "-2.00000000e+00", "0"]
    assert [row[1] for row in rows[:12]] == [f"{e:02d}" for e in range(12)]


def test_fits_takes_finite_float32_float16_and_bool_only():
    ok = {"a": np.zeros((1, 1, 2), np.float32), "b": np.zeros((1, 1, 1), np.float16), "c": np.zeros((1, 1, 1), bool)}
    assert csv_text.fits(ok)
    for bad in (np.float32(np.nan), np.float32(-np.inf), np.float16(np.inf)):
        assert not csv_text.fits({**ok, "x": np.full((1, 1, 1), bad)})
    for dtype in (np.float64, np.int64, np.int32, np.uint8):
        assert not csv_text.fits({**ok, "x": np.zeros((1, 1, 1), dtype)})


def test_forcing_the_fixed_engine_on_other_dumps_names_the_problem(monkeypatch):
    with pytest.raises(ValueError, match=r"float32, float16 and bool .*\{'x': 'dtype float64'\}; use engine='polars' or 'numpy'"):
        csv_text.write_csv(io.BytesIO(), {"x": np.zeros((1, 1, 1), np.float64), "ok": np.zeros((1, 1, 1), bool)}, "fixed")
    monkeypatch.setattr(csv_text, "CSV_ENGINE", "fixed")
    with pytest.raises(ValueError, match=r"\{'x': 'NaN/inf values'\}"):
        csv_text.write_csv(io.BytesIO(), {"x": np.full((1, 1, 1), np.nan, np.float32)})


def test_text_and_binary_files_get_the_same_bytes():
    arrays = {"x": np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 2, 2), "d": np.ones((3, 2, 1), bool)}
    text, binary = io.StringIO(), io.BytesIO()
    csv_text.write_csv(text, arrays, "fixed")
    csv_text.write_csv(binary, arrays, "fixed")
    assert text.getvalue().encode("ascii") == binary.getvalue()
    assert binary.getvalue().startswith(b"step,env,x.0,x.1,d.0\n0,0,-3.00000000e+00,")


@pytest.mark.parametrize("csv_child", [True, False])
def test_a_ppo_like_export_is_written_fixed_and_loads_back_exactly(tmp_path, monkeypatch, csv_child):
    from skrl_isaac.dumps import writer

    monkeypatch.setattr(csv_text, "CSV_ENGINE", None)
    monkeypatch.setattr(writer, "CSV_CHILD", csv_child)
    g = torch.Generator().manual_seed(0)
    memory = RandomMemory(memory_size=3, num_envs=11, export=True, export_format="csv", export_directory=str(tmp_path))
    specs = {"states": (5, torch.float32), "terminated": (1, torch.bool), "log_prob": (1, torch.float32)}
    for name, (size, dtype) in specs.items():
        memory.create_tensor(name, size, dtype)
    samples = [{"states": torch.randn(11, 5, generator=g) * 10.0 ** torch.randint(-30, 30, (11, 5), generator=g),
                "terminated": torch.rand(11, 1, generator=g) < 0.3, "log_prob": -torch.rand(11, 1, generator=g)}
               for _ in range(3)]
    for sample in samples:
        memory.add_samples(**sample)
    memory.close()
    (path,) = [os.path.join(tmp_path, f) for f in os.listdir(tmp_path) if f.endswith(".csv")]
    lines = open(path).read().splitlines()
    assert lines[0] == ",".join(["step", "env"] + [f"{n}.{i}" for n in memory.get_tensor_names() for i in range(specs[n][0])])
    assert lines[1].startswith("0,00,") and len({len(line) for line in lines[1:]}) == 1  # the fixed engine's rows
    fresh = RandomMemory(memory_size=3, num_envs=11)
    for name, (size, dtype) in specs.items():
        fresh.create_tensor(name, size, dtype)
    fresh.load(path)
    for name in specs:
        assert torch.equal(fresh.tensors[name].cpu(), torch.stack([s[name] for s in samples])), name  # cuda if there
