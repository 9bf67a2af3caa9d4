"""``train_isaac.py``: train or play an agent on an Isaac Gym task or the embedded suite (hydra app).

Import order: this module imports no torch. :func:`main` checks the command line, decides the physics engine
from it and the config files, and imports ``isaacgym`` first when the engine resolves to Isaac Gym (its
``gymdeps`` check refuses a process that imported torch), as IsaacGymEnvs' ``train.py`` does.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from skrl_isaac.cli.errors import CLIError, optional_int
from skrl_isaac.cli.resume import resume_config, run_folder

CONFIG_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cfg")


def _optional_bool(cfg: DictConfig, key: str) -> bool | None:
    value = cfg.get(key)
    if value in ("", None):
        return None
    if not isinstance(value, bool):
        raise CLIError(f"{key}={value!r} is not valid: expected True or False")
    return value


def _device(value: str, key: str) -> str:
    import torch

    if value == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError):
        raise CLIError(f"{key}={value!r} is not a device: use auto, cpu, cuda or cuda:<index>") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CLIError(f"{key}={value!r}: CUDA is not available on this machine; use {key}=cpu or {key}=auto")
    return str(device)


def validate(cfg: DictConfig) -> dict[str, Any]:
    """Check the command-line values before any work; return the derived settings."""
    settings: dict[str, Any] = {
        "num_envs": optional_int(cfg, "num_envs", 1),
        "max_iterations": optional_int(cfg, "max_iterations", 1),
        "test_timesteps": optional_int(cfg, "test_timesteps", 1),
        "write_interval": optional_int(cfg, "write_interval", None),  # <= 0 disables
        "checkpoint_interval": optional_int(cfg, "checkpoint_interval", None),
        "memory_export": _optional_bool(cfg, "memory_export"),
        "print_episodes": _optional_bool(cfg, "print_episodes"),
    }
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise CLIError(f"seed={seed!r} is not valid: expected an integer >= 0")
    for key in ("test", "headless", "torch_deterministic"):
        if not isinstance(cfg.get(key), bool):
            raise CLIError(f"{key}={cfg.get(key)!r} is not valid: expected True or False")
    fmt = cfg.get("memory_export_format")
    if fmt not in ("", None, "pt", "np", "csv"):
        raise CLIError(f"memory_export_format={fmt!r} is not valid: expected pt, np or csv")
    engine = cfg.get("physics_engine")
    if engine not in ("auto", "physx", "flex", "mujoco", "mujoco_warp"):
        raise CLIError(f"physics_engine={engine!r} is not valid: expected auto, physx, flex, mujoco or mujoco_warp")
    if engine == "mujoco_warp":
        from skrl_isaac_envs.base.warp_physics import INSTALL_COMMAND, mujoco_warp_available

        if not mujoco_warp_available():
            raise CLIError(f"physics_engine=mujoco_warp needs the mujoco-warp and warp-lang packages: {INSTALL_COMMAND}")
    checkpoint = cfg.get("checkpoint") or ""
    if cfg.test and not checkpoint:
        raise CLIError("test=True needs checkpoint=<path to a *_policy.pt file>, e.g. "
                       "checkpoint=runs/<experiment>/checkpoints/<timestep>_policy.pt")
    if checkpoint and not os.path.isfile(checkpoint):
        raise CLIError(f"checkpoint={checkpoint!r}: no such file")
    if cfg.get("export"):
        from skrl_isaac.models.torch.export import parse_formats

        if not cfg.test:
            raise CLIError("export= needs test=True checkpoint=<path to a *_policy.pt file>")
        try:
            settings["export"] = parse_formats(cfg.export)
        except ValueError as e:
            raise CLIError(str(e)) from None
    settings["rl_device"] = _device(cfg.rl_device, "rl_device")
    settings["sim_device"] = _device(cfg.sim_device, "sim_device")
    from skrl_isaac.cli.watch import validate_watch

    validate_watch(cfg, settings)
    return settings


def embedded_engine(engine: str, rl_device: str) -> str:
    """The embedded suite's simulator for ``physics_engine``: ``auto`` -> ``mujoco_warp`` when the rl_device is
    CUDA and ``mujoco_warp`` imports, else ``mujoco``."""
    if engine in ("mujoco", "mujoco_warp"):
        return engine
    if str(rl_device).startswith("cuda"):
        from skrl_isaac_envs.base.warp_physics import mujoco_warp_available

        if mujoco_warp_available():
            return "mujoco_warp"
    return "mujoco"


def _hydra_overrides() -> tuple[list[str], dict[str, Any]]:
    """The command line's overrides and the config group choices of the running hydra app."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return [], {}
    hydra_cfg = HydraConfig.get()
    return list(hydra_cfg.overrides.task), dict(hydra_cfg.runtime.choices)


def _check_resume_checkpoint(checkpoint: str) -> None:
    if not os.path.isfile(checkpoint):
        raise CLIError(f"checkpoint={checkpoint!r}: no such file")
    if not checkpoint.endswith("_agent.pt"):
        raise CLIError(f"checkpoint={checkpoint!r}: training resumes from a <timestep>_agent.pt file (written with "
                       "checkpoint_policy_only=False, the CLI's default); to play a policy file add test=True")


def train_configs_for(task: str) -> list[str]:
    """The shipped train configs whose ``task`` is ``task``."""
    import yaml

    folder = os.path.join(CONFIG_PATH, "train")
    names = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".yaml"):
            with open(os.path.join(folder, name)) as f:
                if (yaml.safe_load(f) or {}).get("task") == task:
                    names.append(name[: -len(".yaml")])
    return names


def _check_train_config_task(cfg: DictConfig, train_name: str | None) -> None:
    """A train config made for another task is an error unless ``force_train_config=True``."""
    intended = cfg.train.get("task")
    if intended in (None, "") or intended == cfg.task.name or cfg.get("force_train_config") is True:
        return
    if not isinstance(cfg.get("force_train_config"), bool):
        raise CLIError(f"force_train_config={cfg.get('force_train_config')!r} is not valid: expected True or False")
    choices = ", ".join(f"train={n}" for n in train_configs_for(cfg.task.name)) or "none shipped"
    raise CLIError(f"train={train_name or '<config>'} is for task={intended}, not task={cfg.task.name}; use a train "
                   f"config for {cfg.task.name} ({choices}), or add force_train_config=True to run it anyway")


def _check_new_run_folder(cfg: DictConfig) -> None:
    """``experiment=<name>`` of an existing run: refuse (a resume goes through ``checkpoint=``)."""
    if not cfg.get("experiment"):
        return
    directory = OmegaConf.select(cfg, "train.agent.experiment.directory") or "runs"
    folder = os.path.join(directory, cfg.experiment)
    if os.path.isdir(folder) and os.listdir(folder):
        raise CLIError(f"experiment={cfg.experiment}: {folder} already holds a run; to continue it, resume with "
                       f"checkpoint={folder}/checkpoints/<timestep>_agent.pt, or choose a new experiment name")


def run(cfg: DictConfig) -> Any:
    """Build the environment and the agent described by ``cfg``, then train, resume, play or export
    (:mod:`skrl_isaac.cli.modes`).

    A resume (``checkpoint=<t>_agent.pt`` without ``test=True``) runs with the run's own ``config.yaml``,
    the command line's overrides on top.
    """
    overrides, choices = _hydra_overrides()
    resume = bool(cfg.checkpoint) and not cfg.test
    if not resume:
        from skrl_isaac.utils.run_folder import ExperimentNameError, validate_experiment_name

        try:  # a plain folder name inside runs/ (hydra hands numbers over as numbers)
            cfg.experiment = validate_experiment_name(cfg.get("experiment"))
        except ExperimentNameError as e:
            raise CLIError(str(e)) from None
    if resume:
        _check_resume_checkpoint(cfg.checkpoint)
        cfg = resume_config(cfg, overrides, choices)
    elif not cfg.test:
        _check_new_run_folder(cfg)
    _check_train_config_task(cfg, cfg.get("train_config") or choices.get("train"))
    settings = validate(cfg)
    import torch

    from skrl_isaac.cli import distributed as cli_distributed
    from skrl_isaac.envs.torch import load_embedded_env, wrap_env
    from skrl_isaac.utils import set_seed

    # under torchrun: rank r trains on cuda:LOCAL_RANK (CUDA) and joins the others before any work
    for key in ("rl_device", "sim_device"):
        settings[key] = cli_distributed.rank_device(settings[key], key)
    info = cli_distributed.join(settings["rl_device"])
    set_seed(cfg.seed, deterministic=cfg.torch_deterministic)  # (rank r: seed + r)
    device = torch.device(settings["rl_device"])
    train_cfg = OmegaConf.to_container(cfg.train, resolve=True)
    task_cfg = OmegaConf.to_container(cfg.task, resolve=True)
    if settings["max_iterations"] is not None and not cfg.test:
        per_iteration, source = steps_per_iteration(train_cfg)
        timesteps = settings["max_iterations"] * per_iteration
        train_cfg.setdefault("trainer", {})["timesteps"] = timesteps
        if info.is_main:
            print(f"[skrl_isaac] max_iterations={settings['max_iterations']}: {settings['max_iterations']} iterations "
                  f"x {per_iteration} timesteps ({source}) = {timesteps} timesteps", flush=True)

    from skrl_isaac.envs.torch import isaacgymenvs_available, load_isaacgymenvs_env

    use_isaacgym = cfg.physics_engine in ("physx", "flex") or (cfg.physics_engine == "auto" and isaacgymenvs_available())
    if use_isaacgym and not isaacgymenvs_available():
        raise CLIError(f"physics_engine={cfg.physics_engine} needs Isaac Gym Preview 4 (NVIDIA's developer site: "
                       "pip install -e isaacgym/python) and IsaacGymEnvs (its GitHub repository: pip install -e .); "
                       "use physics_engine=auto or mujoco for the embedded suite")

    experiment = train_cfg["agent"].setdefault("experiment", {})
    if resume:
        run_dir = run_folder(cfg.checkpoint)
        experiment["directory"], experiment["experiment_name"] = os.path.dirname(run_dir), os.path.basename(run_dir)
    if cfg.test:
        experiment["write_interval"] = 0
        experiment["checkpoint_interval"] = 0
    else:
        for key in ("write_interval", "checkpoint_interval"):
            if settings[key] is not None:
                experiment[key] = settings[key]
    memory_cfg = train_cfg.setdefault("memory", {})
    if settings["memory_export"] is not None:
        memory_cfg["export"] = settings["memory_export"]
    if cfg.memory_export_format:
        memory_cfg["export_format"] = cfg.memory_export_format

    rl_games_file = bool(cfg.test) and str(cfg.checkpoint or "").endswith(".pth")
    if rl_games_file:  # an rl_games checkpoint: build the policy with its layout and input normalization
        from skrl_isaac.interop.rl_games import rl_games_policy_state

        try:
            pieces = rl_games_policy_state(cfg.checkpoint)
        except (ValueError, KeyError, OSError) as e:
            raise CLIError(f"checkpoint={cfg.checkpoint!r}: {e}") from None
        train_cfg.setdefault("models", {}).setdefault("policy", {})["hiddens"] = pieces["hiddens"]
        if pieces["state_preprocessor"] is not None:
            train_cfg["agent"]["state_preprocessor"] = "RunningStandardScaler"

    if use_isaacgym:
        from skrl_isaac.cli.watch import isaacgym_video_overrides

        task_overrides = [o for o in overrides if o.startswith(("task.", "physics_engine="))]
        video_overrides = isaacgym_video_overrides(cfg, settings)
        task = load_isaacgymenvs_env(cfg.task.name, num_envs=settings["num_envs"],
                                     headless=cfg.headless and not video_overrides,
                                     sim_device=settings["sim_device"], rl_device=settings["rl_device"],
                                     seed=cfg.seed,
                                     overrides=task_overrides + video_overrides)
    else:
        engine = embedded_engine(cfg.physics_engine, settings["rl_device"])
        threads = cli_distributed.mujoco_threads(task_cfg) if engine == "mujoco" else None
        if threads is not None and info.is_main:
            print(f"[skrl_isaac] {info.world_size} ranks: {threads[0]} MuJoCo thread(s) per rank ({threads[1]})",
                  flush=True)
        try:
            task = load_embedded_env(task_name=cfg.task.name, num_envs=settings["num_envs"],
                                     device=settings["rl_device"], seed=cfg.seed, cfg=task_cfg, headless=cfg.headless,
                                     physics_engine=engine)
        except ValueError as e:  # a bad task.* value (e.g. task.env.episodeLength=0)
            raise CLIError(f"task {cfg.task.name}: {e}") from None
    env = wrap_env(task)
    from skrl_isaac.builders import build_agent

    agent = build_agent(train_cfg, env, device, cfg.task.name, experiment="" if resume else cfg.experiment)

    from skrl_isaac.cli import modes

    built = modes.Run(cfg=cfg, settings=settings, env=env, task=task, agent=agent, device=device,
                      trainer_cfg=dict(train_cfg.get("trainer", {})), choices=choices,
                      backend="IsaacGymEnvs" if use_isaacgym else "embedded MuJoCo suite" + (
                          ", MuJoCo Warp" if getattr(task, "physics_engine", "") == "mujoco_warp" else ""))
    if cfg.test:
        modes.load_checkpoint(built, rl_games_file)
        return modes.export(built) if settings.get("export") else modes.play(built)
    return modes.resume(built) if resume else modes.train(built)


def steps_per_iteration(train_cfg: dict) -> tuple[int, str]:
    """Timesteps (environment steps of all envs) in one ``max_iterations`` iteration, and the key that sets it:
    PPO's ``train.agent.rollouts`` (one rollout per update, IsaacGymEnvs' epoch), the off-policy agents'
    ``train.horizon``."""
    agent_cfg = train_cfg["agent"]
    if agent_cfg.get("class") == "PPO":
        return int(agent_cfg.get("rollouts", 16)), "train.agent.rollouts"
    horizon = train_cfg.get("horizon")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise CLIError(f"max_iterations= needs train.horizon (environment steps per iteration, an integer >= 1) "
                       f"for {agent_cfg.get('class')}, got {horizon!r}; e.g. +train.horizon=16")
    return horizon, "train.horizon"


def _program() -> str:
    """How this CLI was started, for the commands it prints (``python train_isaac.py`` or the console script)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "train_isaac.py"
    return f"python {name}" if name.endswith(".py") else name


def interrupted_message(e: Any) -> str:
    """The one line printed when training stops on Ctrl-C / SIGTERM: where it stopped and how to resume."""
    import signal

    head = f"[skrl_isaac] {signal.Signals(e.signum).name} at timestep {e.timestep}"
    agent_file = next((p for p in e.checkpoints if p.endswith("_agent.pt")), None)
    if agent_file:
        return f"{head}: checkpoint written; resume with: {_program()} checkpoint={agent_file}"
    if e.checkpoints:
        return f"{head}: policy checkpoint written ({e.checkpoints[0]}); no agent file to resume from " \
               "(checkpoint_policy_only=True)"
    return f"{head}: no checkpoint written (checkpoint_interval <= 0)"


@hydra.main(version_base=None, config_path=CONFIG_PATH, config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    from skrl_isaac.agents.torch.base import TrainingDiverged
    from skrl_isaac.builders import ConfigError
    from skrl_isaac.models.torch.base import CheckpointError

    from skrl_isaac.trainers.torch.interrupt import TrainingInterrupted
    from skrl_isaac.utils.run_folder import RunFolderLocked

    try:
        run(cfg)
    except TrainingInterrupted as e:
        print(interrupted_message(e), flush=True)
        sys.exit(e.exit_code)
    except (CLIError, CheckpointError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
    except RunFolderLocked as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:  # a full disk, a read-only folder: the file, the OS error, and what was kept
        print(f"error: {e}; {kept_checkpoint(cfg)}", file=sys.stderr)
        sys.exit(74)
    except RuntimeError as e:  # under torchrun: a collective failed because another rank stopped
        message = lost_rank_message(e)
        if message is None:
            raise
        print(message, file=sys.stderr, flush=True)
        sys.exit(4)


def kept_checkpoint(cfg: DictConfig) -> str:
    """What a failed run kept: its newest complete agent checkpoint, or that there is none."""
    from skrl_isaac.utils.run_folder import newest_complete_checkpoint

    if cfg.get("checkpoint") and not cfg.get("test"):
        folder = os.path.dirname(os.path.abspath(cfg.checkpoint))
    else:
        directory = OmegaConf.select(cfg, "train.agent.experiment.directory") or "runs"
        folder = os.path.join(directory, str(cfg.get("experiment") or ""), "checkpoints")
    newest = newest_complete_checkpoint(folder) if cfg.get("experiment") or cfg.get("checkpoint") else None
    return f"kept: {newest}" if newest else "no complete checkpoint was kept"


def lost_rank_message(e: BaseException) -> str | None:
    """The one line a rank prints when a collective failed under torchrun (another rank died or hung past
    the collective timeout); None when no process group is running (the error is not about the ranks)."""
    from skrl_isaac.utils import distributed

    if not distributed.is_initialized():
        return None
    info = distributed.process_info()
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return (f"error: rank {info.rank} of {info.world_size}: another rank of the run stopped or stopped answering, "
            f"so a collective failed ({first[:200]}); torchrun's report names the lost rank. Every checkpoint on "
            f"disk loads: resume with checkpoint=<run>/checkpoints/<timestep>_agent.pt")


def main() -> None:
    """Console-script entry point (``skrl-isaac-train``), same CLI as ``python train_isaac.py``."""
    from skrl_isaac.cli.argv import check_argv
    from skrl_isaac.cli.engine import import_isaacgym_first

    try:
        check_argv(sys.argv[1:])
        import_isaacgym_first(sys.argv[1:])  # Isaac Gym refuses a process that imported torch first
        _hydra_main()
    except CLIError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Ctrl-C outside the training loop (which checkpoints and exits 130 itself)
        print("\n[skrl_isaac] SIGINT: stopped before training began or while playing; no checkpoint written",
              file=sys.stderr, flush=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
