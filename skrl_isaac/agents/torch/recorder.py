"""The run recorder: everything an agent writes to disk, beside the learner.

It owns the run folder (``<directory>/<experiment_name>``), the TensorBoard writer, the on-device
tracker and its flushes, the checkpoint and best files, and the divergence check that guards them.
The agent hands it tensors (tracked values, each step's rewards and dones) and the modules to save;
the trainer reads back a typed :class:`~skrl_isaac.agents.torch.tracking.TrackingSummary`.

``writes_files=False`` keeps the accumulation (and the summaries) but writes nothing: the switch a
process that is not the writing one (rank 0) sets.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping, Sequence

import torch

from skrl_isaac.agents.torch.tracking import Tracker, TrackingSummary
from skrl_isaac.utils import distributed
from skrl_isaac.utils.files import atomic_torch_save
from skrl_isaac.utils.stamps import run_name

EXPERIMENT_DEFAULT_CONFIG: dict[str, Any] = {
    "directory": "",                # experiment's parent directory ("" -> ./runs)
    "experiment_name": "",          # experiment name ("" -> <%y-%m-%d_%H-%M-%S-%f>_<AgentClass>)
    "write_interval": 250,          # TensorBoard writing interval (timesteps); <= 0 disables it
    "checkpoint_interval": 1000,    # interval for checkpoints (timesteps); <= 0 disables them
    "checkpoint_policy_only": True,  # checkpoint the policy only (True) or every model (False)
    "best_window": 100,             # mean return of this many last finished episodes: best_<model>.pt's measure and
                                    # TensorBoard's "Reward / Total reward (last <n> episodes)" (<= 0: off)
}


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Typed view of ``cfg["experiment"]`` (the spec's keys and ``best_window``)."""

    directory: str
    """Parent folder of the run folder (``""``: ``./runs``)."""
    experiment_name: str
    """Name of the run folder (``""``: ``<%y-%m-%d_%H-%M-%S-%f>_<AgentClass>``)."""
    write_interval: int
    """TensorBoard write interval in timesteps (<= 0: no TensorBoard)."""
    checkpoint_interval: int
    """Checkpoint interval in timesteps (<= 0: no checkpoints)."""
    checkpoint_policy_only: bool
    """Checkpoint the policy (and its input preprocessor) only, or every model and the agent state."""
    best_window: int
    """``best_<model>.pt`` tracks the best mean return over this many last finished episodes (<= 0: off)."""

    @classmethod
    def from_cfg(cls, experiment: Mapping[str, Any]) -> "ExperimentConfig":
        return cls(directory=str(experiment["directory"] or ""),
                   experiment_name=str(experiment["experiment_name"] or ""),
                   write_interval=int(experiment["write_interval"]),
                   checkpoint_interval=int(experiment["checkpoint_interval"]),
                   checkpoint_policy_only=bool(experiment["checkpoint_policy_only"]),
                   best_window=int(experiment.get("best_window", 0)))


class TrainingDiverged(RuntimeError):
    """A loss or a parameter became NaN/inf: training stops, the newest checkpoint is the last good one."""


def window_return_tag(window: int) -> str:
    """The TensorBoard tag of the mean return of the last ``window`` finished episodes (``best_window``)."""
    return f"Reward / Total reward (last {int(window)} episodes)"


class RunRecorder:
    """Run folder, TensorBoard writer, tracker flushes, checkpoint/best files and the divergence check.

    :param experiment: the agent's ``cfg["experiment"]`` (merged with :data:`EXPERIMENT_DEFAULT_CONFIG`)
    :param agent_name: the agent's class name (the default run name ends with it)
    :param device: device of the tracker's accumulators (the environment's)
    :param models: the agent's models by name (checked for NaN/inf before every write)
    :param writes_files: False: accumulate and summarize, write no file (a process other than rank 0)
    """

    def __init__(self, experiment: Mapping[str, Any], agent_name: str, device: torch.device,
                 models: Mapping[str, torch.nn.Module | None], writes_files: bool = True) -> None:
        self.cfg = ExperimentConfig.from_cfg(experiment)
        self.device = device
        self.models = models
        self.writes_files = writes_files
        from skrl_isaac.utils.run_folder import validate_experiment_name

        directory = self.cfg.directory or os.path.join(os.getcwd(), "runs")
        name = validate_experiment_name(self.cfg.experiment_name)  # a plain folder name: no run escapes its folder
        self.experiment_dir = os.path.join(directory, name or run_name(agent_name))
        self.writer = None
        # an experiment tracker (W&B, MLflow: skrl_isaac.trackers) that the writer mirrors every scalar to
        self.experiment_tracker: Any = None
        self.tracker: Tracker | None = None
        self.last_summary: TrackingSummary | None = None
        self.last_written_timestep = 0  # timestep of the last TensorBoard write (a resume sets its own)
        self.best_return = -float("inf")
        self.timestep = 0  # timestep of the step being recorded (names the first NaN/inf of a loss)
        self._first_nonfinite: dict[str, torch.Tensor] = {}  # loss tag -> first timestep it was NaN/inf (-1: never)

    def open(self, num_envs: int) -> None:
        """Create the run folder, the writer and the tracker (once; again after :meth:`close` for the writer)."""
        if self.writes_files and (self.cfg.write_interval > 0 or self.cfg.checkpoint_interval > 0):
            os.makedirs(self.experiment_dir, exist_ok=True)
        if self.cfg.write_interval > 0 and self.writer is None:
            if self.writes_files and self.experiment_tracker is not None:
                from skrl_isaac.trackers import MirroredSummaryWriter

                self.writer = MirroredSummaryWriter(log_dir=self.experiment_dir, tracker=self.experiment_tracker)
            elif self.writes_files:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(log_dir=self.experiment_dir)
            if self.tracker is None:
                # the last-episodes window: the best checkpoint's measure, and the smoothed return curve
                self.tracker = Tracker(num_envs, self.device, window=self.cfg.best_window)

    def attach_experiment_tracker(self, tracker: Any) -> None:
        """Mirror every scalar written from now on to ``tracker`` (W&B, MLflow: :mod:`skrl_isaac.trackers`); an open
        writer is replaced by a mirrored one in the same folder."""
        self.experiment_tracker = tracker
        if self.writer is not None and self.writes_files:
            from skrl_isaac.trackers import MirroredSummaryWriter

            self.writer.close()
            self.writer = MirroredSummaryWriter(log_dir=self.experiment_dir, tracker=tracker)

    # -- per step (on the device) ---------------------------------------------------------------
    def track(self, tag: str, value: torch.Tensor | float) -> None:
        """Accumulate ``value`` under ``tag``; a ``Loss /`` tensor also feeds the divergence check."""
        if self.tracker is not None:
            self.tracker.add(tag, value)
        if tag.startswith("Loss /") and isinstance(value, torch.Tensor):
            first = self._first_nonfinite.get(tag)
            if first is None:
                first = self._first_nonfinite[tag] = torch.full((), -1, dtype=torch.long, device=value.device)
            bad = ~torch.isfinite(value.detach()).all()
            first.copy_(torch.where(bad & (first < 0), self.timestep, first))

    def track_stats(self, tag: str, values: torch.Tensor) -> None:
        """Accumulate ``"<tag> (max)"``, ``"(min)"`` and ``"(mean)"`` of ``values`` (reduced on the device)."""
        if self.tracker is not None:
            self.tracker.add_stats(tag, values)

    def record_step(self, rewards: torch.Tensor, dones: torch.Tensor, timestep: int) -> None:
        """Advance the episode statistics by one environment step (``timestep`` is 0-based)."""
        self.timestep = timestep + 1
        if self.tracker is not None:
            self.tracker.record_step(rewards, dones)

    # -- at the interval boundaries (one host read each) ------------------------------------------
    def check_finite(self, timestep: int) -> None:
        """Raise :class:`TrainingDiverged` if a tracked loss or a model parameter became NaN/inf (under torchrun:
        on any rank; every rank raises at the same write)."""
        tags = list(self._first_nonfinite)
        params = [(n, p) for n, m in self.models.items() if m is not None for p in m.parameters()]
        flags = [self._first_nonfinite[t].to(self.device) for t in tags]
        flags += [(~torch.isfinite(p.detach()).all()).to(torch.long) for _, p in params]  # 1: not finite
        if not flags:
            return
        flags = torch.stack(flags)
        if distributed.is_initialized():  # under torchrun a NaN on any rank stops every rank at the same write
            import torch.distributed as dist

            dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        values = flags.tolist()
        problems = [f"{tag!r} became NaN/inf at timestep {step}" for tag, step in zip(tags, values) if step >= 0]
        bad_models = sorted({n for (n, _), bad in zip(params, values[len(tags):]) if bad})
        if bad_models:
            problems.append(f"parameters of {bad_models} are NaN/inf")
        if problems:
            from skrl_isaac.utils.run_folder import newest_complete_checkpoint

            folder = os.path.join(self.experiment_dir, "checkpoints")
            newest = newest_complete_checkpoint(folder) or newest_complete_checkpoint(folder, "policy")
            kept = (f"the newest checkpoint, {newest}, is the last good one" if newest else
                    "no checkpoint was written before it")
            raise TrainingDiverged(f"training stopped at timestep {timestep}: " + "; ".join(problems) + f"; {kept}")

    def write_tracking(self, timestep: int) -> TrackingSummary | None:
        """Flush the tracker, write its values at ``timestep`` and return the summary (None: no tracking).

        The summary's ``new_best`` says the window mean beat every earlier one (checkpoints on): the
        caller then writes the best checkpoint.
        """
        if self.tracker is None:
            return None
        self.check_finite(timestep)
        summary = self.tracker.flush()
        if self.writer is not None:
            for tag, value in summary.scalars.items():
                self.writer.add_scalar(tag, value, global_step=timestep)
            if summary.window_mean is not None:  # rl_games' rewards/step: the mean of the last finished episodes
                self.writer.add_scalar(window_return_tag(self.cfg.best_window), summary.window_mean,
                                       global_step=timestep)
            self.writer.flush()
        new_best = (self.cfg.checkpoint_interval > 0 and summary.window_mean is not None
                    and summary.window_mean > self.best_return)
        if new_best:
            self.best_return = summary.window_mean
        self.last_summary = dataclasses.replace(summary, timestep=timestep, new_best=new_best)
        self.last_written_timestep = timestep
        return self.last_summary

    def write_checkpoint(self, timestep: int | str, modules: Mapping[str, torch.nn.Module | None],
                         policy_names: Sequence[str], save_agent: Callable[[str], str] | None = None) -> list[str]:
        """Write ``checkpoints/<timestep>_<name>.pt`` (a plain ``state_dict``, atomically) for the modules
        in ``policy_names`` or, with ``checkpoint_policy_only=False``, for every module and, through
        ``save_agent(path)``, ``<timestep>_agent.pt``. Return the written paths."""
        if isinstance(timestep, int):
            self.check_finite(timestep)
        if not self.writes_files:
            return []
        folder = os.path.join(self.experiment_dir, "checkpoints")
        paths = []
        for name, module in modules.items():
            if module is not None and (not self.cfg.checkpoint_policy_only or name in policy_names):
                path = os.path.join(folder, f"{timestep}_{name}.pt")
                atomic_torch_save(module.state_dict(), path)
                paths.append(path)
        if save_agent is not None and not self.cfg.checkpoint_policy_only:
            paths.append(save_agent(os.path.join(folder, f"{timestep}_agent.pt")))
        return paths

    def close(self) -> None:
        """Flush and close the writer (a later write reopens its file)."""
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
