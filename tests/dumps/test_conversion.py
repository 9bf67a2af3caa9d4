"""``skrl-isaac memory convert``: dumps converted after a run are the files the export would have written."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import python_env
from skrl_isaac.cli.main import main as skrl_isaac_main
from skrl_isaac.dumps.cli import main
from skrl_isaac.dumps.conversion import Conversion, convert_dump, convert_dumps, plan_conversions
from skrl_isaac.dumps.formats import DumpError, read_dump
from skrl_isaac.memories.torch import RandomMemory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def exported_run(folder: str, fmt: str, cycles: int = 3, seed: int = 0) -> list[str]:
    """The dumps of a PPO-shaped memory (float32 and bool tensors) exported live in ``fmt``, by cycle."""
    generator = torch.Generator().manual_seed(seed)
    memory = RandomMemory(memory_size=4, num_envs=5, device="cpu", export=True, export_format=fmt,
                          export_directory=folder)
    memory.create_tensor("states", 3)
    memory.create_tensor("rewards", 1)
    memory.create_tensor("terminated", 1, torch.bool)
    for _ in range(cycles * 4):
        memory.add_samples(states=torch.randn(5, 3, generator=generator) * 10 ** torch.randint(-3, 4, (5, 3), generator=generator),
                           rewards=torch.randn(5, 1, generator=generator),
                           terminated=torch.rand(5, 1, generator=generator) < 0.3)
    memory.close()
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if not n.endswith(".sha256"))


def test_np_exports_converted_to_csv_are_the_live_csv_exports_byte_for_byte(tmp_path):
    live = exported_run(str(tmp_path / "csv"), "csv")
    npz = exported_run(str(tmp_path / "np"), "np")
    assert len(live) == len(npz) == 3
    assert main(["convert", str(tmp_path / "np"), "--to", "csv", "--output", str(tmp_path / "converted")]) == 0
    converted = sorted(os.path.join(tmp_path / "converted", n) for n in os.listdir(tmp_path / "converted")
                       if not n.endswith(".sha256"))  # the csv dumps' integrity records
    # same names as the npz files (their creation-time prefix and cycle), csv extension
    assert [os.path.basename(p)[:-4] for p in converted] == [os.path.basename(p)[:-4] for p in npz]
    for live_file, converted_file in zip(live, converted):
        with open(live_file, "rb") as a, open(converted_file, "rb") as b:
            assert a.read() == b.read()


@pytest.mark.parametrize("to", ["np", "csv"])
def test_pt_dumps_convert_with_their_values(tmp_path, to):
    [source] = exported_run(str(tmp_path), "pt", cycles=1)
    target = str(tmp_path / f"out.{'npz' if to == 'np' else 'csv'}")
    convert_dump(source, target, to)
    ref, got = read_dump(source), read_dump(target)
    assert set(got) == set(ref)
    for name in ref:
        np.testing.assert_array_equal(np.asarray(got[name]).astype(ref[name].numpy().dtype), ref[name].numpy())
        if to == "np":
            assert got[name].dtype == ref[name].numpy().dtype


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "float64": torch.float64, "bool": torch.bool,
           "int64": torch.int64}


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(1, 4), envs=st.integers(1, 4), sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       dtypes=st.lists(st.sampled_from(sorted(_DTYPES)), min_size=3, max_size=3),
       specials=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_round_trip_pt_np_csv_pt_keeps_every_value(tmp_path_factory, steps, envs, sizes, dtypes, specials, seed):
    folder = tmp_path_factory.mktemp("round_trip")
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for i, size in enumerate(sizes):
        dtype = _DTYPES[dtypes[i]]
        values = torch.randn(steps, envs, size, generator=generator, dtype=torch.float64) * 1e3
        if dtype == torch.bool:
            tensors[f"t{i}"] = values > 0
        elif dtype == torch.int64:
            tensors[f"t{i}"] = values.round().to(dtype)
        else:
            t = values.to(dtype)
            if specials:
                t.view(-1)[: min(4, t.numel())] = torch.tensor([float("nan"), float("inf"), -0.0, float("-inf")],
                                                               dtype=dtype)[: min(4, t.numel())]
            tensors[f"t{i}"] = t
    torch.save(tensors, folder / "a_memory_00000001.pt")
    convert_dump(folder / "a_memory_00000001.pt", folder / "b.npz", "np")
    convert_dump(folder / "b.npz", folder / "c.csv", "csv")
    back = read_dump(folder / "c.csv")  # dtypes inferred (int64 / float64): the values must be exact
    for name, t in tensors.items():
        ref = t.numpy()
        got = np.asarray(back[name]).astype(ref.dtype)
        np.testing.assert_array_equal(got, ref)  # NaN == NaN here
        if t.is_floating_point():
            np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))  # -0.0 kept


def test_bfloat16_is_widened_exactly_for_np_and_csv(tmp_path):
    values = torch.tensor([1.0, -2.5, 3.0e-3, 1.0e30], dtype=torch.bfloat16).reshape(2, 2, 1)
    torch.save({"x": values}, tmp_path / "m.pt")
    for to, ext in (("np", "npz"), ("csv", "csv")):
        convert_dump(tmp_path / "m.pt", tmp_path / f"m.{ext}", to)
        np.testing.assert_array_equal(np.asarray(read_dump(tmp_path / f"m.{ext}")["x"], dtype=np.float32),
                                      values.float().numpy())
    convert_dump(tmp_path / "m.npz", tmp_path / "back.pt", "pt")
    assert read_dump(tmp_path / "back.pt")["x"].dtype == torch.float32


def test_a_folder_stands_for_its_dumps_not_yet_in_the_target_format(tmp_path):
    exported_run(str(tmp_path), "np", cycles=2)
    exported_run(str(tmp_path), "csv", cycles=1)
    (tmp_path / "notes.txt").write_text("not a dump")
    (tmp_path / ".hidden_memory_00000001.npz").write_bytes(b"")
    plan = plan_conversions([tmp_path], "csv")
    assert [os.path.basename(c.source) for c in plan] == sorted(n for n in os.listdir(tmp_path) if n.endswith(".npz")
                                                                and not n.startswith("."))
    assert all(c.target == c.source[:-4] + ".csv" and c.to == "csv" for c in plan)


def test_bad_input_is_one_error_listing_every_problem_and_nothing_is_written(tmp_path, capsys):
    [npz] = exported_run(str(tmp_path / "run"), "np", cycles=1)
    [csv] = exported_run(str(tmp_path / "other"), "csv", cycles=1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    args = [npz, csv, str(tmp_path / "missing.npz"), str(tmp_path / "empty"), str(tmp_path / "notes.txt")]
    with pytest.raises(ValueError) as info:
        plan_conversions(args, "csv")
    message = str(info.value)
    for expected in ("is in format 'csv' already", "missing.npz' does not exist",
                     "holds no .pt / .npz / .csv dump that is not 'csv' already", "notes.txt' is not a memory dump"):
        assert expected in message
    assert main(["convert", *args, "--to", "csv"]) == 2
    assert "error:" in capsys.readouterr().err
    assert not os.path.exists(npz[:-4] + ".csv")
    with pytest.raises(ValueError, match="memory export format must be one of"):
        plan_conversions([npz], "parquet")


def test_existing_targets_need_force_and_clashing_targets_are_refused(tmp_path, capsys):
    [npz] = exported_run(str(tmp_path), "np", cycles=1)
    assert main(["convert", npz, "--to", "csv"]) == 0
    assert "converted 1 of 1 dump(s) to csv" in capsys.readouterr().out
    with open(npz[:-4] + ".csv", "rb") as f:
        first = f.read()
    assert main(["convert", npz, "--to", "csv"]) == 2
    err = capsys.readouterr().err
    assert "1 converted file(s) exist already" in err and "--force overwrites them" in err
    os.truncate(npz[:-4] + ".csv", 10)
    assert main(["convert", npz, "--to", "csv", "--force"]) == 0
    with open(npz[:-4] + ".csv", "rb") as f:
        assert f.read() == first
    convert_dump(npz, npz[:-4] + ".pt", "pt")
    with pytest.raises(ValueError, match="would both be converted to"):
        plan_conversions([npz, npz[:-4] + ".pt"], "csv", output=str(tmp_path / "out"), force=True)


def test_a_broken_dump_is_reported_and_the_others_are_still_converted(tmp_path, capsys):
    good = exported_run(str(tmp_path), "np", cycles=2)
    broken = tmp_path / "0_broken_memory_00000001.npz"
    broken.write_bytes(b"not a zip file")
    assert main(["convert", str(tmp_path), "--to", "csv"]) == 1
    captured = capsys.readouterr()
    assert "converted 2 of 3 dump(s)" in captured.out
    assert "0_broken_memory_00000001.npz" in captured.err and "not a memory dump" in captured.err
    assert all(os.path.exists(p[:-4] + ".csv") for p in good)
    assert not os.path.exists(tmp_path / "0_broken_memory_00000001.csv")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temp file left behind


def test_convert_dumps_reports_failures_with_their_errors(tmp_path):
    missing = Conversion(str(tmp_path / "gone.npz"), str(tmp_path / "gone.csv"), "csv")
    done, failed = convert_dumps([missing], progress=False)
    assert done == [] and failed[0][0] == missing and isinstance(failed[0][1], FileNotFoundError)
    (tmp_path / "bad.npz").write_bytes(b"PK but not really")
    with pytest.raises(DumpError, match="not a memory dump: it is a text file, not the zip archive numpy.savez writes"):
        convert_dump(tmp_path / "bad.npz", tmp_path / "bad.csv", "csv")
    assert not os.path.exists(tmp_path / "bad.csv")


def test_the_command_line_entry_points(tmp_path):
    [npz] = exported_run(str(tmp_path / "run"), "np", cycles=1)
    assert skrl_isaac_main(["memory", "convert", npz, "--to", "pt"]) == 0
    assert os.path.exists(npz[:-4] + ".pt")
    done = subprocess.run([sys.executable, "-m", "skrl_isaac.dumps", "convert", npz[:-4] + ".pt",
                           "--to", "csv", "--output", str(tmp_path / "csv")],
                          capture_output=True, text=True, env=python_env(ROOT), timeout=120)
    assert done.returncode == 0, done.stderr
    csv = os.path.basename(npz)[:-4] + ".csv"
    assert sorted(os.listdir(tmp_path / "csv")) == [csv, csv + ".sha256"]
    # the folder now holds an .npz and a .pt of the same dump: both would become the same csv
    done = subprocess.run([sys.executable, "-m", "skrl_isaac.memories", "convert", str(tmp_path / "run"),
                           "--to", "csv"], capture_output=True, text=True, env=python_env(ROOT), timeout=120)
    assert done.returncode == 2 and "would both be converted to" in done.stderr


def test_a_folder_that_cannot_be_listed_is_one_of_the_problems(tmp_path, monkeypatch):
    [npz] = exported_run(str(tmp_path / "run"), "np", cycles=1)
    (tmp_path / "locked").mkdir()
    real_listdir = os.listdir

    def listdir(path):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    with pytest.raises(ValueError, match=r"locked' cannot be listed \(Permission denied\)"):
        plan_conversions([npz, tmp_path / "locked"], "csv")


def _spoil_csv(path: str, line: int, cells: str | None) -> None:
    """Replace the last cell of ``line`` (0: the header) of a csv dump by ``cells``, or drop it (None)."""
    with open(path) as f:
        lines = f.read().splitlines()
    head = lines[line].rsplit(",", 1)[0]
    lines[line] = head if cells is None else f"{head},{cells}"
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    # an edited dump whose integrity record is gone (with it, the edit is reported as damage: tests/reliability)
    os.unlink(path + ".sha256")


def test_a_csv_with_a_non_numeric_cell_is_reported_and_the_others_are_converted(tmp_path, capsys):
    good_first, bad, good_last = exported_run(str(tmp_path), "csv", cycles=3)
    _spoil_csv(bad, 7, "abc")  # file line 8: data row 7 = step 1, env 2; last column: terminated.0
    assert main(["convert", str(tmp_path), "--to", "np"]) == 1
    captured = capsys.readouterr()
    assert "converted 2 of 3 dump(s)" in captured.out
    [line] = captured.err.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"error: {bad}: not a memory dump: ")
    assert "line 8 (data row 7)" in line and "'terminated.0'" in line and "'abc'" in line
    assert os.path.exists(good_first[:-4] + ".npz") and os.path.exists(good_last[:-4] + ".npz")
    assert not os.path.exists(bad[:-4] + ".npz")
    with pytest.raises(DumpError, match=r"line 8 \(data row 7\), column 'terminated.0': 'abc'"):
        read_dump(bad)


def test_csv_conversions_give_no_torch_warning(tmp_path):
    [source] = exported_run(str(tmp_path), "csv", cycles=1)
    for value in read_dump(source).values():
        assert value.flags.writeable  # torch warns (once per process) about read-only arrays
    for to in ("pt", "np"):  # a fresh process each: torch's warning is shown once per process
        done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-m", "skrl_isaac.dumps", "convert",
                               source, "--to", to], capture_output=True, text=True, env=python_env(ROOT), timeout=120)
        assert done.returncode == 0 and done.stderr == "", done.stderr
    assert torch.equal(read_dump(source[:-4] + ".pt")["states"],
                       torch.from_numpy(read_dump(source[:-4] + ".npz")["states"]))
