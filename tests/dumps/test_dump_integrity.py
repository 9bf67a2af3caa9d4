"""Dump integrity: every damaged or cut dump is one error naming the file, never silent wrong data;
dumps written before integrity records load, said to be unverified."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from skrl_isaac.dumps.cli import main
from skrl_isaac.dumps.csv_integrity import measure, read_record
from skrl_isaac.dumps.formats import DumpError, load_dump, read_dump, verify_dump
from skrl_isaac.memories.torch import RandomMemory

STEPS, ENVS = 4, 3


def memory() -> RandomMemory:
    m = RandomMemory(memory_size=STEPS, num_envs=ENVS, device="cpu")
    m.create_tensor("states", 2)
    m.create_tensor("done", 1, torch.bool)
    g = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        m.add_samples(states=torch.randn(ENVS, 2, generator=g), done=torch.rand(ENVS, 1, generator=g) < 0.5)
    return m


def saved(tmp_path, fmt: str) -> str:
    return memory().save(str(tmp_path), fmt)


def one_line_error(path: str, match: str) -> DumpError:
    with pytest.raises(DumpError) as e:
        load_dump(path)
    text = str(e.value)
    assert "\n" not in text and path in text and match in text, text
    with pytest.raises(DumpError, match=re.escape(match)):  # the memory refuses it too, before writing anything
        fresh = memory()
        fresh.load(path)
    return e.value


def rows_of(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        return f.read().splitlines(keepends=True)


# -- csv ------------------------------------------------------------------------------------------
def test_a_csv_dump_verifies_and_reads_with_plain_pandas(tmp_path):
    path = saved(tmp_path, "csv")
    assert verify_dump(path) == f"verified (sha256, {STEPS * ENVS} rows)"
    assert len(pd.read_csv(path)) == STEPS * ENVS  # the dump itself is unchanged: no options needed
    record = read_record(path)
    assert record == measure(path) and record.rows == STEPS * ENVS


def test_the_record_is_checked_by_sha256sum(tmp_path):
    if shutil.which("sha256sum") is None:
        pytest.skip("no sha256sum")
    path = saved(tmp_path, "csv")
    done = subprocess.run(["sha256sum", "-c", os.path.basename(path) + ".sha256"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip().endswith(": OK")


def test_a_csv_cut_at_a_step_boundary_is_an_error(tmp_path):
    path = saved(tmp_path, "csv")
    lines = rows_of(path)
    with open(path, "wb") as f:
        f.writelines(lines[:1 + 2 * ENVS])  # the header and two whole steps: a valid shorter dump
    assert len(pd.read_csv(path)) == 2 * ENVS  # what a reader without the record would take
    one_line_error(path, f"shorter than written: it holds {2 * ENVS} of {STEPS * ENVS} rows")


def test_a_csv_cut_mid_row_is_an_error(tmp_path):
    path = saved(tmp_path, "csv")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])
    one_line_error(path, "shorter than written")


def test_a_csv_missing_its_last_bytes_is_an_error(tmp_path):
    path = saved(tmp_path, "csv")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-3])  # the last value loses a digit or two: it would load, wrong
    one_line_error(path, f"it holds {STEPS * ENVS} of {STEPS * ENVS} rows")


def test_a_csv_with_a_changed_digit_is_damaged(tmp_path):
    path = saved(tmp_path, "csv")
    data = bytearray(open(path, "rb").read())
    at = data.index(b"e", len(rows_of(path)[0]) + 10) - 1  # the last mantissa digit of a value
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    open(path, "wb").write(bytes(data))
    one_line_error(path, "damaged: its content differs from what was written (sha256 mismatch")


def test_a_damaged_record_is_an_error(tmp_path):
    path = saved(tmp_path, "csv")
    open(path + ".sha256", "w").write("garbage\n")
    one_line_error(path, "integrity record")


def test_a_csv_without_its_record_loads_unverified_with_a_warning(tmp_path, caplog):
    path = saved(tmp_path, "csv")
    os.unlink(path + ".sha256")  # as written before records existed, or copied alone
    with caplog.at_level(logging.WARNING, logger="skrl_isaac"):
        data = load_dump(path)
    assert data["states"].shape == (STEPS, ENVS, 2)
    assert any("no integrity record: not verified" in r.getMessage() and path in r.getMessage() for r in caplog.records)
    assert verify_dump(path) == "no integrity record: not verified"


def test_rewriting_a_csv_replaces_its_record(tmp_path):
    from skrl_isaac.dumps.csv_text import write_csv_file

    path = str(tmp_path / "a.csv")
    write_csv_file(path, {"x": np.zeros((2, 2, 1), np.float32)})
    write_csv_file(path, {"x": np.ones((3, 2, 1), np.float32)})
    assert verify_dump(path) == "verified (sha256, 6 rows)"


# -- pt / npz -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["pt", "np"])
def test_pt_and_npz_dumps_verify(tmp_path, fmt):
    path = saved(tmp_path, fmt)
    assert verify_dump(path) == "verified (sha256 content digest)"
    assert set(load_dump(path)) == {"states", "done"}  # the digest is not data


@pytest.mark.parametrize("fmt", ["pt", "np"])
def test_a_flipped_byte_in_a_pt_or_npz_dump_is_an_error(tmp_path, fmt):
    path = saved(tmp_path, fmt)
    states = memory().tensors["states"].numpy().tobytes()
    data = bytearray(open(path, "rb").read())
    at = data.index(states[:16])
    data[at + 5] ^= 0x40
    open(path, "wb").write(bytes(data))
    error = one_line_error(path, "damaged memory dump")
    assert "CRC-32" in str(error) and "member '" in str(error)  # the damaged member is named


@pytest.mark.parametrize("fmt", ["pt", "np"])
def test_a_truncated_pt_or_npz_dump_is_an_error(tmp_path, fmt):
    path = saved(tmp_path, fmt)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) - 40])
    one_line_error(path, "cut short")


def test_a_digest_that_does_not_match_is_an_error_even_with_good_crcs(tmp_path):
    path = saved(tmp_path, "np")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["states"][0, 0, 0] += 1.0
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # a re-written zip: fresh CRCs, the old digest
    one_line_error(path, "content digest (__integrity__) does not match")


@pytest.mark.parametrize("fmt", ["pt", "np"])
def test_dumps_written_before_digests_load_unverified(tmp_path, fmt, caplog):
    tensors = {k: v.clone() for k, v in memory().tensors.items()}
    path = str(tmp_path / f"old.{'pt' if fmt == 'pt' else 'npz'}")
    if fmt == "pt":
        torch.save(tensors, path)
    else:
        np.savez(path, **{k: v.numpy() for k, v in tensors.items()})
    with caplog.at_level(logging.WARNING, logger="skrl_isaac"):
        fresh = memory()
        fresh.load(path)
    assert torch.equal(fresh.tensors["states"], tensors["states"])
    assert "no integrity record: not verified (zip CRC-32s checked)" in caplog.text
    assert zipfile.is_zipfile(path)


# -- the command line -----------------------------------------------------------------------------
def test_inspect_says_whether_a_dump_was_verified_and_a_cut_one_is_one_error_line(tmp_path, capsys):
    path = saved(tmp_path, "csv")
    assert main(["inspect", path]) == 0
    assert "integrity: verified (sha256, 12 rows)" in capsys.readouterr().out
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-1])
    assert main(["inspect", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: '{path}' is a damaged memory dump: shorter than written")
