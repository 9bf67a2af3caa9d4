"""MuJoCo Warp backend throughput: the embedded Ant on ``physics_engine="mujoco_warp"``.

On the CPU (default) it prints, per num_envs, the env-steps/s of ``Ant.step`` (random actions, obs, reward,
auto-resets included) on the Warp backend (Warp's CPU device) and on the ``mujoco.batch`` backend in the same
process, in interleaved rounds, and their ratio (Warp on a CPU is for development and tests, not training).

With ``--device cuda`` (a CUDA GPU, ``pip install -e ".[warp]"``) it prints, per num_envs (default 1024 4096
16384): raw Warp stepping (``WarpPhysics.step``: the captured substeps alone), the env step, and the full PPO
loop (the CLI's ``AntPPO`` config: act, step, record, update) in env-steps/s, with the peak GPU memory of
each; ``--time-to 3000`` then runs ``train_isaac.py task=Ant physics_engine=mujoco_warp`` through
``benchmarks/learning.py`` and prints the time to that mean return.

    python benchmarks/warp_throughput.py                                # CPU: Warp-cpu vs mujoco.batch
    python benchmarks/warp_throughput.py --device cuda --time-to 3000   # GPU: the whole set
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from _common import machine_line  # noqa: E402
from skrl_isaac.envs.torch import load_embedded_env, wrap_env  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def env_stepper(num_envs: int, device: str, engine: str, seed: int = 0) -> Callable[[int], float]:
    """A function running ``steps`` env steps with random actions and returning the env-steps/s."""
    task = load_embedded_env("Ant", num_envs=num_envs, device=device, seed=seed, physics_engine=engine)
    actions = torch.empty((num_envs, task.num_actions), device=device)
    for _ in range(3):  # warm-up: kernels (Warp) and graph capture (CUDA)
        task.step(actions.uniform_(-1, 1))
    _sync(device)

    def run(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            task.step(actions.uniform_(-1, 1))
        _sync(device)
        return num_envs * steps / (time.perf_counter() - start)

    run.task = task  # type: ignore[attr-defined]
    return run


def cpu_ratio(num_envs: List[int], steps: int, rounds: int) -> None:
    """Warp (cpu device) vs mujoco.batch, interleaved rounds of ``steps`` steps each."""
    print(f"{'num_envs':>8} | {'mujoco.batch':>14} | {'mujoco_warp cpu':>15} | warp / batch (all rounds, median round)")
    for n in num_envs:
        runs = {"mujoco": env_stepper(n, "cpu", "mujoco"), "mujoco_warp": env_stepper(n, "cpu", "mujoco_warp")}
        seconds: Dict[str, float] = {k: 0.0 for k in runs}
        ratios = []
        for r in range(rounds):
            order = list(runs) if r % 2 == 0 else list(reversed(runs))
            rates = {k: runs[k](steps) for k in order}
            for k, rate in rates.items():
                seconds[k] += n * steps / rate
            ratios.append(rates["mujoco_warp"] / rates["mujoco"])
        total = {k: n * steps * rounds / s for k, s in seconds.items()}
        ratios.sort()
        print(f"{n:>8} | {total['mujoco']:>12.0f}/s | {total['mujoco_warp']:>13.0f}/s | "
              f"{total['mujoco_warp'] / total['mujoco']:.3f} ({ratios[len(ratios) // 2]:.3f})", flush=True)


def _peak_gib() -> float:
    return torch.cuda.max_memory_allocated() / 2**30


def ppo_rate(num_envs: int, iterations: int, device: str) -> float:
    """Env-steps/s of the full PPO loop (AntPPO, CLI config) on the Warp backend."""
    from omegaconf import OmegaConf

    from skrl_isaac.cli.builders import build_agent
    from skrl_isaac.trainers.torch import SequentialTrainer

    cfg_path = os.path.join(os.path.dirname(HERE), "skrl_isaac", "cfg", "train", "AntPPO.yaml")
    train_cfg = OmegaConf.to_container(OmegaConf.load(cfg_path))
    rollouts = int(train_cfg["agent"]["rollouts"])
    env = wrap_env(load_embedded_env("Ant", num_envs=num_envs, device=device, seed=0, physics_engine="mujoco_warp"))
    with tempfile.TemporaryDirectory() as tmp:
        train_cfg["agent"]["experiment"].update(directory=tmp, checkpoint_interval=0)
        agent = build_agent(train_cfg, env, torch.device(device), "Ant")
        trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": rollouts, "disable_progressbar": True,
                                                                "close_environment_at_exit": False, "summary": False})
        trainer.train()  # warm-up iteration
        trainer.initial_timestep, trainer.timesteps = rollouts, rollouts * (iterations + 1)
        _sync(device)
        start = time.perf_counter()
        trainer.train()
        _sync(device)
        return num_envs * rollouts * iterations / (time.perf_counter() - start)


def gpu_table(num_envs: List[int], steps: int, iterations: int, device: str) -> None:
    print(f"{'num_envs':>8} | {'raw physics':>13} | {'env step':>13} | {'PPO loop':>13} | peak GPU memory (raw / env / PPO)")
    for n in num_envs:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        run = env_stepper(n, device, "mujoco_warp")
        physics, substeps = run.task.physics, run.task.substeps
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            physics.step(substeps)
        _sync(device)
        raw, raw_mem = n * steps / (time.perf_counter() - start), _peak_gib()
        env_rate, env_mem = run(steps), _peak_gib()
        run.task.close()
        del run
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        loop = ppo_rate(n, iterations, device)
        print(f"{n:>8} | {raw:>11.0f}/s | {env_rate:>11.0f}/s | {loop:>11.0f}/s | "
              f"{raw_mem:.2f} / {env_mem:.2f} / {_peak_gib():.2f} GiB (Warp's own pool not included)", flush=True)


def time_to(threshold: float, budget_min: float, device: str) -> int:
    cmd = [sys.executable, os.path.join(HERE, "learning.py"), "--task", "Ant", "--threshold", str(threshold),
           "--budget-min", str(budget_min), "--stop-at-threshold", "--", "physics_engine=mujoco_warp",
           f"rl_device={device}", f"sim_device={device}", "num_envs=4096"]
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (Warp-cpu vs mujoco.batch) or cuda[:i] (the GPU table)")
    parser.add_argument("--num-envs", type=int, nargs="+", default=None,
                        help="default: 16 64 on the CPU, 1024 4096 16384 on CUDA")
    parser.add_argument("--steps", type=int, default=None, help="env steps per round (default: 20 CPU, 200 CUDA)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (CPU)")
    parser.add_argument("--iterations", type=int, default=10, help="timed PPO iterations (CUDA)")
    parser.add_argument("--time-to", type=float, default=None, help="CUDA: also time task=Ant PPO to this mean return")
    parser.add_argument("--budget-min", type=float, default=10.0, help="minutes allowed for --time-to")
    args = parser.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    print(machine_line())
    if cuda:
        gpu_table(args.num_envs or [1024, 4096, 16384], args.steps or 200, args.iterations, args.device)
        if args.time_to is not None:
            time_to(args.time_to, args.budget_min, args.device)
    else:
        cpu_ratio(args.num_envs or [16, 64], args.steps or 20, args.rounds)
    print(machine_line())


if __name__ == "__main__":
    main()
