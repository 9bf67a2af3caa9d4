"""Throughput of the embedded Ant against raw ``mujoco.batch.Batch`` stepping of the same trajectory.

For each num_envs, prints env-steps/s of

* ``env``: ``Ant.step(actions)`` with random actions drawn by torch (obs, reward, auto-resets
  included), and
* ``raw``: a second ``Batch`` of the env's own ``MjModel`` (same substeps, same ``nthread``) that
  **replays the env's trajectory**: it starts each chunk from the env's state at the chunk's start,
  gets the env's ``ctrl`` of each step and, after each ``step(nstep=substeps)``, the state rows of
  the envs the env reset in that step. Only ``step`` is timed: raw stepping of exactly the states
  the env stepped (same contacts, same fallen or upright ants), back to back,

and their ratio (P1: env / raw >= 0.85). The replay is checked: at the end of every chunk the raw
Batch's state must equal the env's bit for bit (printed as "replay exact").

Before the sixth session the raw Batch ran free from the env's first state with its own random
ctrl and no resets (``--baseline free``): its ants fall over and stay down, which makes the physics
cheaper or dearer than the env's (at 1024 envs that baseline was *slower* than the env: ratio 1.1).

The two alternate in chunks of ``--chunk`` steps (env chunk, then its replay), so both see the same
load from other processes on a shared machine; throughput comes from the lower quartile of the
per-step times (q25; the median ratio is printed too). ``physics share`` is the time the env spends
in its own ``simulate()`` over its whole ``step`` (the same steps, measured inside them).

    python benchmarks/env_throughput.py --num-envs 64 256 1024 --steps 600
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import NamedTuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import skrl_isaac_envs as envs  # noqa: E402
from _common import total_rate, total_ratio_ci  # noqa: E402
from mujoco.batch import Batch  # noqa: E402

TARGET = 0.85  # P1: env >= 0.85x raw

STATE_FIELDS = ("time", "qpos", "qvel", "qacc_warmstart")  # what a step reads besides ctrl


class Result(NamedTuple):
    env_sps: float  # from the lower quartile of the per-step times
    raw_sps: float
    median_ratio: float  # raw / env median per-step time
    nthread: int
    physics_share: float  # the env's simulate() time over its step() time
    exact: bool | None  # the replay ended every chunk in the env's state (None: free baseline)
    env_chunks: list  # env-steps/s of each full chunk (for the all-steps ratio and its interval)
    raw_chunks: list

    def total_ratio(self) -> float:
        """env over raw env-steps/s over all full chunks (total steps / total time)."""
        return total_rate(self.env_chunks) / total_rate(self.raw_chunks)


def _timed_simulate(env, seconds: list) -> None:
    """Time the env's own ``simulate()`` calls (an instance attribute over the method)."""
    inner = env.simulate

    def simulate():
        start = time.perf_counter()
        inner()
        seconds[-1] += time.perf_counter() - start

    env.simulate = simulate


def bench(num_envs: int, steps: int, chunk: int, nthread: int, substeps: int, torch_threads,
          step_torch_threads, device: str, baseline: str = "replay", env_cfg: dict | None = None):
    mj = {"nthread": nthread, "torch_threads": torch_threads, "step_torch_threads": step_torch_threads}
    env = envs.make("Ant", num_envs, device=device, seed=0,
                    cfg={"sim": {"substeps": substeps, "mujoco": mj}, "env": dict(env_cfg or {})})
    raw = Batch(env.model, num_envs, nthread=nthread)
    env_views = {f: env._np_views[f] for f in STATE_FIELDS + ("ctrl",)}
    raw_views = {f: raw.bind(f) for f in STATE_FIELDS + ("ctrl",)}
    gen = torch.Generator(device=env.device).manual_seed(1)
    sim_t: list = []
    _timed_simulate(env, sim_t)

    def actions():
        return torch.rand((num_envs, 8), generator=gen, device=env.device).mul_(2.0).sub_(1.0)

    def copy_state(dst, src, ids=slice(None)):
        for f in STATE_FIELDS:
            dst[f][ids] = src[f][ids]

    for _ in range(10):  # warm-up
        sim_t.append(0.0)
        env.step(actions())
    copy_state(raw_views, env_views)
    env_t, raw_t, exact = [], [], True
    env_chunks, raw_chunks = [], []  # env-steps/s of each full chunk
    clock = time.perf_counter
    done = 0
    while done < steps:
        k = min(chunk, steps - done)
        start = {f: v.copy() for f, v in env_views.items()}
        ctrl, resets = [], []
        for _ in range(k):  # the env's chunk; what the replay needs is recorded untimed
            a = actions()
            sim_t.append(0.0)
            t0 = clock()
            env.step(a)
            if env.device.type == "cuda":
                torch.cuda.synchronize()
            env_t.append(clock() - t0)
            ctrl.append(env_views["ctrl"].copy())
            ids = np.flatnonzero(env.reset_buf.cpu().numpy())
            resets.append((ids, {f: env_views[f][ids].copy() for f in STATE_FIELDS}))
        if baseline == "replay":
            copy_state(raw_views, start)
        for j in range(k):  # raw stepping of the same chunk
            raw_views["ctrl"][:] = ctrl[j] if baseline == "replay" else 2.0 * np.random.rand(num_envs, 8) - 1.0
            t0 = clock()
            raw.step(nstep=env.substeps)
            raw_t.append(clock() - t0)
            if baseline == "replay":
                ids, rows = resets[j]
                for f in STATE_FIELDS:
                    raw_views[f][ids] = rows[f]
        if baseline == "replay":
            exact &= all(np.array_equal(raw_views[f], env_views[f]) for f in STATE_FIELDS)
        if k == chunk:
            env_chunks.append(k * num_envs / sum(env_t[-k:]))
            raw_chunks.append(k * num_envs / sum(raw_t[-k:]))
        done += k
    share = float(np.sum(sim_t[10:]) / np.sum(env_t))
    env_t, raw_t = np.sort(env_t), np.sort(raw_t)
    q25 = lambda t: t[len(t) // 4]  # noqa: E731
    med = lambda t: t[len(t) // 2]  # noqa: E731
    env_sps, raw_sps = num_envs / q25(env_t), num_envs / q25(raw_t)
    median_ratio = med(raw_t) / med(env_t)
    env.close()
    return Result(env_sps, raw_sps, median_ratio, env.nthread, share, exact if baseline == "replay" else None,
                  env_chunks, raw_chunks)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=600, help="timed steps of each (env and raw)")
    parser.add_argument("--chunk", type=int, default=25, help="steps per chunk (env chunk, then its raw replay)")
    parser.add_argument("--baseline", choices=["replay", "free"], default="replay",
                        help="replay: raw steps the env's own trajectory (P1); free: the old free-running raw Batch")
    parser.add_argument("--nthread", type=int, default=0, help="Batch threads (0: all cores)")
    parser.add_argument("--substeps", type=int, default=2, help="MuJoCo steps per control step")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads via the env cfg (default: leave torch alone)")
    parser.add_argument("--step-torch-threads", type=int, default=1,
                        help="torch threads inside env.step (scoped); <= 0: leave torch's count")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.steps < 1 or args.chunk < 1:
        parser.error("--steps and --chunk must be >= 1")

    print(f"torch {torch.__version__}, torch threads {torch.get_num_threads()} (before env), "
          f"cpus {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"substeps {args.substeps}, device {args.device}, baseline {args.baseline}")
    print("env-steps/s from the lower quartile of per-step times (env and raw in alternating chunks of "
          f"{args.chunk} steps); 'all steps': total over total time of the full chunks, with a bootstrap 95% "
          "interval over chunks")
    print(f"{'num_envs':>8} {'nthread':>7} {'env steps/s':>12} {'raw steps/s':>12} {'q25 ratio':>9} "
          f"{'median ratio':>12} {'all steps (95% interval)':>24} {'physics share':>13} {'replay exact':>12}")
    verdicts = []
    for n in args.num_envs:
        r = bench(n, args.steps, args.chunk, args.nthread, args.substeps, args.torch_threads,
                  args.step_torch_threads if args.step_torch_threads > 0 else None, args.device, args.baseline)
        total = r.total_ratio()
        low, high = total_ratio_ci(r.env_chunks, r.raw_chunks) if len(r.env_chunks) > 1 else (total, total)
        exact = "-" if r.exact is None else ("yes" if r.exact else "NO")
        print(f"{n:>8} {r.nthread:>7} {r.env_sps:>12.0f} {r.raw_sps:>12.0f} {r.env_sps / r.raw_sps:>9.3f} "
              f"{r.median_ratio:>12.3f} {f'{total:.3f} ({low:.3f}..{high:.3f})':>24} {r.physics_share:>13.3f} "
              f"{exact:>12}", flush=True)
        verdicts.append(f"{n}: {'meets' if total >= TARGET else 'BELOW'}")
    print(f"P1 env / raw (all steps) >= {TARGET}: " + ", ".join(verdicts))

if __name__ == "__main__":
    main()
