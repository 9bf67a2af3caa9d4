"""Several processes vs one: 2 torchrun ranks x 1 thread vs 1 process x 2 threads at the same total envs.

    python benchmarks/distributed.py [--total-envs 128] [--iterations 6] [--rounds 3] [--train AntPPO]

Each round runs both set-ups as fresh processes (the order alternates per round); inside each, our PPO loop
(built as the CLI builds it, checkpoints off) trains one warm-up iteration, then ``--iterations`` timed ones.
The two ranks each step ``total/2`` envs on one MuJoCo thread and one torch thread; their env-steps/s are summed.
Printed: env-steps/s per round and over all rounds, their ratio (goal >= 0.9), and the collectives of the
timed iterations per PPO update (time, calls and bytes moved per rank): the input of the weak-scaling estimate
in docs/distributed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import REPO, machine_line, total_rate  # noqa: E402


class CollectiveTimer:
    """Times torch.distributed's all_reduce / all_gather / broadcast (the agents' collectives) and counts the
    bytes each rank hands them."""

    NAMES = ("all_reduce", "all_gather", "broadcast")

    def __init__(self) -> None:
        import torch.distributed as dist

        self.seconds, self.calls, self.bytes = 0.0, 0, 0
        self.counting = False
        for name in self.NAMES:
            self._wrap(dist, name)

    def _wrap(self, dist, name: str) -> None:
        inner = getattr(dist, name)

        def timed(tensor, *args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(tensor, *args, **kwargs)
            finally:
                if self.counting:
                    self.seconds += time.perf_counter() - start
                    self.calls += 1
                    out = tensor if name != "all_gather" else args[0]  # all_gather(list, tensor)
                    self.bytes += out.numel() * out.element_size()

        setattr(dist, name, timed)


def child(args: argparse.Namespace) -> None:
    """One set-up's process (a torchrun rank or the single process): warm up, time, write <out>/<rank>.json."""
    import torch

    torch.set_num_threads(args.threads)
    from _common import OursLoop

    from skrl_isaac.utils import distributed

    info = distributed.process_info()
    timer = CollectiveTimer() if info.is_distributed else None
    loop = OursLoop(args.num_envs, train=args.train, sim_threads=args.threads, seed=0)
    loop.run(1)  # warm-up: allocations, the first update
    if timer is not None:
        timer.counting = True
    seconds = loop.run(args.iterations)
    result = {"rate": args.num_envs * loop.rollouts * args.iterations / seconds, "seconds": seconds,
              "iterations": args.iterations, "rollouts": loop.rollouts}
    if timer is not None:
        timer.counting = False
        result.update(comm_seconds=timer.seconds, comm_calls=timer.calls, comm_bytes=timer.bytes)
        result.update(bucket_transfer(loop.agent))
    loop.close()
    with open(os.path.join(args.out, f"{info.rank}.json"), "w") as f:
        json.dump(result, f)
    distributed.close()


def bucket_transfer(agent) -> dict:
    """The gradient bucket's all-reduce alone, after a barrier (no waiting for a slower rank): seconds per call,
    the bucket's bytes and the gradient all-reduces per update (learning epochs x mini-batches)."""
    import torch
    import torch.distributed as dist

    params = [p for g in agent.optimizer.param_groups for p in g["params"]]
    flat = torch.zeros(sum(p.numel() for p in params))
    for _ in range(5):
        dist.all_reduce(flat)
    dist.barrier()
    start, calls = time.perf_counter(), 30
    for _ in range(calls):
        dist.all_reduce(flat)
    return {"bucket_seconds": (time.perf_counter() - start) / calls, "bucket_bytes": flat.numel() * 4,
            "bucket_per_update": agent.config.learning_epochs * agent.config.mini_batches}


def launch(setup: str, args: argparse.Namespace, out: str) -> list[dict]:
    common = [os.path.abspath(__file__), "--role", "child", "--out", out, "--train", args.train,
              "--iterations", str(args.iterations)]
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if setup == "ranks":
        env["OMP_NUM_THREADS"] = "1"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *common,
               "--num-envs", str(args.total_envs // 2), "--threads", "1"]
        ranks = 2
    else:
        cmd = [sys.executable, *common, "--num-envs", str(args.total_envs), "--threads", "2"]
        ranks = 1
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: the {setup} run failed:\n{proc.stderr[-3000:]}")
    return [json.load(open(os.path.join(out, f"{r}.json"))) for r in range(ranks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="parent", choices=["parent", "child"])
    parser.add_argument("--total-envs", type=int, default=128)
    parser.add_argument("--num-envs", type=int, default=0, help="(child) envs of this process")
    parser.add_argument("--threads", type=int, default=1, help="(child) torch and MuJoCo threads of this process")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train", default="AntPPO")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.role == "child":
        return child(args)

    print(machine_line())
    print(f"{args.train}: {args.total_envs} envs in total; 2 ranks x {args.total_envs // 2} envs x 1 thread vs "
          f"1 process x {args.total_envs} envs x 2 threads; {args.iterations} timed PPO iterations per run")
    rates = {"ranks": [], "single": []}
    comm = []
    for r in range(args.rounds):
        order = ["ranks", "single"] if r % 2 == 0 else ["single", "ranks"]
        for setup in order:
            with tempfile.TemporaryDirectory() as out:
                results = launch(setup, args, out)
            rates[setup].append(sum(x["rate"] for x in results))
            if setup == "ranks":
                comm.append(results[0])
        print(f"  round {r + 1}/{args.rounds}: 2 ranks {rates['ranks'][-1]:,.0f}/s, "
              f"1 process {rates['single'][-1]:,.0f}/s, ratio {rates['ranks'][-1] / rates['single'][-1]:.2f}")
    ranks, single = total_rate(rates["ranks"]), total_rate(rates["single"])
    print(f"env-steps/s over all rounds: 2 ranks x 1 thread {ranks:,.0f}, 1 process x 2 threads {single:,.0f}: "
          f"ratio {ranks / single:.2f} (goal >= 0.9)")
    updates = sum(c["iterations"] for c in comm)
    seconds = sum(c["comm_seconds"] for c in comm)
    iteration = sum(c["seconds"] for c in comm) / updates
    print(f"collectives per PPO update (rank 0): {1e3 * seconds / updates:.2f} ms in "
          f"{sum(c['comm_calls'] for c in comm) / updates:.0f} calls, "
          f"{sum(c['comm_bytes'] for c in comm) / updates / 1024:.0f} KiB handed over; "
          f"one PPO iteration {1e3 * iteration:.0f} ms ({100 * seconds / updates / iteration:.1f}% in collectives)")
    bucket = comm[0]
    print(f"gradient bucket alone (after a barrier): {bucket['bucket_bytes'] / 1024:.0f} KiB, "
          f"{1e3 * bucket['bucket_seconds']:.2f} ms per all-reduce (gloo, 2 ranks, one machine), "
          f"{bucket['bucket_per_update']} per update: "
          f"{1e3 * bucket['bucket_seconds'] * bucket['bucket_per_update']:.1f} ms per update; the rest of the "
          "collective time above is waiting for the slower rank")
    print(machine_line())


if __name__ == "__main__":
    main()
