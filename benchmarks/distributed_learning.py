"""Learning per env-step with several processes: 2 torchrun ranks x N/2 envs vs 1 process x N envs.

    python benchmarks/distributed_learning.py --task Cartpole --seeds 42 1 2 --total-envs 512 --iterations 60

Both set-ups train the same task, seeds and env-step budget with the shipped train config through
``train_isaac.py`` (the two ranks as ``python -m torch.distributed.run --standalone --nproc_per_node=2``, each
with one MuJoCo thread). With gradients averaged over the ranks, one update of the 2-rank run sees the same number
of transitions as one update of the single process, so the curves against env-steps (timesteps x total envs)
should agree within seed noise. The curves come from rank 0's TensorBoard file, whose episode statistics cover
every rank's episodes. Printed per seed: env-steps to ``--threshold``, the final return and the return at equal
env-steps; then the medians and the ratio 2 ranks / 1 process of the median env-steps to the threshold.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from vs_rl_games import OUR_TAG, ROOT, THRESHOLDS, Curve, first_crossing, read_curve, value_at  # noqa: E402

from skrl_isaac.utils.processes import python_env  # noqa: E402


def run(setup: str, task: str, seed: int, total_envs: int, iterations: int, out: str) -> Curve:
    """One training run (``setup``: ``"1 process"`` or ``"2 ranks"``); its return curve against env-steps."""
    ranks = 2 if setup == "2 ranks" else 1
    name = f"{task}_{ranks}r_{seed}"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"] \
        if ranks > 1 else [sys.executable]
    command = [*launcher, os.path.join(ROOT, "train_isaac.py"), f"task={task}", f"seed={seed}",
               f"num_envs={total_envs // ranks}", f"max_iterations={iterations}", f"experiment={name}",
               "checkpoint_interval=0", f"train.agent.experiment.directory={out}"]
    if ranks == 1:
        command.append("task.sim.mujoco.nthread=2")  # the same cores as the two ranks' one thread each
    started = time.time()
    with open(os.path.join(out, f"{name}.log"), "w") as log:
        proc = subprocess.run(command, cwd=out, env=python_env(ROOT), stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed (exit code {proc.returncode}); its output: {os.path.join(out, name)}.log")
    return read_curve(os.path.join(out, name), OUR_TAG, setup, seed, started, total_envs)


def report(curves: list[Curve], threshold: float) -> list[str]:
    lines = [f"threshold {threshold:g}", "seed | set-up | env-steps to threshold | final return | return at equal env-steps"]
    reached: dict[str, list[float]] = {"1 process": [], "2 ranks": []}
    for seed in sorted({c.seed for c in curves}):
        pair = {c.learner: c for c in curves if c.seed == seed}
        equal = min(c.env_steps[-1] for c in pair.values())
        for setup, c in sorted(pair.items()):
            steps = first_crossing(c.env_steps, c.returns, threshold)
            if steps is not None:
                reached[setup].append(steps)
            lines.append(f"{seed} | {setup} | {steps} | {c.returns[-1]:.1f} | {value_at(c.env_steps, c.returns, equal):.1f}")
    medians = {k: statistics.median(v) if v else None for k, v in reached.items()}
    lines.append(f"median env-steps to threshold: 1 process {medians['1 process']}, 2 ranks {medians['2 ranks']}")
    if medians["1 process"] and medians["2 ranks"]:
        lines.append(f"2 ranks / 1 process: {medians['2 ranks'] / medians['1 process']:.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="Cartpole", choices=sorted(THRESHOLDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--total-envs", type=int, default=512, help="envs of the single process (half per rank)")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--threshold", type=float, default=None, help="mean return to reach (default: per task)")
    parser.add_argument("--out", default=None, help="folder of the runs (default: a new temp folder)")
    args = parser.parse_args(argv)
    if args.total_envs % 2:
        parser.error(f"--total-envs must be even (half per rank), got {args.total_envs}")
    out = os.path.abspath(args.out or tempfile.mkdtemp(prefix="distributed_learning_"))
    os.makedirs(out, exist_ok=True)
    threshold = THRESHOLDS[args.task] if args.threshold is None else args.threshold
    curves = []
    for seed in args.seeds:
        for setup in ("1 process", "2 ranks"):
            curves.append(run(setup, args.task, seed, args.total_envs, args.iterations, out))
            c = curves[-1]
            print(f"{setup} seed {seed}: final return {c.returns[-1]:.1f} after {c.env_steps[-1]} env-steps, "
                  f"{c.seconds[-1]:.0f} s", flush=True)
    print("\n".join(report(curves, threshold)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
