"""P2: our PPO training loop against skrl 2.1.1's PPO, side by side in one process.

Three loops, same PPO set-up (AntPPO.yaml: rollouts 16, learning_epochs 4, mini_batches 2,
lr 3e-4 with KL-adaptive schedule (kl_threshold 0.008), running standard scalers on observations
and values, grad_norm_clip 1.0, value_loss_scale 2.0, clipped values, time-limit bootstrap,
rewards x 0.01) and the same networks: *separate* policy and value MLPs [256, 128, 64] ELU, the
policy Gaussian with a state-independent log_std parameter:

* ``ours``: skrl_isaac's PPO + SequentialTrainer on the embedded Ant (``envs.make("Ant")``),
* ``skrl+gym``: skrl 2.1.1's PPO + SequentialTrainer on gymnasium ``Ant-v5``
  (``gymnasium.make_vec(..., vectorization_mode="sync")`` wrapped with skrl's ``wrap_env``),
* ``skrl+ours``: skrl 2.1.1's PPO + SequentialTrainer on our embedded Ant, through a minimal skrl
  ``Wrapper`` (skrl 2.x dropped its Isaac Gym wrappers; this one is skrl 1.x's Preview 3/4 wrapper).

Tracking on (write_interval 250 on both sides: our default; skrl 2.x's "auto" would depend on the run
length), checkpoints off on both sides. After one warm-up iteration each, the loops run interleaved
rounds of ``--iterations`` PPO iterations; printed: env-steps/s per loop (best and median round) and
the ratios ours / skrl+gym (target >= 3) and ours / skrl+ours (target >= 1.3), as the median of the
per-round ratios and as the ratio of the best rounds.

    pip install "skrl==2.1.1" "gymnasium[mujoco]==1.4.0"     # benchmark-only (the `bench` extra)
    python benchmarks/vs_skrl.py [--num-envs 256] [--iterations 6] [--rounds 8] [--torch-threads 0]

``--task DeviceTask`` runs ``ours`` and ``skrl+ours`` on a stand-in for a GPU simulator
(``benchmarks/device_task.py``: everything on the torch device, ~25 ops per step), so that on a GPU
the ratio shows the agents' own per-step cost, as on Isaac Gym, instead of MuJoCo's CPU physics.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from typing import Any

import torch

from _common import (OursLoop, interleaved_rounds, load_train_cfg, machine_line, make_task, ratio_stats,
                     set_torch_threads, total_rate, total_ratio_ci)


# -- skrl 2.1.1 side --------------------------------------------------------------------------
def skrl_vectask_wrapper():
    """A minimal skrl 2.x ``Wrapper`` for Isaac Gym Preview 3/4 style ``VecTask`` tasks (ours)."""
    from skrl.envs.wrappers.torch import Wrapper

    class VecTaskWrapper(Wrapper):
        def __init__(self, env: Any) -> None:
            super().__init__(env)
            self._reset_once = True
            self._observations = None
            self._info: dict = {}

        def step(self, actions: torch.Tensor):
            obs_dict, reward, reset, self._info = self._env.step(actions)
            self._observations = obs_dict["obs"]
            truncated = self._info["time_outs"] if "time_outs" in self._info else torch.zeros_like(reset)
            terminated = reset.bool() & ~truncated.bool()
            return (self._observations, reward.view(-1, 1), terminated.view(-1, 1), truncated.bool().view(-1, 1),
                    self._info)

        def reset(self):
            if self._reset_once:
                self._observations = self._env.reset()["obs"]
                self._reset_once = False
            return self._observations, self._info

        def state(self):
            return None

        def render(self, *args, **kwargs):
            return None

        def close(self) -> None:
            self._env.close()

    return VecTaskWrapper


def skrl_models(observation_space, action_space, device, hiddens, log_std):
    from skrl.models.torch import DeterministicMixin, GaussianMixin, Model

    def mlp(inputs: int, outputs: int) -> torch.nn.Sequential:
        layers: list[torch.nn.Module] = []
        for size in hiddens:
            layers += [torch.nn.Linear(inputs, size), torch.nn.ELU()]
            inputs = size
        return torch.nn.Sequential(*layers, torch.nn.Linear(inputs, outputs))

    class Policy(GaussianMixin, Model):
        def __init__(self):
            Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
            GaussianMixin.__init__(self, clip_actions=False, clip_log_std=True, min_log_std=-20, max_log_std=2)
            self.net = mlp(self.num_observations, self.num_actions)
            self.log_std_parameter = torch.nn.Parameter(torch.full((self.num_actions,), float(log_std)))

        def compute(self, inputs, role=""):
            return self.net(inputs["observations"]), {"log_std": self.log_std_parameter}

    class Value(DeterministicMixin, Model):
        def __init__(self):
            Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
            DeterministicMixin.__init__(self, clip_actions=False)
            self.net = mlp(self.num_observations, 1)

        def compute(self, inputs, role=""):
            return self.net(inputs["observations"]), {}

    return {"policy": Policy().to(device), "value": Value().to(device)}


class SkrlLoop:
    """skrl 2.1.1's PPO + SequentialTrainer on ``env_kind`` ("gym": gymnasium Ant-v5, "ours": our ``task``,
    the embedded Ant by default)."""

    def __init__(self, env_kind: str, num_envs: int, device: str, write_interval: int, train: str = "AntPPO",
                 seed: int = 0, mixed_precision: bool = False, task: str = "Ant") -> None:
        from skrl.agents.torch import ExperimentCfg
        from skrl.agents.torch.ppo import PPO, PPO_CFG
        from skrl.memories.torch import RandomMemory
        from skrl.resources.preprocessors.torch import RunningStandardScaler
        from skrl.resources.schedulers.torch import KLAdaptiveLR
        from skrl.trainers.torch import SequentialTrainer

        if env_kind == "gym":
            import gymnasium
            from skrl.envs.wrappers.torch import wrap_env

            env = wrap_env(gymnasium.make_vec("Ant-v5", num_envs=num_envs, vectorization_mode="sync"),
                           wrapper="gymnasium", verbose=False)
            env._device = torch.device(device)  # skrl picks cuda when available; keep the same device as ours
        else:
            env = skrl_vectask_wrapper()(make_task(task, num_envs, device, seed))
        self.env, self.num_envs = env, num_envs

        cfg = load_train_cfg(train)
        a, m = cfg["agent"], cfg["models"]
        self.rollouts = int(a["rollouts"])
        scale = float(cfg.get("rewards_scale", 1.0))
        self._tmp = tempfile.TemporaryDirectory(prefix="skrl_bench_")
        agent_cfg = PPO_CFG(
            rollouts=self.rollouts, learning_epochs=int(a["learning_epochs"]), mini_batches=int(a["mini_batches"]),
            discount_factor=float(a["discount_factor"]), gae_lambda=float(a["lambda"]),
            learning_rate=float(a["learning_rate"]), learning_rate_scheduler=KLAdaptiveLR,
            learning_rate_scheduler_kwargs=dict(a["learning_rate_scheduler_kwargs"]),
            observation_preprocessor=RunningStandardScaler,
            observation_preprocessor_kwargs={"size": env.observation_space, "device": device},
            value_preprocessor=RunningStandardScaler, value_preprocessor_kwargs={"size": 1, "device": device},
            grad_norm_clip=float(a["grad_norm_clip"]), ratio_clip=float(a["ratio_clip"]),
            value_clip=float(a["value_clip"]), entropy_loss_scale=float(a["entropy_loss_scale"]),
            value_loss_scale=float(a["value_loss_scale"]), kl_threshold=float(a["kl_threshold"]),
            time_limit_bootstrap=bool(a["time_limit_bootstrap"]), mixed_precision=mixed_precision,
            rewards_shaper=(lambda rewards, timestep, timesteps: rewards * scale) if scale != 1.0 else None,
            experiment=ExperimentCfg(directory=self._tmp.name, write_interval=write_interval, checkpoint_interval=0))
        models = skrl_models(env.observation_space, env.action_space, device,
                             [int(h) for h in m["policy"]["hiddens"]], float(m["policy"].get("initial_log_std", 0.0)))
        memory = RandomMemory(memory_size=self.rollouts, num_envs=num_envs, device=device)

        class OffsetPPO(PPO):
            """skrl's PPO with the trainer's timestep shifted by ``offset``: skrl 2.x's trainer restarts
            at timestep 0 on every ``train()``; the offset keeps write_interval counting across rounds."""
            offset = 0

            def pre_interaction(self, *, timestep, timesteps):
                super().pre_interaction(timestep=timestep + self.offset, timesteps=timesteps)

            def act(self, observations, states, *, timestep, timesteps):
                return super().act(observations, states, timestep=timestep + self.offset, timesteps=timesteps)

            def record_transition(self, *, timestep, timesteps, **kwargs):
                super().record_transition(timestep=timestep + self.offset, timesteps=timesteps, **kwargs)

            def post_interaction(self, *, timestep, timesteps):
                super().post_interaction(timestep=timestep + self.offset, timesteps=timesteps)

        self.agent = OffsetPPO(models=models, memory=memory, observation_space=env.observation_space,
                               action_space=env.action_space, device=device, cfg=agent_cfg)
        self.trainer = SequentialTrainer(env=env, agents=self.agent, cfg={
            "timesteps": self.rollouts, "headless": True, "disable_progressbar": True,
            "close_environment_at_exit": False})
        self.device = torch.device(device)

    def run(self, iterations: int) -> float:
        start = time.perf_counter()
        self.trainer.cfg.timesteps = self.rollouts * iterations
        self.trainer.train()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.agent.offset += self.rollouts * iterations
        return time.perf_counter() - start

    def close(self) -> None:
        self.env.close()
        self._tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, default=256, help="parallel envs on every side (e.g. 64 or 256)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--write-interval", type=int, default=250, help="TensorBoard write interval, both sides")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads for the whole process, every loop (<= 0: torch's default)")
    parser.add_argument("--iterations", type=int, default=6, help="PPO iterations per loop per round")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip", nargs="*", default=[], choices=["skrl+gym", "skrl+ours"], help="loops to leave out")
    parser.add_argument("--task", default="Ant", choices=["Ant", "DeviceTask"],
                        help="the task of 'ours' and 'skrl+ours': the embedded Ant, or DeviceTask, a stand-in for a "
                             "GPU simulator (benchmarks/device_task.py; skrl+gym is then left out)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="every loop with mixed_precision=True (bfloat16 autocast on both sides; not the P2 set-up)")
    parser.add_argument("--with-eager", action="store_true",
                        help="also run our loop without CUDA graphs (cfg['cuda_graph'] False; the same loop on a CPU) "
                             "and print ours / ours-eager")
    args = parser.parse_args()
    if args.task != "Ant" and "skrl+gym" not in args.skip:
        args.skip.append("skrl+gym")  # gymnasium's Ant-v5 is not the same task
    set_torch_threads(args.torch_threads)
    logging.getLogger("skrl").setLevel(logging.WARNING)
    import skrl

    print(f"machine: {machine_line()}")
    print(f"skrl {skrl.__version__}; task {args.task}, {args.num_envs} envs, "
          f"{args.iterations} PPO iterations x 16 steps per round, "
          f"{args.rounds} rounds, write_interval {args.write_interval}, checkpoints off, device {args.device}, "
          f"mixed precision {'on (bfloat16, every loop)' if args.mixed_precision else 'off'}")
    mp = args.mixed_precision
    loops: dict[str, Any] = {"ours": OursLoop(args.num_envs, args.device, write_interval=args.write_interval,
                                              mixed_precision=mp, task=args.task)}
    if args.with_eager:
        loops["ours-eager"] = OursLoop(args.num_envs, args.device, write_interval=args.write_interval,
                                       mixed_precision=mp, task=args.task, cuda_graph=False)
    if "skrl+gym" not in args.skip:
        loops["skrl+gym"] = SkrlLoop("gym", args.num_envs, args.device, args.write_interval, mixed_precision=mp)
    if "skrl+ours" not in args.skip:
        loops["skrl+ours"] = SkrlLoop("ours", args.num_envs, args.device, args.write_interval, mixed_precision=mp,
                                      task=args.task)
    try:
        rates = interleaved_rounds({n: l.run for n, l in loops.items()},
                                   {n: l.num_envs * l.rollouts for n, l in loops.items()},
                                   args.iterations, args.rounds)
    finally:
        for loop in loops.values():
            loop.close()
    print(f"\n{'loop':>10} | {'all rounds env-steps/s':>22} | {'best round':>10} | {'median':>10}")
    for name, r in rates.items():
        print(f"{name:>10} | {total_rate(r):>22,.0f} | {max(r):>10,.0f} | {statistics.median(r):>10,.0f}")
    targets = {"skrl+gym": 3.0, "skrl+ours": 1.3, "ours-eager": 1.0}
    for name, target in targets.items():
        if name in rates:
            total = total_rate(rates["ours"]) / total_rate(rates[name])
            med, best = ratio_stats(rates["ours"], rates[name])
            low, high = total_ratio_ci(rates["ours"], rates[name])
            verdict = "meets" if min(total, med) >= target else "BELOW"
            print(f"ours / {name}: {total:.2f}x (all rounds; 95% interval {low:.2f}x .. {high:.2f}x), "
                  f"{med:.2f}x (median of per-round ratios), {best:.2f}x (best rounds); target >= {target}x: {verdict}")
    print(f"machine after: {machine_line()}")


if __name__ == "__main__":
    main()
