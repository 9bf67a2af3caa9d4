"""Sequential trainer: steps a batched environment and one agent, with a progress bar."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping

import torch
import tqdm

from skrl_isaac.agents.torch.base import Agent
from skrl_isaac.agents.torch.tracking import TrackingSummary
from skrl_isaac.trainers.torch.interrupt import StopOnSignal, TrainingInterrupted
from skrl_isaac.utils.cleanup import close_all
from skrl_isaac.utils import distributed
from skrl_isaac.utils.distributed import is_main
from skrl_isaac.utils.config import merge_config

SEQUENTIAL_TRAINER_DEFAULT_CONFIG: dict[str, Any] = {
    "timesteps": 100000,            # number of timesteps (environment steps of all envs at once)
    "headless": False,              # headless mode (no rendering)
    "disable_progressbar": False,   # disable the tqdm progress bar
    "close_environment_at_exit": True,  # close the environment when training/evaluation ends
    "summary": True,                # print a summary line at each write_interval (training) / at the end (eval)
    "print_episodes": False,        # eval: also print one line per finished episode
    "rollout_torch_threads": 1,     # torch CPU threads while acting and stepping (None: leave torch's count alone)
}


class SequentialTrainer:
    """Train or evaluate one agent on a batched (vectorized) environment.

    :param env: wrapped environment (``skrl_isaac.envs.torch.wrap_env``): ``reset() -> (obs, info)``,
                ``step(actions) -> (obs, reward, terminated, truncated, info)`` with ``(num_envs, ...)`` tensors
    :param agents: the agent to train or evaluate
    :param agents_scope: unused (one agent); kept for skrl's signature
    :param cfg: configuration, see ``SEQUENTIAL_TRAINER_DEFAULT_CONFIG``

    ``rollout_torch_threads`` (default 1): torch's CPU thread count during the rollout part of each
    step (``act``, ``env.step``, ``record_transition``); the caller's count is back for
    ``post_interaction``, where the agents update. The rollout's small batched forward passes gain
    nothing from more threads, and idle OpenMP workers spinning after each of them steal the cores the
    simulator's threads need; the update's large minibatches use every thread (the figures:
    docs/performance.md, "CPU threads").
    ``None`` leaves the thread count alone.
    """

    def __init__(self, env: Any, agents: Agent, agents_scope: list[int] | None = None,
                 cfg: Mapping[str, Any] | None = None) -> None:
        self.cfg = merge_config(SEQUENTIAL_TRAINER_DEFAULT_CONFIG, cfg, owner="SequentialTrainer")
        if isinstance(agents, (list, tuple)):
            if len(agents) != 1:
                raise ValueError(f"SequentialTrainer trains one agent on a batched env, got {len(agents)}")
            agents = agents[0]
        self.env = env
        self.agent = agents
        self.timesteps = int(self.cfg["timesteps"])
        if self.timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {self.timesteps}")
        self.initial_timestep = 0
        self.print: Callable[[str], None] = tqdm.tqdm.write
        threads = self.cfg["rollout_torch_threads"]
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"rollout_torch_threads must be None or an int >= 1, got {threads!r}")
        self.rollout_torch_threads: int | None = threads
        # called after every environment step with that step's timestep (0-based), in training and in
        # evaluation, outside the agent's hot path (e.g. a video schedule, the live viewer)
        self.step_hooks: list[Callable[[int], None]] = []

    def resume(self, path: str) -> int:
        """Continue from a ``<timestep>_agent.pt`` checkpoint: restore the agent (and the environment's
        state when the file has it), and start :meth:`train` at its timestep. Return that timestep."""
        state = self.agent.load(path)
        if "env" in state:
            set_state = getattr(self.env, "set_state", None)
            if not callable(set_state):
                raise ValueError(f"{path} holds an environment state but {type(self.env).__name__} has no set_state()")
            set_state(state["env"])
        self.initial_timestep = int(state["timestep"])
        if self.initial_timestep >= self.timesteps:
            raise ValueError(f"{path} is at timestep {self.initial_timestep}, not before the end of training "
                             f"({self.timesteps} timesteps): raise the timesteps to continue")
        return self.initial_timestep

    def _progress(self, desc: str) -> tqdm.tqdm:
        return tqdm.tqdm(range(self.initial_timestep, self.timesteps), initial=self.initial_timestep,
                         total=self.timesteps, desc=desc, disable=self.cfg["disable_progressbar"] or not is_main(),
                         dynamic_ncols=True, unit="step")

    def train(self) -> None:
        """Train the agent for ``timesteps`` steps of the batched environment.

        The loop itself never reads a tensor back to the host: the agent accumulates its tracking on
        the device and writes it every ``write_interval`` steps, when the summary line is printed.
        Under torchrun only rank 0 shows the progress bar and the summary lines; their env-steps/s count
        the envs of every rank.
        With checkpoints enabled, the last timestep is checkpointed too (``<timesteps>_<model>.pt``).

        Ctrl-C (SIGINT) or SIGTERM: the current step finishes, a checkpoint of that timestep is written
        (when checkpoints are enabled), the writers and the memory export are closed, then
        :class:`TrainingInterrupted` (a ``KeyboardInterrupt``) is raised. A second signal exits at once.
        """
        agent, env = self.agent, self.env
        agent.init(trainer_cfg=self.cfg)
        agent.attach_env(env)
        agent.set_mode("eval")
        states, infos = env.reset()
        num_envs = int(getattr(env, "num_envs", states.shape[0]))
        num_envs *= distributed.world_size()  # under torchrun the rates count every rank's envs (as many per rank)
        show_summary = bool(self.cfg["summary"]) and is_main()  # under torchrun: rank 0's lines only
        last_time, last_step = time.perf_counter(), self.initial_timestep
        update_threads = torch.get_num_threads()
        rollout_threads = self.rollout_torch_threads or update_threads
        interrupted: TrainingInterrupted | None = None
        with StopOnSignal() as stop:
            try:
                for timestep in self._progress("train"):
                    agent.pre_interaction(timestep, self.timesteps)
                    torch.set_num_threads(rollout_threads)  # a no-op call when unchanged (cheap either way)
                    try:
                        with torch.no_grad():
                            actions = agent.act(states, timestep, self.timesteps)[0]
                            next_states, rewards, terminated, truncated, infos = env.step(actions)
                            agent.record_transition(states, actions, rewards, next_states, terminated, truncated,
                                                    infos, timestep, self.timesteps)
                    finally:
                        torch.set_num_threads(update_threads)
                    agent.post_interaction(timestep, self.timesteps)
                    states = next_states
                    for hook in self.step_hooks:
                        hook(timestep)
                    summary = agent.last_summary
                    if show_summary and summary is not None and summary.timestep == timestep + 1:
                        now = time.perf_counter()
                        rate = num_envs * (timestep + 1 - last_step) / max(now - last_time, 1e-9)
                        last_time, last_step = now, timestep + 1
                        self.print(self._summary(rate, summary))
                    if stop.signum is not None:
                        interrupted = TrainingInterrupted(stop.signum, timestep + 1,
                                                          self._checkpoint_now(timestep + 1))
                        break
                else:  # the last timestep is always checkpointed, also when not a checkpoint_interval multiple
                    if agent.checkpoint_interval <= 0:  # (a checkpoint write checks it itself)
                        agent.check_finite(self.timesteps)  # never end a run diverged without saying so
                    self._checkpoint_now(self.timesteps)
            finally:  # the first error is the one raised (a failed export never hides a failed checkpoint)
                with close_all(agent.close, env.close if self.cfg["close_environment_at_exit"] else None):
                    pass
        if interrupted is not None:
            raise interrupted

    def _checkpoint_now(self, done: int) -> list[str]:
        """Checkpoint ``done`` timesteps unless checkpoints are disabled or this step's were just written."""
        agent = self.agent
        interval = agent.checkpoint_interval
        if interval <= 0:
            return []
        folder = os.path.join(agent.experiment_dir, "checkpoints")
        if done % interval == 0:  # post_interaction wrote them (rank 0's files; under torchrun maybe not yet seen)
            names = os.listdir(folder) if os.path.isdir(folder) else []
            return sorted(os.path.join(folder, name) for name in names if name.startswith(f"{done}_"))
        return agent.write_checkpoint(done, self.timesteps)

    @staticmethod
    def _summary(rate: float, summary: TrackingSummary) -> str:
        line = f"timestep {summary.timestep:>9d} | {rate:>9.0f} env-steps/s"
        if summary.mean_return is not None:
            line += (f" | episode return {summary.mean_return:9.2f}"
                     f" (n={summary.finished_episodes}, len {summary.mean_length:.0f})")
        else:
            line += " | no finished episode yet"
        return line

    @staticmethod
    def episodes_summary(episodes: list[tuple[float, int]]) -> str:
        """``played <n> episodes: return mean <m> (min <a>, max <b>), length mean <m> (min <a>, max <b>)``."""
        returns, lengths = [r for r, _ in episodes], [n for _, n in episodes]
        return (f"played {len(episodes)} episodes: return mean {sum(returns) / len(returns):.2f} "
                f"(min {min(returns):.2f}, max {max(returns):.2f}), length mean {sum(lengths) / len(lengths):.1f} "
                f"(min {min(lengths)}, max {max(lengths)})")

    def eval(self) -> list[tuple[float, int]]:
        """Play the agent's policy deterministically for ``timesteps`` steps.

        Prints one summary line (episodes; mean, min and max return and length), each finished episode's
        line too with ``print_episodes=True``, and returns the list of ``(return, length)`` of the
        finished episodes. (Evaluation reads the finished episodes back
        to the host each step; training never does.)
        """
        agent, env = self.agent, self.env
        agent.set_mode("eval")
        states, infos = env.reset()
        num_envs = states.shape[0]
        episode_return = torch.zeros(num_envs, device=states.device)
        episode_length = torch.zeros(num_envs, device=states.device, dtype=torch.long)
        episodes: list[tuple[float, int]] = []
        saved_threads = torch.get_num_threads()
        torch.set_num_threads(self.rollout_torch_threads or saved_threads)  # evaluation is all rollout
        try:
            for timestep in self._progress("eval"):
                with torch.no_grad():
                    actions = agent.act_deterministic(states)
                    states, rewards, terminated, truncated, infos = env.step(actions)
                for hook in self.step_hooks:
                    hook(timestep)
                episode_return += rewards.view(-1).to(episode_return.dtype)
                episode_length += 1
                dones = (terminated | truncated).view(-1)
                if bool(dones.any()):
                    finished = list(zip(episode_return[dones].tolist(), episode_length[dones].tolist()))
                    for ret, length in finished:
                        episodes.append((ret, length))
                        if self.cfg["print_episodes"]:
                            self.print(f"episode {len(episodes):>5d}: return {ret:10.2f}, length {length}")
                    episode_return[dones] = 0
                    episode_length[dones] = 0
        finally:
            torch.set_num_threads(saved_threads)
            if self.cfg["close_environment_at_exit"]:
                env.close()
        if episodes:
            if self.cfg["summary"]:
                self.print(self.episodes_summary(episodes))
        else:
            self.print(f"no episode finished within {self.timesteps} timesteps; increase the timesteps")
        return episodes
