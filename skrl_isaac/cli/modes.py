"""The CLI's modes once the environment and the agent are built: train, resume, play, export."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

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


def train(run: Run, config_name: str = "config.yaml", sequential: Any = None) -> Any:
    """Write the run's config, then train (from the resumed timestep when ``sequential`` was resumed)."""
    cfg, agent = run.cfg, run.agent
    sequential = sequential or trainer(run)
    if is_main():  # under torchrun rank 0 writes the run folder and says what runs
        os.makedirs(agent.experiment_dir, exist_ok=True)
        OmegaConf.save(with_train_config(cfg, run.choices), os.path.join(agent.experiment_dir, config_name),
                       resolve=True)
        print(f"[skrl_isaac] task {cfg.task.name} ({run.backend}), {envs_line(run.env.num_envs)} on {run.device}, "
              f"agent {type(agent).__name__}, {run.trainer_cfg.get('timesteps')} timesteps -> {agent.experiment_dir}",
              flush=True)
    sequential.train()
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
    return train(run, f"config_resumed_{start}.yaml", sequential)


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
    return trainer(run, timesteps=steps, print_episodes=bool(settings["print_episodes"])).eval()


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
