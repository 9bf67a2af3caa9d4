"""Overhead of the memory export (one file per fill cycle) on a PPO-shaped loop.

Per env step: a policy + value MLP forward on the states, then ``memory.add_samples`` of the PPO
tensors (states 60, actions 8, rewards, terminated, truncated, log_prob, values, returns,
advantages). Per fill (``memory_size`` steps): a dummy PPO update (``sample_all`` in mini-batches,
forward + backward + Adam step, a few epochs). The same loop runs with export off, ``pt``, ``np``
and ``csv``; rounds alternate between the variants and the best round of each is kept (filters
out noise from other processes). ``close()`` (waiting for the last writes) is inside the timing.
``--csv-engines fixed polars`` runs one csv variant per csv writer (``csv:fixed``, ``csv:polars``).

    python benchmarks/memory_export.py --num-envs 256 1024 --cycles 20 --rounds 3 [--csv-engines fixed polars]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skrl_isaac.dumps import csv_text  # noqa: E402
from skrl_isaac.memories.torch import RandomMemory  # noqa: E402

TENSORS = {"states": (60, torch.float32), "actions": (8, torch.float32), "rewards": (1, torch.float32),
           "terminated": (1, torch.bool), "truncated": (1, torch.bool), "log_prob": (1, torch.float32),
           "values": (1, torch.float32), "returns": (1, torch.float32), "advantages": (1, torch.float32)}


def mlp(inputs: int, outputs: int, device: str) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(inputs, 64), torch.nn.ELU(), torch.nn.Linear(64, 64), torch.nn.ELU(),
                               torch.nn.Linear(64, outputs)).to(device)


def run(variant: str | None, num_envs: int, memory_size: int, cycles: int, device: str, folder: str) -> float:
    """Env steps per second of the loop (export ``variant``: ``pt``, ``np``, ``csv`` or ``csv:<engine>``;
    off when None)."""
    fmt, _, engine = (variant or "").partition(":")
    fmt = fmt or None
    csv_text.CSV_ENGINE = engine or None
    torch.manual_seed(0)
    memory = RandomMemory(memory_size=memory_size, num_envs=num_envs, device=device, export=fmt is not None,
                          export_format=fmt or "pt", export_directory=folder)
    for name, (size, dtype) in TENSORS.items():
        memory.create_tensor(name, size, dtype)
    policy, value = mlp(60, 8, device), mlp(60, 1, device)
    optimizer = torch.optim.Adam([*policy.parameters(), *value.parameters()], lr=1e-3)
    states = torch.randn(num_envs, 60, device=device)
    steps = memory_size * cycles
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for step in range(steps):
        # rollout
        with torch.no_grad():
            actions = policy(states)
            values = value(states)
        rewards = actions.square().mean(-1, keepdim=True)
        terminated = rewards > 2.0
        truncated = torch.zeros_like(terminated)
        states = states.mul(0.99).add_(0.1 * actions.repeat(1, 8)[:, :60])
        memory.add_samples(states=states, actions=actions, rewards=rewards, terminated=terminated,
                           truncated=truncated, log_prob=-rewards, values=values, returns=values, advantages=rewards)
        # update (dummy PPO: 2 epochs x 4 mini-batches)
        if memory.memory_index == 0:
            for _ in range(2):
                for s, a, ret in memory.sample_all(["states", "actions", "returns"], mini_batches=4):
                    loss = (policy(s) - a).square().mean() + (value(s) - ret).square().mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
    memory.close()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps * num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--memory-size", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=20, help="fill cycles per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--csv-engines", nargs="+", choices=list(csv_text.CSV_ENGINES), default=None,
                        help="one csv variant per csv writer (default: one 'csv' with the default writer)")
    args = parser.parse_args()
    variants = [None, "pt", "np"] + ([f"csv:{e}" for e in args.csv_engines] if args.csv_engines else ["csv"])
    print(f"device={args.device} torch threads={torch.get_num_threads()} memory_size={args.memory_size} "
          f"cycles/round={args.cycles} rounds={args.rounds}")
    print(f"{'num_envs':>8} {'export':>10} {'env-steps/s':>12} {'vs off':>7} {'file MB':>8}")
    for num_envs in args.num_envs:
        best = {v: 0.0 for v in variants}
        sizes = {}
        for _ in range(args.rounds):
            for v in variants:
                folder = tempfile.mkdtemp(prefix="skrl_isaac_export_bench_")
                try:
                    best[v] = max(best[v], run(v, num_envs, args.memory_size, args.cycles, args.device, folder))
                    files = sorted(os.listdir(folder))
                    if v is not None:
                        assert len(files) == args.cycles, (v, len(files))
                        sizes[v] = os.path.getsize(os.path.join(folder, files[0])) / 1e6
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
        for v in variants:
            size = f"{sizes[v]:8.2f}" if v in sizes else f"{'-':>8}"
            print(f"{num_envs:>8} {v or 'off':>10} {best[v]:>12.0f} {best[v] / best[None]:>7.3f} {size}")


if __name__ == "__main__":
    main()
