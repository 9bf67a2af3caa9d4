"""benchmarks/distributed_learning.py: the table from known curves."""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

from distributed_learning import report  # noqa: E402
from vs_rl_games import Curve  # noqa: E402


def curve(setup, seed, steps, returns):
    return Curve(setup, seed, np.array(steps), np.arange(len(steps), dtype=float), np.array(returns, dtype=float))


def test_report_per_seed_and_the_ratio_of_medians():
    curves = [curve("1 process", 1, [100, 200, 300], [0, 400, 450]),
              curve("2 ranks", 1, [100, 200, 300], [0, 300, 400]),
              curve("1 process", 2, [100, 200, 300], [400, 420, 480]),
              curve("2 ranks", 2, [100, 200], [100, 420])]
    lines = report(curves, 400.0)
    assert lines[2] == "1 | 1 process | 200.0 | 450.0 | 450.0"
    assert lines[3] == "1 | 2 ranks | 300.0 | 400.0 | 400.0"
    assert lines[5] == "2 | 2 ranks | 200.0 | 420.0 | 420.0"
    assert lines[-2] == "median env-steps to threshold: 1 process 150.0, 2 ranks 250.0"
    assert lines[-1] == "2 ranks / 1 process: 1.67"
