"""Throughput of the embedded Ant against raw ``mujoco.batch.Batch`` stepping.

For each num_envs, prints env-steps/s of

* ``env``: ``Ant.step(actions)`` with random actions drawn by torch (obs,
  reward, auto-resets included), and
* ``raw``: the same MuJoCo model (the env's own ``MjModel``, same substeps,
  same ``nthread``) in a fresh ``Batch``, random ctrl written into its ctrl view,
  ``step(nstep=substeps)`` only,

and their ratio.  Raw and env steps are timed one by one, interleaved, and the
throughput comes from the lower quartile of the per-step times (the median
ratio is printed too), which filters out interference from other processes on
a shared machine.

    python benchmarks/env_throughput.py --num-envs 64 256 1024 --steps 500
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402
from mujoco.batch import Batch  # noqa: E402


def bench(num_envs: int, steps: int, nthread: int, substeps: int, torch_threads, step_torch_threads,
          device: str):
    mj = {"nthread": nthread, "torch_threads": torch_threads, "step_torch_threads": step_torch_threads}
    cfg = {"sim": {"substeps": substeps, "mujoco": mj}}
    env = envs.make("Ant", num_envs, device=device, seed=0, cfg=cfg)
    raw = Batch(env.model, num_envs, nthread=nthread)
    raw.bind("qpos")[:] = env._np_views["qpos"]  # same start state as the env
    raw_ctrl = torch.from_numpy(raw.bind("ctrl"))
    gen = torch.Generator(device=env.device).manual_seed(1)

    def run_env(k):
        for _ in range(k):
            env.step(torch.rand((num_envs, 8), generator=gen, device=env.device).mul_(2.0).sub_(1.0))

    def run_raw(k):
        for _ in range(k):
            raw_ctrl.copy_(torch.rand((num_envs, 8), generator=gen, device=env.device).mul_(2.0).sub_(1.0))
            raw.step(nstep=env.substeps)

    run_env(10)
    run_raw(10)
    # Steps are timed one by one, raw and env interleaved, so that both see the
    # same interference from other processes on a shared machine; throughput is
    # taken from the lower quartile (q25) and the median of the per-step times.
    env_t, raw_t = [], []
    clock = time.perf_counter
    for _ in range(steps):
        t0 = clock()
        run_raw(1)
        t1 = clock()
        run_env(1)
        if env.device.type == "cuda":
            torch.cuda.synchronize()
        t2 = clock()
        raw_t.append(t1 - t0)
        env_t.append(t2 - t1)
    env_t, raw_t = np.sort(env_t), np.sort(raw_t)
    q25 = lambda t: t[len(t) // 4]  # noqa: E731
    med = lambda t: t[len(t) // 2]  # noqa: E731
    env_sps, raw_sps = num_envs / q25(env_t), num_envs / q25(raw_t)
    median_ratio = med(raw_t) / med(env_t)
    env.close()
    return env_sps, raw_sps, median_ratio, env.nthread


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=500, help="timed steps of each (raw and env, interleaved)")
    parser.add_argument("--nthread", type=int, default=0, help="Batch threads (0: all cores)")
    parser.add_argument("--substeps", type=int, default=2, help="MuJoCo steps per control step")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads via the env cfg (default: leave torch alone)")
    parser.add_argument("--step-torch-threads", type=int, default=1,
                        help="torch threads inside env.step (scoped); <= 0: leave torch's count")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, torch threads {torch.get_num_threads()} (before env), "
          f"cpus {os.cpu_count()}, substeps {args.substeps}, device {args.device}")
    print("env-steps/s from the lower quartile of per-step times (raw and env steps interleaved)")
    print(f"{'num_envs':>8} {'nthread':>7} {'env steps/s':>12} {'raw steps/s':>12} {'ratio':>6} {'median ratio':>12}")
    for n in args.num_envs:
        env_sps, raw_sps, median_ratio, nthread = bench(n, args.steps, args.nthread, args.substeps,
                                          args.torch_threads,
                                          args.step_torch_threads if args.step_torch_threads > 0 else None,
                                          args.device)
        print(f"{n:>8} {nthread:>7} {env_sps:>12.0f} {raw_sps:>12.0f} {env_sps / raw_sps:>6.3f} {median_ratio:>12.3f}",
              flush=True)


if __name__ == "__main__":
    main()
