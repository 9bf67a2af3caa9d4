"""benchmarks/warp_throughput.py on the CPU: one tiny interleaved round prints the Warp / mujoco.batch ratio."""

from __future__ import annotations

import os
import re
import sys

import pytest

pytest.importorskip("mujoco_warp")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

import warp_throughput  # noqa: E402


def test_cpu_ratio_line(capsys):
    warp_throughput.main(["--num-envs", "2", "--steps", "2", "--rounds", "2"])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("2 |"))
    rates = [float(x) for x in re.findall(r"([\d.]+)/s", line)]
    ratio = float(re.search(r"\| ([\d.]+) \(", line).group(1))
    assert len(rates) == 2 and all(r > 0 for r in rates)
    assert ratio == pytest.approx(rates[1] / rates[0], rel=5e-3, abs=1e-3)  # (printed rounded)


def test_cuda_device_without_cuda_is_a_usage_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    with pytest.raises(SystemExit):
        warp_throughput.main(["--device", "cuda"])
