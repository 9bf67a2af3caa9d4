"""benchmarks/_common.py: the interval the P2/P3 verdicts rest on, and the steady rounds of OursLoop."""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

from _common import OursLoop, PhaseTimes, total_rate, total_ratio_ci  # noqa: E402

RATES = st.lists(st.floats(100.0, 1e5), min_size=2, max_size=30)


@settings(max_examples=50, deadline=None)
@given(RATES, st.floats(0.5, 2.0))
def test_a_constant_ratio_has_no_spread(den, ratio):
    low, high = total_ratio_ci([ratio * r for r in den], den)
    assert low == pytest.approx(ratio, rel=1e-9) and high == pytest.approx(ratio, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(100.0, 1e5), st.floats(100.0, 1e5)), min_size=2, max_size=30))
def test_the_interval_holds_the_ratio_of_totals(pairs):
    num, den = [a for a, _ in pairs], [b for _, b in pairs]
    low, high = total_ratio_ci(num, den)
    point = total_rate(num) / total_rate(den)
    assert low <= point * (1 + 1e-9) and point <= high * (1 + 1e-9)
    assert min(a / b for a, b in pairs) * (1 - 1e-9) <= low <= high <= max(a / b for a, b in pairs) * (1 + 1e-9)


def test_steady_rounds_continue_one_run():
    loop = OursLoop(8, write_interval=8, checkpoint_interval=0, export_csv=True, steady=True)
    try:
        loop.run(1)
        loop.run(2)
        writer = loop.agent.memory.exporter.writer
        assert writer is not None and writer._queue.unfinished_tasks == 0  # nothing left running between rounds
        folder = loop.directory
        assert sum(n.endswith(".csv") for _, _, names in os.walk(folder) for n in names) == 2  # 3rd: at next fill
        assert sum("tfevents" in n for _, _, names in os.walk(folder) for n in names) == 1
        assert loop.timestep == 3 * loop.rollouts
    finally:
        loop.close()


def test_phase_times_account_for_each_part_of_an_iteration():
    loop = OursLoop(8, write_interval=0, checkpoint_interval=0, steady=True)
    try:
        times = PhaseTimes(loop)
        loop.run(1)
        times.reset()
        assert all(s == 0.0 for s in times.seconds.values())
        seconds = loop.run(2)
        ms = times.per_iteration()
        assert set(ms) == set(PhaseTimes.PHASES) and all(v > 0 for v in ms.values())
        assert sum(ms.values()) <= 1e3 * seconds / 2  # the parts fit inside the iterations' wall time
        assert loop.timestep == 3 * loop.rollouts  # the timed methods still did their work
    finally:
        loop.close()


def test_ours_loop_on_another_task_with_mixed_precision():
    loop = OursLoop(4, write_interval=0, checkpoint_interval=0, steady=True, task="Cartpole", train="CartpolePPO",
                    mixed_precision=True)
    try:
        assert type(loop.env.env).__name__ == "Cartpole" and loop.agent._mixed_precision is True
        loop.run(1)
        assert loop.timestep == loop.rollouts
    finally:
        loop.close()


def test_phase_times_of_an_off_policy_loop():
    # off-policy agents have no PPO-style _update: their gradient steps (_update_step) are the update phase
    loop = OursLoop(4, write_interval=0, checkpoint_interval=0, steady=True, task="Cartpole", train="CartpoleSAC")
    try:
        assert loop.rollouts == 1  # one env step per iteration
        learning_starts = loop.agent.config.learning_starts
        times = PhaseTimes(loop)
        loop.run(learning_starts)
        assert times.seconds["update"] == 0.0  # no gradient step before learning_starts
        loop.run(3)
        assert all(v > 0 for v in times.seconds.values())
        assert loop.timestep == learning_starts + 3
    finally:
        loop.close()


def test_ours_loop_sets_mujocos_threads():
    loops = [OursLoop(4, write_interval=0, steady=True, sim_threads=n) for n in (1, 0)]
    try:
        assert loops[0].env.env.nthread == 1
        assert loops[1].env.env.nthread == max(os.cpu_count() or 1, 1)  # the task config's 0: all cores
        loops[0].run(1)
        assert loops[0].timestep == loops[0].rollouts
    finally:
        for loop in loops:
            loop.close()
