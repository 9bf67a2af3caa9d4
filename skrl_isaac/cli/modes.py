"""The CLI's modes once the environment and the agent are built: train, resume, play, export."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

from skrl_isaac.cli import watch
from skrl_isaac.cli.distributed import envs_line
from skrl_isaac.cli.errors import CLIError
from skrl_isaac.cli.resume import undo_new_files, with_train_config
from skrl_isaac.utils.distributed import is_main


@dataclasses.dataclass
class Run:
    """What every mode works on: the config, the checked settings, the wrapped env and the agent."""

    cfg: DictConfig
    settings: dict[str, Any]
    env: Any
    task: Any
    agent: Any
    device: Any
    trainer_cfg: dict[str, Any]
    choices: dict[str, Any]
    backend: str


def trainer(run: Run, **cfg: Any) -> Any:
    """The SequentialTrainer; a bad ``train.trainer`` value (e.g. ``rollout_torch_threads=0``) as a CLIError."""
    from skrl_isaac.trainers.torch import SequentialTrainer

    try:
        return SequentialTrainer(env=run.env, agents=run.agent, cfg={**run.trainer_cfg, **cfg})
    except (ValueError, KeyError) as e:
        raise CLIError(f"train.trainer: {e}") from None


def train(run: Run, config_name: str = "config.yaml", sequential: Any = None, tracker: Any = None) -> Any:
    """Write the run's config, then train (from the resumed timestep when ``sequential`` was resumed), with the
    videos, viewer and tracker asked for; ``curves.png`` at the end, also after Ctrl-C or an error."""
    from skrl_isaac.utils.run_folder import RunFolderLock, remove_stale_temp_files

    agent = run.agent
    sequential = sequential or trainer(run)
    if not is_main():  # under torchrun rank 0 writes the run folder, videos and tracker, and says what runs
        sequential.train()
        return agent
    os.makedirs(agent.experiment_dir, exist_ok=True)
    lock = RunFolderLock(agent.experiment_dir).acquire()  # held for the run's lifetime: a second run is refused
    try:
        for folder in (agent.experiment_dir, os.path.join(agent.experiment_dir, "checkpoints")):
            remove_stale_temp_files(folder, min_age_s=0)  # a killed run's half-written files (no writer is alive)
        return _train_locked(run, sequential, config_name, tracker)
    finally:
        lock.release()


def _train_locked(run: Run, sequential: Any, config_name: str, tracker: Any) -> Any:
    cfg, agent = run.cfg, run.agent
    OmegaConf.save(with_train_config(cfg, run.choices), os.path.join(agent.experiment_dir, config_name), resolve=True)
    print(f"[skrl_isaac] task {cfg.task.name} ({run.backend}), {envs_line(run.env.num_envs)} on {run.device}, "
          f"agent {type(agent).__name__}, {run.trainer_cfg.get('timesteps')} timesteps -> {agent.experiment_dir}",
          flush=True)
    if tracker is None:
        tracker = watch.open_tracker(run, None)
    close_hooks = watch.add_train_hooks(run, sequential, tracker)
    try:
        sequential.train()
    finally:
        close_hooks()
        watch.write_run_curves(run)
        watch.close_tracker(tracker, run)
    return agent


def resume(run: Run) -> Any:
    """Restore ``<t>_agent.pt`` (a failure leaves the run folder as it was), then train on from ``t``."""
    sequential = trainer(run)
    with undo_new_files(run.agent.experiment_dir):
        try:
            start = sequential.resume(run.cfg.checkpoint)
        except ValueError as e:
            raise CLIError(str(e)) from None
    if is_main():
        print(f"[skrl_isaac] resuming {run.agent.experiment_dir} at timestep {start}", flush=True)
    tracker = None
    if run.settings.get("tracker") and is_main():  # the tracker run this checkpoint belongs to goes on
        from skrl_isaac.agents.torch.state import read_state_file

        tracker = watch.open_tracker(run, read_state_file(run.cfg.checkpoint))
    return train(run, f"config_resumed_{start}.yaml", sequential, tracker)


def load_checkpoint(run: Run, rl_games_file: bool) -> None:
    """Load the policy to play or export: an rl_games ``.pth`` or ``<prefix>_policy.pt`` (+ its normalizer)."""
    if rl_games_file:
        from skrl_isaac.interop.rl_games import apply_rl_games_checkpoint

        try:
            apply_rl_games_checkpoint(run.agent, run.cfg.checkpoint)
        except ValueError as e:
            raise CLIError(str(e)) from None
    else:
        from skrl_isaac.cli.play import load_policy

        load_policy(run.agent, run.cfg.checkpoint)


def play(run: Run) -> list[tuple[float, int]]:
    """Play the policy deterministically; one summary line (per-episode lines with ``print_episodes=True``)."""
    settings = run.settings
    steps = settings["test_timesteps"] or 2 * int(getattr(run.task, "max_episode_length", 1000))
    sequential = trainer(run, timesteps=steps, print_episodes=bool(settings["print_episodes"]))
    close_hooks = watch.add_play_hooks(run, sequential, steps)
    try:
        return sequential.eval()
    finally:
        close_hooks()


def export(run: Run) -> dict[str, str]:
    """Write ``<run>/exported/policy.onnx`` / ``policy.pt`` and exit without playing (and say so)."""
    from skrl_isaac.models.torch.export import export_policy

    cfg, agent, formats = run.cfg, run.agent, run.settings["export"]
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(cfg.checkpoint))), "exported")
    policy_name = agent.policy_checkpoint_names[0]
    print(f"[skrl_isaac] export={cfg.export}: writing {' and '.join(formats)} to {folder}, then exiting without "
          "playing (leave export= out to play)", flush=True)
    paths = export_policy(agent.models[policy_name], agent.checkpoint_modules.get("state_preprocessor"), folder,
                          formats, greedy=policy_name == "q_network")
    for fmt, path in paths.items():
        print(f"[skrl_isaac] exported {fmt}: {path}", flush=True)
    return paths
