"""benchmarks/memory_export.py: each ``csv:<engine>`` variant writes its files with that csv writer."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

import memory_export  # noqa: E402

from skrl_isaac.dumps import csv_text  # noqa: E402


@pytest.mark.parametrize("variant", ["csv:fixed", "csv:polars", "np", None])
def test_variants_export_their_format_with_their_csv_writer(variant, tmp_path, monkeypatch):
    if variant == "csv:polars":
        pytest.importorskip("polars")
    monkeypatch.setattr(csv_text, "CSV_ENGINE", None)  # run() sets it per variant; restored after the test
    rate = memory_export.run(variant, num_envs=12, memory_size=2, cycles=2, device="cpu", folder=str(tmp_path))
    assert rate > 0
    files = sorted(f for f in os.listdir(tmp_path) if not f.endswith(".sha256"))  # (csv integrity records)
    if variant is None:
        assert files == []
        return
    assert len(files) == 2 and all(f.endswith(".csv" if variant.startswith("csv") else ".npz") for f in files)
    if variant.startswith("csv"):
        text = open(os.path.join(tmp_path, files[0])).read().splitlines()
        fixed = text[1].startswith("0,00,")  # fixed: zero-padded env, every row one length
        assert fixed == (variant == "csv:fixed")
        assert (len({len(line) for line in text[1:]}) == 1) == fixed
        frame = pd.read_csv(os.path.join(tmp_path, files[0]))
        assert frame.shape == (24, 2 + sum(size for size, _ in memory_export.TENSORS.values()))
        assert np.isfinite(frame.to_numpy(dtype=float)).all()
