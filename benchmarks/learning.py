"""P4: how fast the shipped configs learn, from the README's own command, with the curve recorded.

Runs ``python train_isaac.py task=<task> [train=<config>] [overrides...]`` in a child process, stamps
every summary line the trainer prints (``timestep ... | ... env-steps/s | episode return ...``, one
per ``write_interval``) with the wall time since the command was launched (start-up included, as a
user waits for it), and prints:

* the first timestep and time at which the mean episode return reached ``--threshold``,
* the best and the last mean return (with their timesteps and times) and the run's wall time,
* a verdict: "meets" when the threshold was reached within ``--budget-min`` minutes (by every run).

``--seeds 42 1 2`` makes one run per seed and adds a table of them (the README's "What the configs
reach"). The curve goes to ``--curve`` (csv: ``seconds, timestep, env_steps_per_s, episode_return,
episodes, episode_length``, after a ``seed`` column with ``--seeds``; ``episode_return`` is empty
while no episode has finished).

    python benchmarks/learning.py                                   # Ant, PPO: >= 3000 within 15 min
    python benchmarks/learning.py --task Cartpole --train CartpoleSAC   # SAC's time to solve (>= 400)
    python benchmarks/learning.py --stop-at-threshold -- seed=1        # hydra overrides after "--"
    python benchmarks/learning.py --task Cartpole --train CartpoleSAC --seeds 42 1 2   # a table of seeds

The trainer's experiment folder (TensorBoard events, checkpoints) is written under ``--run-dir``
(default: a temporary folder, removed at the end).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Iterable

import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from skrl_isaac.utils.processes import python_env  # noqa: E402
TRAIN_SCRIPT = os.path.join(ROOT, "train_isaac.py")
# the P4 thresholds: IsaacGymEnvs' Ant target, and Cartpole's "solved" (of a 500-step maximum)
THRESHOLDS = {"Ant": 3000.0, "Cartpole": 400.0, "CartpoleDiscrete": 400.0}
# SequentialTrainer._summary's line (tests/benchmarks/test_learning.py checks the two stay in step)
SUMMARY = re.compile(r"^timestep\s+(?P<timestep>\d+) \|\s+(?P<rate>[\d.]+) env-steps/s \| "
                     r"(?:episode return\s+(?P<ret>\S+) \(n=(?P<n>\d+), len (?P<len>\S+)\)|no finished episode yet)\s*$")
CURVE_COLUMNS = ["seconds", "timestep", "env_steps_per_s", "episode_return", "episodes", "episode_length"]


@dataclass
class Point:
    """One summary line of the trainer, stamped with the seconds since the command was launched."""

    seconds: float
    timestep: int
    env_steps_per_s: float
    episode_return: float | None  # None: no episode finished in that write interval
    episodes: int
    episode_length: float | None


def parse_summary(line: str, seconds: float) -> Point | None:
    """The :class:`Point` of a trainer summary line, or None for any other line."""
    m = SUMMARY.match(line.rstrip("\n"))
    if m is None:
        return None
    finished = m["ret"] is not None
    return Point(seconds, int(m["timestep"]), float(m["rate"]), float(m["ret"]) if finished else None,
                 int(m["n"]) if finished else 0, float(m["len"]) if finished else None)


@dataclass
class Summary:
    """What a curve says about the threshold (``reached``: the first point at or above it, or None)."""

    reached: Point | None
    best: Point | None
    last: Point | None

    @classmethod
    def of(cls, points: Iterable[Point], threshold: float) -> "Summary":
        scored = [p for p in points if p.episode_return is not None]
        reached = next((p for p in scored if p.episode_return >= threshold), None)
        best = max(scored, key=lambda p: p.episode_return, default=None)
        return cls(reached, best, scored[-1] if scored else None)


def curve_frame(points: list[Point]) -> pd.DataFrame:
    """The curve as a table of :data:`CURVE_COLUMNS` (seconds to the millisecond)."""
    frame = pd.DataFrame([[p.seconds, p.timestep, p.env_steps_per_s, p.episode_return, p.episodes, p.episode_length]
                          for p in points], columns=CURVE_COLUMNS)
    return frame.round({"seconds": 3})


def command(task: str, train: str | None, overrides: list[str]) -> list[str]:
    return [sys.executable, TRAIN_SCRIPT, f"task={task}"] + ([f"train={train}"] if train else []) + overrides


def run(cmd: list[str], cwd: str, threshold: float, stop_at_threshold: bool, echo: IO[str] | None = sys.stdout,
        stderr_path: str | None = None) -> tuple[list[Point], int, bool, float]:
    """Run ``cmd`` in ``cwd``; return ``(points, exit code, stopped at the threshold, wall seconds)``.

    Every stdout line is echoed with its time stamp; stderr (the progress bar) goes to ``stderr_path``.
    With ``stop_at_threshold`` the child gets SIGINT at the first point at or above ``threshold``.
    """
    env = python_env(ROOT, PYTHONUNBUFFERED="1")
    points: list[Point] = []
    stopped = False
    with open(stderr_path or os.devnull, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                seconds = time.perf_counter() - start
                if echo is not None:
                    echo.write(f"[{seconds:7.1f} s] {line}")
                    echo.flush()
                point = parse_summary(line, seconds)
                if point is None:
                    continue
                points.append(point)
                if (stop_at_threshold and not stopped and point.episode_return is not None
                        and point.episode_return >= threshold):
                    proc.send_signal(signal.SIGINT)  # the trainer closes the agent (writer, exports) on its way out
                    stopped = True
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - start
    return points, code, stopped, wall


def describe(p: Point | None) -> str:
    if p is None:
        return "-"
    return f"{p.episode_return:.2f} at timestep {p.timestep} ({p.seconds:.1f} s = {p.seconds / 60:.2f} min)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Arguments after '--' are passed to train_isaac.py as hydra overrides.")
    parser.add_argument("--task", default="Ant", help="task= of train_isaac.py (default Ant)")
    parser.add_argument("--train", default=None, help="train= of train_isaac.py (default: the task's PPO config)")
    parser.add_argument("--threshold", type=float, default=None,
                        help=f"mean episode return to reach (default per task: {THRESHOLDS})")
    parser.add_argument("--budget-min", type=float, default=15.0, help="minutes the threshold must be reached in")
    parser.add_argument("--curve", default=None, help="csv file for the curve (default: none)")
    parser.add_argument("--run-dir", default=None,
                        help="folder the command runs in (its runs/ go there; default: a temporary folder, removed)")
    parser.add_argument("--stop-at-threshold", action="store_true", help="stop the training once the threshold is reached")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="one run per seed (seed=<s>), one after the other, and a table of them (default: one run, "
                             "the config's seed)")
    argv = sys.argv[1:] if argv is None else list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args, overrides = parser.parse_known_args(argv[:cut])  # key=value before "--" are overrides too
    unknown = [o for o in overrides if o.startswith("-")]
    if unknown:
        parser.error(f"unknown options {unknown}; train_isaac.py's own arguments go after '--'")
    overrides += argv[cut + 1:]
    threshold = args.threshold if args.threshold is not None else THRESHOLDS.get(args.task)
    if threshold is None or not math.isfinite(threshold):
        parser.error(f"no default threshold for task {args.task!r} (defaults: {THRESHOLDS}); pass --threshold")

    seeds: list[int | None] = list(args.seeds) if args.seeds else [None]
    if args.seeds and any(o.split("=")[0].lstrip("+") == "seed" for o in overrides):
        parser.error("give the seeds with --seeds or as a seed= override, not both")
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="skrl_isaac_learning_")
    os.makedirs(run_dir, exist_ok=True)
    results: list[tuple[int | None, list[Point], float, bool]] = []  # (seed, points, wall seconds, stopped)
    try:
        for seed in seeds:
            cmd = command(args.task, args.train, overrides + ([f"seed={seed}"] if seed is not None else []))
            stderr_path = os.path.join(run_dir, "stderr.txt" if seed is None else f"stderr_seed{seed}.txt")
            print(f"$ {' '.join(['python', 'train_isaac.py'] + cmd[2:])}   (in {run_dir})")
            points, code, stopped, wall = run(cmd, run_dir, threshold, args.stop_at_threshold, stderr_path=stderr_path)
            if code != 0 and not stopped:
                with open(stderr_path) as f:
                    sys.stderr.write(f.read()[-4000:])
                print(f"train_isaac.py failed (exit code {code})", file=sys.stderr)
                return code or 1
            results.append((seed, points, wall, stopped))
    finally:
        if args.run_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)

    if args.curve:
        frames = [curve_frame(points) for _, points, _, _ in results]
        if args.seeds:
            frames = [f.assign(seed=seed)[["seed"] + CURVE_COLUMNS] for f, (seed, _, _, _) in zip(frames, results)]
        pd.concat(frames, ignore_index=True).to_csv(args.curve, index=False)
    summaries = [Summary.of(points, threshold) for _, points, _, _ in results]
    met = 0
    for (seed, points, wall, stopped), s in zip(results, summaries):
        print(f"\n{args.task} ({args.train or 'default config'}{'' if seed is None else f', seed {seed}'}): "
              f"{len(points)} points, wall time {wall:.1f} s" + (" (stopped at the threshold)" if stopped else ""))
        if not points:
            print("  the trainer printed no summary line: it prints one per write_interval (is it <= 0, or "
                  "longer than the run?)")
        print(f"  first mean return >= {threshold:g}: {describe(s.reached)}")
        print(f"  best: {describe(s.best)}")
        print(f"  last: {describe(s.last)}")
        met += s.reached is not None and s.reached.seconds <= 60 * args.budget_min
    if args.curve:
        print(f"curve: {args.curve}")
    if args.seeds:
        print(f"\n{'seed':>6} | {'first timestep >= ' + format(threshold, 'g'):>22} | {'seconds':>8} | {'last return':>11} | "
              f"{'wall s':>7}")
        for (seed, _, wall, _), s in zip(results, summaries):
            print(f"{seed:>6} | {s.reached.timestep if s.reached else '-':>22} | "
                  f"{format(s.reached.seconds, '.1f') if s.reached else '-':>8} | "
                  f"{format(s.last.episode_return, '.2f') if s.last else '-':>11} | {wall:>7.1f}")
    verdict = "meets" if met == len(results) else "NOT MET"
    print(f"target: >= {threshold:g} within {args.budget_min:g} min: {verdict}"
          + (f" ({met} of {len(results)} seeds)" if args.seeds else ""))
    return 0

if __name__ == "__main__":
    sys.exit(main())
