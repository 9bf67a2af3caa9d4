"""Learning quality side by side with rl_games: our PPO and rl_games' PPO on the same embedded task.

Both learners train the same task (``envs/``, same num_envs, seeds and env-step budget) with IsaacGymEnvs'
hyper-parameters mapped the same way on both sides from our train config (``skrl_isaac/cfg/train/<Task>PPO.yaml``):
rollouts -> horizon_length, learning_epochs -> mini_epochs, num_envs * rollouts / mini_batches -> minibatch_size,
learning rate, KL-adaptive schedule, network sizes, reward scale, value/advantage normalization. Each run is a
child process (ours: ``train_isaac.py``; rl_games: its ``Runner`` through :mod:`skrl_isaac.interop.rl_games`), and
the curves come from the runs' TensorBoard files, the mean return of the last 100 finished episodes on both sides
(ours: ``Reward / Total reward (last 100 episodes)``; rl_games: ``rewards/step``),
with wall time measured from each child's launch.

Printed per seed and as medians: env-steps and seconds to ``--threshold``, the ratio ours / rl_games of each
(goal <= 1.0 on the median seed), the mean return at equal env-steps and at equal wall time, and the final returns;
one PNG per task (mean return against env-steps and against wall time, both learners).

    python benchmarks/vs_rl_games.py --task Cartpole --seeds 42 1 2 --iterations 100
    python benchmarks/vs_rl_games.py --task Ant --seeds 42 1 2 --iterations 300      # threshold 3000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from skrl_isaac.utils.processes import python_env  # noqa: E402

# Humanoid: IsaacGymEnvs trains it for 1000 epochs of 4096 envs x 32 steps (131M env-steps: over 4 hours
# of this 2-core CPU); the budgets that fit here see its first rise, which 500 marks
THRESHOLDS = {"Ant": 3000.0, "Cartpole": 400.0, "Humanoid": 500.0}
# both: the mean return of the last 100 finished episodes (rl_games' games_to_track; our best_window)
OUR_TAG, RL_GAMES_TAG = "Reward / Total reward (last 100 episodes)", "rewards/step"


@dataclass
class Curve:
    """Mean episode return against env-steps and against seconds since the learner's process started."""

    learner: str
    seed: int
    env_steps: np.ndarray
    seconds: np.ndarray
    returns: np.ndarray


@dataclass
class Summary:
    learner: str
    seed: int
    steps_to_threshold: float | None
    seconds_to_threshold: float | None
    final_return: float
    final_env_steps: int
    final_seconds: float


def first_crossing(x: np.ndarray, returns: np.ndarray, threshold: float) -> float | None:
    """The first ``x`` at which ``returns`` reaches ``threshold`` (None if it never does)."""
    hits = np.nonzero(returns >= threshold)[0]
    return float(x[hits[0]]) if hits.size else None


def value_at(x: np.ndarray, returns: np.ndarray, at: float) -> float:
    """The return at ``at`` (linear interpolation; the last value beyond the curve's end)."""
    return float(np.interp(at, x, returns))


def summarize(curve: Curve, threshold: float) -> Summary:
    return Summary(curve.learner, curve.seed, first_crossing(curve.env_steps, curve.returns, threshold),
                   first_crossing(curve.seconds, curve.returns, threshold), float(curve.returns[-1]),
                   int(curve.env_steps[-1]), float(curve.seconds[-1]))


def read_curve(run_dir: str, tag: str, learner: str, seed: int, started: float, steps_per_point: int) -> Curve:
    """The ``tag`` scalars under ``run_dir``: x in env-steps (the event step times ``steps_per_point``) and seconds."""
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    from skrl_isaac.curves import _event_files

    points: dict[int, tuple[float, float]] = {}
    for file in _event_files(run_dir):
        accumulator = EventAccumulator(file, size_guidance={SCALARS: 0})
        accumulator.Reload()
        if tag in accumulator.Tags().get("scalars", []):
            for event in accumulator.Scalars(tag):
                points[int(event.step)] = (float(event.wall_time), float(event.value))
    if not points:
        raise RuntimeError(f"{learner} seed {seed}: no {tag!r} scalars under {run_dir}")
    steps = np.array(sorted(points))
    return Curve(learner, seed, steps * steps_per_point, np.array([points[s][0] - started for s in steps]),
                 np.array([points[s][1] for s in steps]))


def train_cfg(task: str, agent: str = "PPO") -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(os.path.join(ROOT, "skrl_isaac", "cfg", "train", f"{task}{agent}.yaml")))


def label(task: str, agent: str) -> str:
    """The runs' and files' name of a comparison: the task for PPO (``Ant``), task and agent otherwise (``AntSAC``)."""
    return task if agent == "PPO" else f"{task}{agent}"


def steps_per_iteration(cfg: dict) -> int:
    """Env steps of all envs per iteration: PPO's ``rollouts``, the off-policy configs' ``horizon``."""
    return int(cfg["agent"]["rollouts"]) if cfg["agent"]["class"] == "PPO" else int(cfg["horizon"])


def run_ours(task: str, seed: int, num_envs: int, iterations: int, out: str, agent: str = "PPO",
             overrides: tuple[str, ...] = ()) -> Curve:
    per_iteration = steps_per_iteration(train_cfg(task, agent))
    name = f"ours_{label(task, agent)}_{seed}"
    command = [sys.executable, os.path.join(ROOT, "train_isaac.py"), f"task={task}", f"train={task}{agent}",
               f"seed={seed}", f"num_envs={num_envs}", f"max_iterations={iterations}", f"experiment={name}",
               f"write_interval={per_iteration}", "checkpoint_interval=0", f"train.agent.experiment.directory={out}",
               *overrides]
    return read_curve(os.path.join(out, name), OUR_TAG, "ours", seed, _run_child(command, out, name), num_envs)


def run_rl_games(task: str, seed: int, num_envs: int, iterations: int, out: str, agent: str = "PPO",
                 overrides: tuple[str, ...] = ()) -> Curve:
    name = f"rl_games_{label(task, agent)}_{seed}"
    command = [sys.executable, os.path.abspath(__file__), "--rl-games-child", "--task", task, "--agent", agent,
               "--seeds", str(seed), "--num-envs", str(num_envs), "--iterations", str(iterations), "--out", out]
    return read_curve(os.path.join(out, name), RL_GAMES_TAG, "rl_games", seed, _run_child(command, out, name), 1)


def _run_child(command: list[str], out: str, name: str) -> float:
    """Run a learner's process (its output in ``<out>/<name>.log``); return the time it was launched."""
    started = time.time()
    with open(os.path.join(out, f"{name}.log"), "w") as log:
        proc = subprocess.run(command, cwd=out, env=python_env(ROOT), stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed (exit code {proc.returncode}); its output: {os.path.join(out, name)}.log")
    return started


def rl_games_child(task: str, seed: int, num_envs: int, iterations: int, out: str, agent_name: str = "PPO") -> None:
    """Train rl_games' PPO (or SAC) with our train config's hyper-parameters mapped to rl_games' keys."""
    from rl_games.torch_runner import Runner

    from skrl_isaac.interop.rl_games import float32_matmul_kept, register_rl_games_env

    cfg = train_cfg(task, agent_name)
    env_name = register_rl_games_env(task, num_envs=num_envs, device="cpu", seed=seed)
    name = f"rl_games_{label(task, agent_name)}_{seed}"
    if agent_name == "SAC":
        config = rl_games_sac_config(cfg, env_name, num_envs, name, out, iterations, seed)
    else:
        config = rl_games_ppo_run_config(cfg, env_name, num_envs, name, out, iterations, seed)
    with float32_matmul_kept():
        runner = Runner()
        runner.load(config)
        runner.reset()
        runner.run({"train": True, "play": False, "checkpoint": None, "sigma": None})


def rl_games_ppo_run_config(cfg: dict, env_name: str, num_envs: int, name: str, out: str, iterations: int,
                            seed: int) -> dict:
    """rl_games' PPO config (``Runner().load`` takes it) for our PPO train config ``cfg``: IsaacGymEnvs' layout with
    our sizes (``rollouts`` -> ``horizon_length``, ``learning_epochs`` -> ``mini_epochs``,
    ``num_envs * rollouts / mini_batches`` -> ``minibatch_size``) and :func:`rl_games_settings`."""
    from skrl_isaac.interop.rl_games import rl_games_ppo_config

    agent, policy = cfg["agent"], cfg["models"]["policy"]
    rollouts = int(agent["rollouts"])
    config = rl_games_ppo_config(env_name, num_envs, "cpu", name=name, train_dir=out,
                                 units=tuple(policy["hiddens"]), activation=policy.get("activation", "elu"),
                                 horizon_length=rollouts, max_epochs=iterations,
                                 mini_epochs=int(agent["learning_epochs"]),
                                 minibatch_size=num_envs * rollouts // int(agent["mini_batches"]),
                                 learning_rate=float(agent["learning_rate"]), seed=seed, torch_compile=False)
    config["params"]["config"].update(rl_games_settings(cfg))
    return config


def rl_games_settings(cfg: dict) -> dict:
    """rl_games' ``config`` keys for the hyper-parameters of our train config ``cfg``, each mapped to its
    meaning there: rl_games' loss is ``a_loss + 0.5 * critic_coef * c_loss`` (so ``critic_coef`` is twice our
    ``value_loss_scale``), and it clips gradients only with ``truncate_grads`` (our ``grad_norm_clip > 0``)."""
    agent = cfg["agent"]
    clip = float(agent.get("grad_norm_clip", 0.0) or 0.0)
    scheduler_kwargs = agent.get("learning_rate_scheduler_kwargs") or {}
    return {"reward_shaper": {"scale_value": float(cfg.get("rewards_scale", 1.0))},
            "critic_coef": 2.0 * float(agent.get("value_loss_scale", 1.0)),
            "truncate_grads": clip > 0, "grad_norm": clip if clip > 0 else 1.0,
            "gamma": float(agent["discount_factor"]), "tau": float(agent["lambda"]),
            "e_clip": float(agent["ratio_clip"]), "clip_value": bool(agent.get("clip_predicted_values", False)),
            "entropy_coef": float(agent.get("entropy_loss_scale", 0.0)),
            "kl_threshold": float(scheduler_kwargs.get("kl_threshold", 0.008))}


def rl_games_sac_config(cfg: dict, env_name: str, num_envs: int, name: str, out: str, iterations: int,
                        seed: int) -> dict:
    """rl_games' SAC config (IsaacGymEnvs' AntSAC layout) with our SAC train config's values: one rl_games epoch is
    ``horizon`` env steps (``num_steps_per_episode``), seed and warm-up steps are our random and learning-start
    timesteps in epochs, the replay buffer holds ``memory_size * num_envs`` transitions. Keys AntSAC leaves out
    keep rl_games' defaults (as a user running AntSAC gets them)."""
    agent, policy = cfg["agent"], cfg["models"]["policy"]
    horizon = int(cfg["horizon"])
    return {"params": {
        "seed": seed,
        "algo": {"name": "sac"},
        "model": {"name": "soft_actor_critic"},
        "network": {"name": "soft_actor_critic", "separate": True, "space": {"continuous": None},
                    "mlp": {"units": list(policy["hiddens"]), "activation": policy.get("activation", "relu"),
                            "initializer": {"name": "default"}},
                    "log_std_bounds": [-5, 2]},
        "config": {
            "name": name, "full_experiment_name": name, "env_name": env_name, "train_dir": out, "device": "cpu",
            "normalize_input": agent.get("state_preprocessor") is not None,
            "reward_shaper": {"scale_value": float(cfg.get("rewards_scale", 1.0))},
            "max_epochs": iterations, "num_steps_per_episode": horizon, "save_best_after": iterations + 1,
            "save_frequency": 0, "print_stats": False,
            "gamma": float(agent["discount_factor"]), "init_alpha": float(agent["initial_entropy_value"]),
            "alpha_lr": float(agent["entropy_learning_rate"]), "actor_lr": float(agent["actor_learning_rate"]),
            "critic_lr": float(agent["critic_learning_rate"]), "critic_tau": float(agent["polyak"]),
            "batch_size": int(agent["batch_size"]), "learnable_temperature": bool(agent["learn_entropy"]),
            "num_seed_steps": int(agent["random_timesteps"]) // horizon,
            "num_warmup_steps": int(agent["learning_starts"]) // horizon,
            "replay_buffer_size": int(cfg["memory"]["memory_size"]) * num_envs, "num_actors": num_envs,
        },
    }}


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None:
        return "n/a (not reached by " + ("both" if ours is None and theirs is None else
                                         "ours" if ours is None else "rl_games") + ")"
    return f"{ours / theirs:.2f}"


def report(task: str, curves: list[Curve], threshold: float) -> list[str]:
    """The table's lines: per seed and the medians over seeds."""
    lines = [f"{task}: threshold {threshold:g}",
             "seed | learner | env-steps to threshold | seconds to threshold | final return | "
             "return at equal env-steps | return at equal wall time"]
    seeds = sorted({c.seed for c in curves})
    step_ratios, time_ratios = [], []
    for seed in seeds:
        pair = {c.learner: c for c in curves if c.seed == seed}
        equal_steps = min(c.env_steps[-1] for c in pair.values())
        equal_time = min(c.seconds[-1] for c in pair.values())
        summaries = {k: summarize(c, threshold) for k, c in pair.items()}
        for learner in [name for name in ("ours", "rl_games") if name in pair]:  # one learner: its lines alone
            c, s = pair[learner], summaries[learner]
            lines.append(f"{seed} | {learner} | {s.steps_to_threshold} | "
                         f"{'n/a' if s.seconds_to_threshold is None else f'{s.seconds_to_threshold:.0f}'} | "
                         f"{s.final_return:.1f} | {value_at(c.env_steps, c.returns, equal_steps):.1f} | "
                         f"{value_at(c.seconds, c.returns, equal_time):.1f}")
        if len(pair) < 2:
            continue
        step_ratios.append(ratio(summaries["ours"].steps_to_threshold, summaries["rl_games"].steps_to_threshold))
        time_ratios.append(ratio(summaries["ours"].seconds_to_threshold, summaries["rl_games"].seconds_to_threshold))
    if not step_ratios:  # one learner: nothing to compare
        return lines
    numeric = [float(r) for r in step_ratios if not r.startswith("n/a")]
    numeric_t = [float(r) for r in time_ratios if not r.startswith("n/a")]
    lines.append(f"ours / rl_games, env-steps to threshold per seed: {step_ratios}; median "
                 f"{statistics.median(numeric):.2f}" if numeric else f"env-steps ratios: {step_ratios}")
    lines.append(f"ours / rl_games, seconds to threshold per seed: {time_ratios}; median "
                 f"{statistics.median(numeric_t):.2f}" if numeric_t else f"seconds ratios: {time_ratios}")
    lines += median_seed(curves, threshold)
    return lines


def median_seed(curves: list[Curve], threshold: float) -> list[str]:
    """Each learner's median over its seeds of env-steps and seconds to ``threshold`` (a seed that never reached it
    counts as never: above every reached one) and of the final return, and the ratios ours / rl_games of those
    medians: the issue's "median seed"."""
    medians: dict[str, tuple[float, float, float]] = {}
    for learner in ("ours", "rl_games"):
        runs = [summarize(c, threshold) for c in curves if c.learner == learner]
        if not runs:
            return []
        medians[learner] = (statistics.median(math.inf if s.steps_to_threshold is None else s.steps_to_threshold
                                              for s in runs),
                            statistics.median(math.inf if s.seconds_to_threshold is None else s.seconds_to_threshold
                                              for s in runs),
                            statistics.median(s.final_return for s in runs))
    lines = []
    for learner, (steps, seconds, final) in medians.items():
        lines.append(f"median seed, {learner}: env-steps to threshold {'never' if math.isinf(steps) else f'{steps:.0f}'}"
                     f", seconds {'never' if math.isinf(seconds) else f'{seconds:.0f}'}, final return {final:.1f}")
    (o_steps, o_seconds, _), (r_steps, r_seconds, _) = medians["ours"], medians["rl_games"]
    finite = not any(math.isinf(v) for v in (o_steps, o_seconds, r_steps, r_seconds))
    lines.append(f"median seed, ours / rl_games: env-steps {o_steps / r_steps:.2f}, seconds {o_seconds / r_seconds:.2f}"
                 if finite else "median seed, ours / rl_games: n/a (a median seed never reached the threshold)")
    return lines


def plot(task: str, curves: list[Curve], path: str) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12.8, 4.2), layout="constrained")
    axes = figure.subplots(1, 2)
    for ax, x_name, x_label in ((axes[0], "env_steps", "env-steps"), (axes[1], "seconds", "wall time (s)")):
        for index, learner in enumerate(("ours", "rl_games")):
            for k, c in enumerate(c for c in curves if c.learner == learner):
                ax.plot(getattr(c, x_name), c.returns, color=f"C{index}", alpha=0.8,
                        label=learner if k == 0 else None)
        ax.set_xlabel(x_label)
        ax.set_ylabel("mean episode return")
        ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="Cartpole", choices=sorted(THRESHOLDS))
    parser.add_argument("--agent", default="PPO", choices=["PPO", "SAC"], help="train config <Task><agent>.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--num-envs", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=100, help="PPO iterations (rollout + update) per run")
    parser.add_argument("--threshold", type=float, default=None, help="mean return to reach (default: per task)")
    parser.add_argument("--out", default=None, help="folder of the runs, the PNG and the json (default: a new temp folder)")
    parser.add_argument("--learners", nargs="+", default=["ours", "rl_games"], choices=["ours", "rl_games"])
    parser.add_argument("--ours", nargs="*", default=[], metavar="KEY=VALUE",
                        help="hydra overrides for our runs only (an experiment: e.g. train.agent.kl_since=rollout)")
    parser.add_argument("--rl-games-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = os.path.abspath(args.out or __import__("tempfile").mkdtemp(prefix="vs_rl_games_"))
    os.makedirs(out, exist_ok=True)
    if args.rl_games_child:
        rl_games_child(args.task, args.seeds[0], args.num_envs, args.iterations, out, args.agent)
        return 0
    threshold = THRESHOLDS[args.task] if args.threshold is None else args.threshold
    curves = []
    for seed in args.seeds:
        for learner in args.learners:  # alternating, so load from elsewhere hits both alike
            run = run_ours if learner == "ours" else run_rl_games
            curves.append(run(args.task, seed, args.num_envs, args.iterations, out, args.agent, tuple(args.ours)))
            print(f"{learner} seed {seed}: final return {curves[-1].returns[-1]:.1f} after "
                  f"{curves[-1].env_steps[-1]} env-steps, {curves[-1].seconds[-1]:.0f} s", flush=True)
    name = label(args.task, args.agent)
    lines = report(name, curves, threshold)
    print("\n".join(lines))
    plot(f"{args.task} {args.agent}", curves, os.path.join(out, f"{name}_vs_rl_games.png"))
    with open(os.path.join(out, f"{name}_vs_rl_games.json"), "w") as f:
        json.dump({"threshold": threshold, "num_envs": args.num_envs, "iterations": args.iterations,
                   "agent": args.agent, "summaries": [asdict(summarize(c, threshold)) for c in curves]}, f, indent=1)
    print(f"curves: {os.path.join(out, f'{name}_vs_rl_games.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
