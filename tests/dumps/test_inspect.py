"""``skrl-isaac memory inspect``: summaries and env rows of dumps of every format."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import python_env
from skrl_isaac.dumps.cli import main
from skrl_isaac.dumps.formats import DumpError, load_dump
from skrl_isaac.dumps.inspection import inspect_dump
from skrl_isaac.memories.torch import RandomMemory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    """One dump per format of the same memory: 4 steps x 3 envs, a NaN in states.1, a bool column."""
    folder = tmp_path_factory.mktemp("dumps")
    memory = RandomMemory(memory_size=4, num_envs=3, device="cpu")
    memory.create_tensor("states", 2)
    memory.create_tensor("terminated", 1, torch.bool)
    memory.create_tensor("rewards", 1)
    for step in range(4):
        env = torch.arange(3, dtype=torch.float32)
        memory.add_samples(states=torch.stack([10 * step + env, -env], dim=-1),
                           terminated=(env == step), rewards=torch.full((3,), 0.5 * step))
    memory.tensors["states"][2, 1, 1] = float("nan")
    return {fmt: memory.save(str(folder), fmt) for fmt in ("pt", "np", "csv")}


@pytest.mark.parametrize("fmt", ["pt", "np", "csv"])
def test_summary_lists_tensors_shapes_stats_and_nans(dumps, fmt):
    report = inspect_dump(dumps[fmt])
    assert "4 steps x 3 envs = 12 rows" in report
    for name, shape in (("states", "(4, 3, 2)"), ("terminated", "(4, 3, 1)"), ("rewards", "(4, 3, 1)")):
        line = next(line for line in report.splitlines() if line.strip().startswith(name + " "))
        assert shape in line
    rows = {parts[0]: parts for parts in (line.split() for line in report.splitlines()) if parts and parts[0] in
            ("states.0", "states.1", "terminated.0", "rewards.0")}
    # column dtype min mean max nan
    assert rows["states.0"][2:] == ["0", "16", "32", "0"]
    assert float(rows["states.1"][2]) == -2 and float(rows["states.1"][4]) == 0 and rows["states.1"][5] == "1"
    assert rows["terminated.0"][2:] == ["0", "0.25", "1", "0"]
    assert rows["rewards.0"][2:] == ["0", "0.75", "1.5", "0"]
    if fmt == "csv":
        assert "inferred" in report


@pytest.mark.parametrize("fmt", ["pt", "np", "csv"])
def test_env_rows(dumps, fmt):
    report = inspect_dump(dumps[fmt], env=1)
    section = report.split("rows of env 1 (4 shown):")[1].strip().splitlines()
    assert sorted(section[0].split()) == sorted(["step", "env", "states.0", "states.1", "terminated.0", "rewards.0"])
    body = [line.split() for line in section[1:]]
    assert [r[0] for r in body] == ["0", "1", "2", "3"] and {r[1] for r in body} == {"1"}
    header = section[0].split()
    assert [r[header.index("states.0")] for r in body] == ["1", "11", "21", "31"]
    assert body[2][header.index("states.1")] == "NaN"
    assert "rows of env 1 (2 shown)" in inspect_dump(dumps[fmt], env=1, rows=2)
    assert "rows (5 shown)" in inspect_dump(dumps[fmt], rows=5)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        inspect_dump(dumps[fmt], env=3)


def test_load_dump_gives_the_same_arrays_for_every_format(dumps):
    ref = load_dump(dumps["pt"])
    for fmt in ("np", "csv"):
        other = load_dump(dumps[fmt])
        assert set(other) == set(ref)
        for name in ref:
            np.testing.assert_array_equal(other[name].astype(ref[name].dtype), ref[name])


def test_main_in_process(dumps, capsys):
    assert main(["inspect", dumps["csv"], "--env", "2", "--rows", "3"]) == 0
    out = capsys.readouterr().out
    assert "rows of env 2 (3 shown)" in out


def test_not_a_dump_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DumpError, match="not a memory dump"):
        inspect_dump(tmp_path / "x.csv")
    assert main(["inspect", str(tmp_path / "x.csv")]) == 2
    assert "not a memory dump" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "missing.npz")]) == 2
    assert "no memory dump" in capsys.readouterr().err


def test_cli_module_entry_point(dumps):
    env = python_env(ROOT)
    done = subprocess.run([sys.executable, "-m", "skrl_isaac.memories", "inspect", dumps["np"],
                           "--env", "0"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "4 steps x 3 envs" in done.stdout and "rows of env 0 (4 shown)" in done.stdout


@pytest.mark.parametrize("spoil, why", [
    (lambda line: line.rsplit(",", 1)[0] + ",abc", "column 'terminated.0': 'abc'"),  # a non-numeric cell
    (lambda line: line.rsplit(",", 1)[0], "column 'terminated.0': empty or missing"),  # a truncated row
    (lambda line: line.rsplit(",", 2)[0] + ",,", "column 'states.1': empty or missing"),  # empty cells
])
def test_unparseable_cells_are_reported_with_file_row_and_column(dumps, tmp_path, capsys, spoil, why):
    with open(dumps["csv"]) as f:
        lines = f.read().splitlines()
    lines[5] = spoil(lines[5])  # file line 6, data row 5: step 1, env 1
    path = tmp_path / "spoiled.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DumpError, match="not a memory dump"):
        load_dump(path)
    assert main(["inspect", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no statistics of a misread file
    [line] = captured.err.strip().splitlines()
    assert line.startswith("error: ") and str(path) in line and "line 6 (data row 5)" in line and why in line
