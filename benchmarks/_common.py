"""Helpers shared by the side-by-side benchmarks (``vs_skrl.py``, ``overhead.py``).

The benchmarks compare loops *in one process*, in interleaved rounds: every round runs each loop
for the same number of PPO iterations (the order rotates from round to round), so load from other
processes hits all of them alike. Per loop we keep the env-steps/s of every round; the reported
ratios are the median of the per-round ratios (the loops of one round saw the same machine) and the
ratio of the best rounds.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

TRAIN_CFG_DIR = os.path.join(REPO, "skrl_isaac", "cfg", "train")


def set_torch_threads(threads: int) -> None:
    """``torch.set_num_threads`` (<= 0: leave torch's default). On a loaded 2-core machine one
    thread is much faster for these small MLPs (no OpenMP threads waiting on a busy core)."""
    if threads > 0:
        torch.set_num_threads(threads)


def machine_line() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?", "?", "?")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), python {platform.python_version()}")


def load_train_cfg(name: str = "AntPPO") -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(os.path.join(TRAIN_CFG_DIR, f"{name}.yaml")))


def make_task(task: str, num_envs: int, device: str, seed: int = 0, sim_threads: int = 0) -> Any:
    """A task of the embedded suite by name, or ``"DeviceTask"``: the simulator stand-in on the torch
    device (``benchmarks/device_task.py``), for agent overhead on a GPU. ``sim_threads > 0`` sets
    MuJoCo's Batch threads (``sim.mujoco.nthread``; 0: the task config's, all cores)."""
    if task == "DeviceTask":
        from device_task import DeviceTask

        return DeviceTask(num_envs, device, seed=seed)
    from skrl_isaac.envs.torch import load_embedded_env

    cfg = {"sim": {"mujoco": {"nthread": int(sim_threads)}}} if sim_threads > 0 else None
    return load_embedded_env(task, num_envs=num_envs, device=device, seed=seed, cfg=cfg)


class OursLoop:
    """Our PPO (``skrl_isaac``, built as the CLI builds it) on the embedded Ant (or ``task``, with its
    ``train`` config, which may name an off-policy agent; ``task="DeviceTask"``: see :func:`make_task`).

    ``run(iterations)`` trains ``iterations`` PPO iterations (``rollouts`` env steps + one update
    each; with an off-policy config one env step and its gradient steps each) continuing where the
    previous call stopped, and returns the seconds it took, including the end of ``train()``:
    ``agent.close()`` (closes TensorBoard's writer, exports the last fill cycle and waits for pending
    memory exports), or with ``steady=True`` only the wait for the exports already handed over
    (nothing of this loop's runs on in the background during another loop's round), so that rounds
    continue one long run: one TensorBoard writer and event file, each fill cycle exported when the
    next one starts, as in a real run. :meth:`close` closes the agent.
    """

    def __init__(self, num_envs: int, device: str = "cpu", train: str = "AntPPO", write_interval: int = 250,
                 checkpoint_interval: int = 0, export_csv: bool = False, seed: int = 0,
                 export_format: str = "csv", steady: bool = False, mixed_precision: bool = False,
                 task: str = "Ant", cuda_graph: bool = True, sim_threads: int = 0) -> None:
        from skrl_isaac.builders import build_agent
        from skrl_isaac.envs.torch import wrap_env
        from skrl_isaac.trainers.torch import SequentialTrainer

        self._tmp = tempfile.TemporaryDirectory(prefix="skrl_isaac_bench_")
        cfg = load_train_cfg(train)
        self.rollouts = int(cfg["agent"].get("rollouts", 1))  # env steps per iteration (off-policy agents: 1)
        cfg["agent"]["experiment"].update(directory=self._tmp.name, write_interval=write_interval,
                                          checkpoint_interval=checkpoint_interval)
        cfg["agent"]["mixed_precision"] = mixed_precision
        if "rollouts" in cfg["agent"]:  # PPO: its policy and update steps as CUDA graphs on a GPU (off: eager)
            cfg["agent"]["cuda_graph"] = cuda_graph
        cfg.setdefault("memory", {}).update(export=export_csv, export_format=export_format, export_directory="")
        self.env = wrap_env(make_task(task, num_envs, device, seed, sim_threads), verbose=False)
        self.num_envs = num_envs
        self.agent = build_agent(cfg, self.env, torch.device(device), task)
        self.trainer = SequentialTrainer(env=self.env, agents=self.agent, cfg={
            "timesteps": self.rollouts, "disable_progressbar": True, "close_environment_at_exit": False,
            "summary": False})
        self.timestep = 0
        self.device = torch.device(device)
        self.steady = steady

    @property
    def directory(self) -> str:
        return self._tmp.name

    def run(self, iterations: int) -> float:
        start = time.perf_counter()
        self.trainer.initial_timestep = self.timestep
        self.trainer.timesteps = self.timestep + self.rollouts * iterations
        if self.steady:
            self.agent.close = self._wait_for_exports  # the trainer's end-of-train() call (instance attribute)
            try:
                self.trainer.train()
            finally:
                del self.agent.close
        else:
            self.trainer.train()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.timestep = self.trainer.timesteps
        return time.perf_counter() - start

    def _wait_for_exports(self) -> None:
        memory = self.agent.memory
        if memory is not None and memory.exporter is not None:
            memory.exporter.wait()

    def close(self) -> None:
        if self.steady:
            self.agent.close()
        self.env.close()
        self._tmp.cleanup()


class PhaseTimes:
    """Wall time an :class:`OursLoop` spends in each part of its PPO iterations: ``act``, ``env.step``,
    ``record`` (``record_transition``, where a fill cycle's export is handed over) and ``update``
    (PPO's ``_update``; an off-policy agent's gradient steps, ``_update_step``), by timing those
    methods (about 1 us per call). :meth:`reset` starts counting again (e.g. after a warm-up);
    :meth:`per_iteration` gives ms per PPO iteration since.

    It says *where* a cost lands: the P3 csv export, for one, slows ``env.step`` (the simulator's
    threads), not the update (see benchmarks/README.md, "Fifth session").
    """

    PHASES = ("act", "env.step", "record", "update")

    def __init__(self, loop: "OursLoop") -> None:
        self.loop = loop
        self.seconds = dict.fromkeys(self.PHASES, 0.0)
        self._start = loop.timestep
        update = "_update" if hasattr(loop.agent, "_update") else "_update_step"  # PPO | off-policy
        for obj, method, phase in ((loop.agent, "act", "act"), (loop.env, "step", "env.step"),
                                   (loop.agent, "record_transition", "record"), (loop.agent, update, "update")):
            self._time(obj, method, phase)

    def _time(self, obj: object, method: str, phase: str) -> None:
        inner, seconds = getattr(obj, method), self.seconds

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[phase] += time.perf_counter() - start

        setattr(obj, method, timed)  # an instance attribute: the trainer calls it through the same object

    def reset(self) -> None:
        self.seconds.update(dict.fromkeys(self.PHASES, 0.0))
        self._start = self.loop.timestep

    def per_iteration(self) -> dict[str, float]:
        """ms per PPO iteration of each phase since the last :meth:`reset`."""
        iterations = max((self.loop.timestep - self._start) // self.loop.rollouts, 1)
        return {phase: 1e3 * s / iterations for phase, s in self.seconds.items()}


def interleaved_rounds(loops: dict[str, Callable[[int], float]], steps_per_iteration: dict[str, int],
                       iterations: int, rounds: int, warmup: int = 1,
                       log: Callable[[str], None] | None = print,
                       after_warmup: Callable[[], None] | None = None) -> dict[str, list[float]]:
    """Run every loop ``warmup`` iterations (then call ``after_warmup``), then ``rounds`` rounds of
    ``iterations`` iterations each, the order rotating per round; return ``{name: [env-steps/s of
    round 0, 1, ...]}``."""
    names = list(loops)
    for name in names:
        loops[name](warmup)
    if after_warmup is not None:
        after_warmup()
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            seconds = loops[name](iterations)
            rates[name].append(steps_per_iteration[name] * iterations / seconds)
        if log is not None:
            log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {rates[n][-1]:,.0f}/s" for n in names))
    return rates


def total_rate(rates: list[float]) -> float:
    """Env-steps/s over all rounds together (every round runs the same number of steps): total steps
    over total time, i.e. the harmonic mean. Unlike a median, it keeps the rare costly rounds (a
    round that holds a checkpoint) in the figure."""
    return len(rates) / sum(1.0 / r for r in rates)


def total_ratio_ci(num: list[float], den: list[float], level: float = 0.95, resamples: int = 4000,
                   seed: int = 0) -> tuple[float, float]:
    """Bootstrap confidence interval of ``total_rate(num) / total_rate(den)``, resampling whole rounds
    (a round keeps its pair of loops together, so machine-wide slow spells cancel out in each pair).

    The machine's speed drifts by tens of percent over seconds; rounds that are short and many,
    with this interval, say how far a cost of a few percent can be trusted."""
    import numpy as np

    t_num, t_den = 1.0 / np.asarray(num), 1.0 / np.asarray(den)  # seconds per env-step of each round
    picks = np.random.default_rng(seed).integers(0, len(t_num), size=(resamples, len(t_num)))
    ratios = t_den[picks].sum(axis=1) / t_num[picks].sum(axis=1)
    tail = (1.0 - level) / 2
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return float(low), float(high)


def ratio_stats(num: list[float], den: list[float]) -> tuple[float, float]:
    """(median of the per-round ratios, ratio of the best rounds)."""
    return statistics.median(a / b for a, b in zip(num, den)), max(num) / max(den)
