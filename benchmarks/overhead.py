"""P3: what TensorBoard + checkpoints + csv memory export cost the PPO loop, side by side in one process.

Two copies of our PPO loop on the embedded Ant (AntPPO.yaml, ``--num-envs`` envs):

* ``on``:  write_interval 250, checkpoint_interval 1000 (policy, value and ``<t>_agent.pt``, as the
  CLI writes them), memory export ``csv`` (one file per fill cycle = per PPO iteration),
* ``off``: write_interval 0, checkpoint_interval 0, no export,

run in interleaved rounds of ``--iterations`` PPO iterations (default 24 rounds of 16 iterations =
6144 steps per loop: six checkpoints and 24 TensorBoard writes fall inside); each round of ``on``
ends waiting for the exports it handed over, so none of its background work runs during another
loop's round (``--close-rounds``: ``agent.close()`` ends every round instead, closing TensorBoard's
writer and exporting the last fill cycle, costs a real run has once). Printed: env-steps/s of each
(over all rounds, best round, median round) and the cost ``1 - on/off`` from the totals (total
steps over total time of all rounds: the headline figure, since a median would drop the rounds that
hold a checkpoint) with its 95% bootstrap interval (rounds resampled in pairs), and the median of
the per-round ratios; target <= 3%. The verdict is "meets" only when the whole interval is at or
below 3%.

First, the csv writer alone: rows/s of the ``fixed``, ``polars`` and ``numpy`` engines on a real PPO
memory (the ``on`` loop's memory after warm-up), interleaved, best of ``--csv-repeats``.

``--breakdown`` adds ``tb+ckpt`` (tracking and checkpoints, no export) and ``csv`` (the export
alone); ``--thread-csv`` adds ``on/thread`` (``on`` with the csv text formatted on the export
writer's thread instead of its low-priority child process); ``--export-format np|pt`` makes ``on``
export that format instead of csv; ``--phases`` prints each loop's ms per iteration in ``act``,
``env.step``, ``record`` and ``update`` beside the difference to ``off`` (where a cost lands);
``--torch-threads 1 --sim-threads 1`` leaves one of two cores spare (MuJoCo and torch on one thread
each), as on a machine with cores to spare.

    python benchmarks/overhead.py [--num-envs 256] [--iterations 32] [--rounds 6] [--torch-threads 0]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time

from _common import (OursLoop, PhaseTimes, interleaved_rounds, machine_line, ratio_stats, set_torch_threads,
                     total_rate, total_ratio_ci)

from skrl_isaac.dumps import csv_text
from skrl_isaac.dumps.exporter import MemoryExporter


def csv_writer_rates(arrays: dict, repeats: int) -> dict[str, float]:
    """Best rows/s of each csv engine writing ``arrays`` to memory, engines interleaved."""
    rows = next(iter(arrays.values())).shape[0] * next(iter(arrays.values())).shape[1]
    engines = ["numpy"] + (["polars"] if csv_text._polars() is not None else []) + ["fixed"]
    best = {e: 0.0 for e in engines}
    for _ in range(repeats):
        for engine in engines:
            start = time.perf_counter()
            csv_text.write_csv(io.BytesIO(), arrays, engine)
            best[engine] = max(best[engine], rows / (time.perf_counter() - start))
    return best


def count_files(folder: str, part: str) -> int:
    return sum(part in name for _, _, names in os.walk(folder) for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=16, help="PPO iterations (x 16 steps) per loop per round")
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--csv-repeats", type=int, default=5, help="csv writer timings (0: skip them)")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads for the whole process (<= 0: torch's default, all cores)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sim-threads", type=int, default=0,
                        help="MuJoCo's Batch threads of both loops (0: the task config's, all cores). With "
                             "--torch-threads 1 --sim-threads 1 on a 2-core machine the loops leave one core "
                             "spare, as a machine with cores to spare would")
    parser.add_argument("--close-rounds", action="store_true",
                        help="end every round with agent.close() (a new TensorBoard event file per round) instead "
                             "of only waiting for the round's pending exports")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time tracking+checkpoints alone ('tb+ckpt') and the csv export alone ('csv')")
    parser.add_argument("--export-format", choices=["csv", "np", "pt"], default="csv",
                        help="memory export format of 'on' (the P3 target is about csv)")
    parser.add_argument("--thread-csv", action="store_true",
                        help="also time 'on/thread': 'on' with the csv files formatted on the export writer's "
                             "thread instead of its low-priority child process")
    parser.add_argument("--phases", action="store_true",
                        help="also print where each loop's time goes (act, env.step, record, update; ms per "
                             "iteration) and how each part differs from 'off'")
    parser.add_argument("--csv-engine", choices=list(csv_text.CSV_ENGINES), default=None,
                        help="csv writer of the export (default: fixed for float32/bool memories, else polars when installed)")
    args = parser.parse_args()
    set_torch_threads(args.torch_threads)
    if args.csv_engine:
        csv_text.CSV_ENGINE = args.csv_engine

    print(f"machine: {machine_line()}")
    print(f"{args.num_envs} envs, {args.iterations} PPO iterations x 16 steps per round, {args.rounds} rounds, "
          f"device {args.device}, export format of 'on': {args.export_format}, "
          f"MuJoCo threads: {args.sim_threads or 'all cores'}")

    def loop(**kwargs) -> OursLoop:
        return OursLoop(args.num_envs, args.device, steady=not args.close_rounds, sim_threads=args.sim_threads, **kwargs)

    on = loop(write_interval=250, checkpoint_interval=1000, export_csv=True, export_format=args.export_format)
    off = loop(write_interval=0, checkpoint_interval=0, export_csv=False)
    # --breakdown: also "tb+ckpt" (tracking and checkpoints, no export) and "csv" (export only)
    parts = {"tb+ckpt": loop(write_interval=250, checkpoint_interval=1000),
             "csv": loop(write_interval=0, checkpoint_interval=0, export_csv=True),
             } if args.breakdown else {}
    if args.thread_csv:
        parts["on/thread"] = loop(write_interval=250, checkpoint_interval=1000, export_csv=True)
        memory = parts["on/thread"].agent.memory
        memory.exporter = MemoryExporter(memory.export_directory, memory.export_format, csv_child=False)
    try:
        on.run(1)
        arrays = {k: v.cpu().numpy() for k, v in on.agent.memory.tensors.items()}
        shape = {k: a.shape[-1] for k, a in arrays.items()}
        if args.csv_repeats > 0:
            rates = csv_writer_rates(arrays, args.csv_repeats)
            print(f"\ncsv writer alone, one PPO memory ({16 * args.num_envs} rows, columns {shape}):")
            for engine, rate in rates.items():
                print(f"  {engine:>8}: {rate:>10,.0f} rows/s")
            for engine in rates:
                if engine != "numpy":
                    print(f"  {engine} / numpy: {rates[engine] / rates['numpy']:.2f}x")
            if "polars" in rates:
                print(f"  fixed / polars: {rates['fixed'] / rates['polars']:.2f}x")
        print(f"csv engine of the export: {csv_text.csv_engine(arrays)}")

        print("\nloop with tracking + checkpoints + csv export (on) vs none of them (off):")
        loops = {"on": on, "off": off, **parts}
        phases = {n: PhaseTimes(l) for n, l in loops.items()} if args.phases else {}
        loop_rates = interleaved_rounds({n: l.run for n, l in loops.items()},
                                        {n: l.num_envs * l.rollouts for n, l in loops.items()},
                                        args.iterations, args.rounds,
                                        after_warmup=lambda: [p.reset() for p in phases.values()])
        print(f"  files written by 'on': {count_files(on.directory, '_memory_')} memory dumps, "
              f"{count_files(on.directory, '_agent.pt')} agent checkpoints, "
              f"{count_files(on.directory, 'tfevents')} event file(s)")
        print(f"\n{'loop':>7} | {'all rounds env-steps/s':>22} | {'best round':>10} | {'median':>10}")
        for name, r in loop_rates.items():
            print(f"{name:>7} | {total_rate(r):>22,.0f} | {max(r):>10,.0f} | {statistics.median(r):>10,.0f}")

        def cost(name: str) -> tuple[float, float, float, float]:
            """(cost from the totals, its 95% interval (low, high), 1 - median of the per-round ratios)"""
            med, _ = ratio_stats(loop_rates[name], loop_rates["off"])
            low, high = total_ratio_ci(loop_rates[name], loop_rates["off"])
            return 1 - total_rate(loop_rates[name]) / total_rate(loop_rates["off"]), 1 - high, 1 - low, 1 - med

        total, low, high, med = cost("on")
        verdict = "meets" if high <= 0.03 else "ABOVE" if low > 0.03 else "undecided (interval spans 3%)"
        print(f"cost of on vs off: {100 * total:.1f}% (all rounds; 95% interval {100 * low:.1f}% .. {100 * high:.1f}%), "
              f"{100 * med:.1f}% (median of per-round ratios); target <= 3%: {verdict}")
        for name in parts:
            total, low, high, med = cost(name)
            print(f"  of which {name} alone: {100 * total:.1f}% (95% interval {100 * low:.1f}% .. {100 * high:.1f}%), "
                  f"{100 * med:.1f}% (median of rounds)")
        if phases:
            base = phases["off"].per_iteration()
            print("\nwhere the time goes (ms per PPO iteration; in brackets: minus 'off'):")
            for name, times in phases.items():
                ms = times.per_iteration()
                print(f"{name:>9} | " + " | ".join(
                    f"{phase} {ms[phase]:6.1f}" + ("" if name == "off" else f" ({ms[phase] - base[phase]:+5.1f})")
                    for phase in PhaseTimes.PHASES))
    finally:
        for loop in (on, off, *parts.values()):
            loop.close()
    print(f"machine after: {machine_line()}")


if __name__ == "__main__":
    main()
