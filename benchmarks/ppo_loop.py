"""PPO training-loop throughput on the embedded Ant, beside the env alone in the same process.

    python benchmarks/ppo_loop.py [--num-envs 256] [--iterations 20] [--device cpu]

Prints env-steps/s of (a) the env stepped with random actions and (b) the full PPO loop
(act, step, record, update every `rollouts` steps, tracking on), and their ratio: the share of
the physics-bound limit the training loop keeps.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch
from omegaconf import OmegaConf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skrl_isaac.builders import build_agent  # noqa: E402
from skrl_isaac.envs.torch import load_embedded_env, wrap_env  # noqa: E402
from skrl_isaac.trainers.torch import SequentialTrainer  # noqa: E402
from skrl_isaac.utils import set_seed  # noqa: E402

CFG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "skrl_isaac", "cfg", "train")


def env_only(num_envs: int, steps: int, device: str) -> float:
    env = wrap_env(load_embedded_env("Ant", num_envs=num_envs, device=device, seed=0))
    env.reset()
    actions = torch.empty((num_envs, env.action_space.shape[0]), device=device)
    for _ in range(10):
        env.step(actions.uniform_(-1, 1))
    start = time.perf_counter()
    for _ in range(steps):
        env.step(actions.uniform_(-1, 1))
    rate = num_envs * steps / (time.perf_counter() - start)
    env.close()
    return rate


def ppo_loop(num_envs: int, iterations: int, device: str, train: str) -> float:
    train_cfg = OmegaConf.to_container(OmegaConf.load(os.path.join(CFG, f"{train}.yaml")))
    rollouts = int(train_cfg["agent"]["rollouts"])
    env = wrap_env(load_embedded_env("Ant", num_envs=num_envs, device=device, seed=0))
    with tempfile.TemporaryDirectory() as tmp:
        train_cfg["agent"]["experiment"].update(directory=tmp, checkpoint_interval=0)
        agent = build_agent(train_cfg, env, torch.device(device), "Ant")
        # warm-up iteration (allocations, first update), then the timed iterations
        trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": rollouts, "disable_progressbar": True,
                                                                "close_environment_at_exit": False, "summary": False})
        trainer.train()
        trainer.initial_timestep, trainer.timesteps = rollouts, rollouts * (iterations + 1)
        start = time.perf_counter()
        trainer.train()
        rate = num_envs * rollouts * iterations / (time.perf_counter() - start)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[256])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train", default="AntPPO", help="train config in skrl_isaac/cfg/train/")
    args = parser.parse_args()
    set_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, device {args.device}")
    print(f"{'num_envs':>8} | {'env only':>12} | {'PPO loop':>12} | ratio")
    for n in args.num_envs:
        raw = env_only(n, args.iterations * 16, args.device)
        loop = ppo_loop(n, args.iterations, args.device, args.train)
        print(f"{n:>8} | {raw:>10.0f}/s | {loop:>10.0f}/s | {loop / raw:.2f}")


if __name__ == "__main__":
    main()
