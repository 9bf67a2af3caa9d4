"""Environment loaders: Isaac Gym Preview 2 (``rlgpu``), Preview 3/4 (IsaacGymEnvs) and the embedded suite.

Isaac Gym must be imported before torch (its ``gymdeps`` check raises otherwise), so with a
real Isaac Gym ``import isaacgym`` first, then ``skrl_isaac``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
from typing import Any, Iterator, Sequence

from skrl_isaac import logger

ISAACGYM_HELP = ("Isaac Gym is not installed. Download Isaac Gym Preview 4 from NVIDIA's developer site "
                 "(https://developer.nvidia.com/isaac-gym), unpack it and run `pip install -e isaacgym/python`. "
                 "It is not on PyPI; without it use the embedded suite: load_embedded_env(task_name=...)")
ISAACGYMENVS_HELP = ("IsaacGymEnvs is not installed. Clone https://github.com/isaac-sim/IsaacGymEnvs (formerly "
                     "NVIDIA-Omniverse/IsaacGymEnvs) and run `pip install -e .` in it (after installing Isaac Gym "
                     "Preview 4), or pass isaacgymenvs_path=<path to the isaacgymenvs package folder>")


def isaacgymenvs_available() -> bool:
    """Whether ``isaacgym`` and ``isaacgymenvs`` are importable (checked without importing them)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("isaacgym", "isaacgymenvs"))
    except (ImportError, ValueError):
        return False


def _import_isaacgym() -> Any:
    try:
        import isaacgym  # noqa: F401
    except ImportError as e:
        if "before" in str(e) and "import" in str(e):  # gymdeps: "PyTorch was imported before isaacgym modules"
            raise ImportError(f"{e} -- import isaacgym before torch and skrl_isaac: put `import isaacgym` "
                              "at the top of your script") from e
        raise ImportError(f"{ISAACGYM_HELP} ({e})") from e
    return sys.modules["isaacgym"]


def _print_cfg(d: dict, indent: int = 0) -> None:
    for key, value in d.items():
        if isinstance(value, dict):
            print("  |   " * indent + f"  |-- {key}")
            _print_cfg(value, indent + 1)
        else:
            print("  |   " * indent + f"  |-- {key}: {value}")


@contextlib.contextmanager
def _scoped(argv: list[str] | None = None, cwd: str | None = None, path: str | None = None) -> Iterator[None]:
    """Temporarily replace ``sys.argv``, change the working directory and prepend ``path`` to ``sys.path``."""
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    if argv is not None:
        sys.argv = argv
    if cwd is not None:
        os.chdir(cwd)
    added = path is not None and path not in sys.path
    if added:
        sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        if added and path in sys.path:
            sys.path.remove(path)


# ------------------------------------------------------------------------------------------ preview 2

def _flag_value(argv: Sequence[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag:
            return argv[i + 1] if i + 1 < len(argv) else ""
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def load_isaacgym_env_preview2(task_name: str = "", num_envs: int | None = None, headless: bool | None = None,
                               cli_args: Sequence[str] = [], isaacgymenvs_path: str = "", show_cfg: bool = True) -> Any:
    """Load an Isaac Gym Preview 2 task (``rlgpu``: ``python/rlgpu`` beside the ``isaacgym`` package).

    Import order: Isaac Gym refuses a process that imported torch first (its ``gymdeps`` check), so put
    ``import isaacgym`` at the top of your script, before torch and ``skrl_isaac``; otherwise this raises
    ``ImportError`` saying so. (``train_isaac.py`` does it for you when the engine resolves to Isaac Gym.)

    As skrl 0.x: the command line's ``--task``/``--num_envs``/``--headless`` win over the arguments
    (with a warning); ``cli_args`` are appended. ``sys.argv`` is only changed during the call.

    :param task_name: task name (e.g. ``"Ant"``); the command line's ``--task`` wins
    :param num_envs: number of environments (None: the task config's)
    :param headless: no viewer (None: rlgpu's default, a viewer)
    :param cli_args: extra rlgpu command-line arguments, e.g. ``["--seed", "1"]``
    :param isaacgymenvs_path: the ``rlgpu`` folder (default: ``<isaacgym package>/../rlgpu``)
    :param show_cfg: print the parsed arguments
    :returns: the task (rlgpu's ``VecTaskPython``)
    """
    isaacgym = _import_isaacgym()
    argv = list(sys.argv)
    cli_task = _flag_value(argv[1:], "--task")
    if cli_task is not None:
        if not cli_task:
            raise ValueError("--task on the command line has no value: use --task <TaskName>")
        if task_name and task_name != cli_task:
            logger.warning(f"Overriding task ({task_name}) with command line argument --task {cli_task}")
    elif task_name:
        argv += ["--task", task_name]
    else:
        raise ValueError("No task name defined: set the task_name parameter or use --task <TaskName> on the command line")
    if _flag_value(argv[1:], "--num_envs") is not None:
        if num_envs is not None:
            logger.warning("Overriding num_envs with command line argument --num_envs")
    elif num_envs is not None and num_envs > 0:
        argv += ["--num_envs", str(int(num_envs))]
    if "--headless" in argv[1:]:
        if headless is not None:
            logger.warning("Overriding headless with command line argument --headless")
    elif headless:
        argv.append("--headless")
    argv += list(cli_args)

    path = isaacgymenvs_path or os.path.join(list(isaacgym.__path__)[0], "..", "rlgpu")
    path = os.path.abspath(path)
    if not os.path.isdir(os.path.join(path, "utils")):
        raise FileNotFoundError(f"no rlgpu folder at {path} (Isaac Gym Preview 2 ships python/rlgpu beside "
                                "python/isaacgym); pass isaacgymenvs_path=<path to rlgpu>")
    with _scoped(argv=argv, path=path):
        try:
            from utils.config import get_args, load_cfg, parse_sim_params
            from utils.parse_task import parse_task
        except ImportError as e:
            raise ImportError(f"could not import rlgpu's utils.config / utils.parse_task from {path}: {e}") from e
        args = get_args()
        if show_cfg:
            print(f"\nIsaac Gym environment ({args.task})")
            _print_cfg(vars(args))
        args.cfg_train = os.path.join(path, args.cfg_train)
        args.cfg_env = os.path.join(path, args.cfg_env)
        with _scoped(cwd=path):
            cfg, cfg_train, _ = load_cfg(args)
            sim_params = parse_sim_params(args, cfg, cfg_train)
            _, env = parse_task(args, cfg, cfg_train, sim_params)
    return env


# ---------------------------------------------------------------------------------------- preview 3/4

def _register_resolvers() -> None:
    """IsaacGymEnvs' OmegaConf resolvers (``isaacgymenvs/utils/reformat.py`` / ``train.py``), if missing."""
    from omegaconf import OmegaConf

    resolvers = {
        "eq": lambda x, y: x.lower() == y.lower(),
        "contains": lambda x, y: x.lower() in y.lower(),
        "if": lambda pred, a, b: a if pred else b,
        "resolve_default": lambda default, arg: default if arg == "" else arg,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _merge_overrides(*groups: Sequence[str]) -> list[str]:
    """Hydra overrides, one per key, later groups winning (order of first appearance kept)."""
    merged: dict[str, str] = {}
    for group in groups:
        for override in group:
            merged[_override_key(override)] = override
    return list(merged.values())


def _isaacgymenvs_dir(isaacgymenvs_path: str = "") -> str:
    if isaacgymenvs_path:
        path = os.path.abspath(isaacgymenvs_path)
        if not os.path.isfile(os.path.join(path, "cfg", "config.yaml")):
            raise FileNotFoundError(f"isaacgymenvs_path={isaacgymenvs_path!r}: no cfg/config.yaml there; pass the "
                                    "isaacgymenvs package folder (IsaacGymEnvs/isaacgymenvs)")
        return path
    try:
        import isaacgymenvs
    except ImportError as e:
        raise ImportError(f"{ISAACGYMENVS_HELP} ({e})") from e
    return os.path.abspath(list(isaacgymenvs.__path__)[0])


def _compose(config_dir: str, overrides: Sequence[str]) -> Any:
    """Compose ``<config_dir>/config.yaml`` with hydra's compose API, leaving any running hydra app as it was."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    _register_resolvers()
    gh = GlobalHydra.instance()
    saved = gh.hydra if gh.is_initialized() else None
    gh.clear()
    try:
        with initialize_config_dir(config_dir=config_dir, version_base=None, job_name="load_isaacgymenv"):
            return compose(config_name="config", overrides=list(overrides))
    finally:  # initialize_config_dir restores a *copy* of the singleton: fetch the instance again
        gh = GlobalHydra.instance()
        gh.clear()
        if saved is not None:
            gh.initialize(saved)


def _task_map(package_dir: str) -> dict:
    """``isaacgym_task_map`` of the IsaacGymEnvs package at ``package_dir``."""
    parent, name = os.path.split(package_dir)
    if name == "isaacgymenvs":  # task modules import isaacgymenvs.* absolutely (IsaacGymEnvs >= 1.0)
        loaded = sys.modules.get("isaacgymenvs")
        if loaded is not None and os.path.abspath(list(loaded.__path__)[0]) != package_dir:
            raise ImportError(f"another isaacgymenvs ({list(loaded.__path__)[0]}) is already imported; "
                              f"cannot load the one at {package_dir}")
        if parent not in sys.path:
            sys.path.append(parent)
        return importlib.import_module("isaacgymenvs.tasks").isaacgym_task_map
    if package_dir not in sys.path:  # skrl 0.x: a tasks package at the top of the given folder
        sys.path.append(package_dir)
    return importlib.import_module("tasks").isaacgym_task_map


def _build_task(task_class: type, cfg: dict, config: Any, rl_device: str | None = None) -> Any:
    """Instantiate with the arguments its constructor takes (Preview 3 lacks ``rl_device``, ...)."""
    available = {
        "cfg": cfg,
        "rl_device": rl_device or config.get("rl_device", "cuda:0"),
        "sim_device": config.get("sim_device", "cuda:0"),
        "graphics_device_id": config.get("graphics_device_id", 0),
        "headless": config.get("headless", False),
        "virtual_screen_capture": config.get("capture_video", False),
        "force_render": config.get("force_render", True),
    }
    params = inspect.signature(task_class.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = available
    else:
        kwargs = {k: v for k, v in available.items() if k in params}
        if "rl_device" not in params:  # Preview 3: the task reads its rl_device from the config
            cfg.setdefault("rl_device", available["rl_device"])
    return task_class(**kwargs)


def _load_isaacgymenvs(overrides: Sequence[str], isaacgymenvs_path: str, show_cfg: bool,
                       seed: int | None = None) -> Any:
    _import_isaacgym()
    from omegaconf import OmegaConf

    package_dir = _isaacgymenvs_dir(isaacgymenvs_path)
    # import the tasks first: isaacgymenvs/__init__.py registers its resolvers unconditionally
    task_map = _task_map(package_dir)
    config = _compose(os.path.join(package_dir, "cfg"), overrides)
    cfg = OmegaConf.to_container(config.task, resolve=True)
    if seed is not None:
        cfg["seed"] = int(seed)
    if show_cfg:
        print(f"\nIsaac Gym environment ({config.task.name})")
        _print_cfg(cfg)
    name = config.task.name
    if name not in task_map:
        raise ValueError(f"task {name!r} is not in IsaacGymEnvs' isaacgym_task_map; valid: {sorted(task_map)}")
    return _build_task(task_map[name], cfg, config)


def _argv_overrides() -> list[str]:
    return [a for a in sys.argv[1:] if "=" in a and not a.startswith("-")]


def load_isaacgym_env_preview3(task_name: str = "", num_envs: int | None = None, headless: bool | None = None,
                               cli_args: Sequence[str] = [], isaacgymenvs_path: str = "", show_cfg: bool = True) -> Any:
    """Load an Isaac Gym Preview 3/4 task from IsaacGymEnvs (hydra config ``cfg/config.yaml`` + ``isaacgym_task_map``).

    Import order: Isaac Gym refuses a process that imported torch first (its ``gymdeps`` check), so put
    ``import isaacgym`` at the top of your script, before torch and ``skrl_isaac``; otherwise this raises
    ``ImportError`` saying so. (``train_isaac.py`` does it for you when the engine resolves to Isaac Gym.)

    As skrl 0.x: the command line's hydra overrides (``task=``, ``num_envs=``, ``headless=``, ...) win
    over the arguments (with a warning); ``cli_args`` (hydra overrides, e.g. ``["sim_device=cpu"]``)
    are applied last.

    :param task_name: task name (e.g. ``"Ant"``); the command line's ``task=`` wins
    :param num_envs: number of environments (None: the task config's)
    :param headless: no viewer (None: the config's)
    :param cli_args: extra hydra overrides
    :param isaacgymenvs_path: the ``isaacgymenvs`` package folder (default: the installed package's)
    :param show_cfg: print the task config
    :returns: the task (an IsaacGymEnvs ``VecTask``)
    """
    argv = _argv_overrides()
    keys = {_override_key(a) for a in argv}
    args: list[str] = []
    if "task" in keys:
        cli_task = next(a for a in argv if _override_key(a) == "task").split("=", 1)[1]
        if task_name and task_name != cli_task:
            logger.warning(f"Overriding task ({task_name}) with command line argument task={cli_task}")
    elif task_name:
        args.append(f"task={task_name}")
    else:
        raise ValueError("No task name defined: set the task_name parameter or use task=<TaskName> on the command line")
    for key, value in (("num_envs", num_envs), ("headless", headless)):
        if key in keys and value is not None:
            logger.warning(f"Overriding {key} with command line argument {key}=")
        elif value is not None:
            args.append(f"{key}={value}")
    return _load_isaacgymenvs(_merge_overrides(args, argv, cli_args), isaacgymenvs_path, show_cfg)


def load_isaacgym_env_preview4(task_name: str = "", num_envs: int | None = None, headless: bool | None = None,
                               cli_args: Sequence[str] = [], isaacgymenvs_path: str = "", show_cfg: bool = True) -> Any:
    """Load an Isaac Gym Preview 4 task from IsaacGymEnvs (same semantics as :func:`load_isaacgym_env_preview3`;
    ``import isaacgym`` before torch)."""
    return load_isaacgym_env_preview3(task_name, num_envs, headless, cli_args, isaacgymenvs_path, show_cfg)


def load_isaacgymenvs_env(task_name: str, num_envs: int | None = None, headless: bool = True,
                          sim_device: str = "cuda:0", rl_device: str = "cuda:0", seed: int | None = None,
                          overrides: Sequence[str] = (), isaacgymenvs_path: str = "", show_cfg: bool = False) -> Any:
    """Build an IsaacGymEnvs task for the CLI (``physics_engine=physx|flex``): the command line is not read.

    :param task_name: the IsaacGymEnvs task (``task=<name>``)
    :param num_envs: number of environments (None: the task config's)
    :param headless: no viewer
    :param sim_device: simulation device (``"cpu"`` selects IsaacGymEnvs' CPU pipeline)
    :param rl_device: device of observations/rewards
    :param seed: seed (``seed=`` override, and ``cfg["seed"]`` of the task; under torchrun rank ``r`` uses
        ``seed + r``, as IsaacGymEnvs' own multi-GPU training does)
    :param overrides: further IsaacGymEnvs hydra overrides, e.g. ``["physics_engine=flex", "task.env.episodeLength=500"]``
    """
    if seed is not None:  # different episodes per rank
        from skrl_isaac.utils.distributed import rank_seed

        seed = rank_seed(seed)
    args = [f"task={task_name}", f"headless={bool(headless)}", f"sim_device={sim_device}", f"rl_device={rl_device}"]
    if num_envs is not None:
        args.append(f"num_envs={int(num_envs)}")
    if seed is not None:
        args.append(f"seed={int(seed)}")
    if str(sim_device).startswith("cpu"):
        args.append("pipeline=cpu")
    return _load_isaacgymenvs(_merge_overrides(args, overrides), isaacgymenvs_path, show_cfg, seed=seed)


# ------------------------------------------------------------------------------------------ embedded

def load_embedded_env(task_name: str = "Ant", num_envs: int | None = None, device: str = "cpu",
                      seed: int | None = None, cfg: dict | None = None, headless: bool = True,
                      physics_engine: str | None = None) -> Any:
    """Build a task of the embedded suite (MuJoCo, batched) as a VecTask-compatible object.

    :param task_name: the task (see ``envs.TASK_MAP``, e.g. ``"Ant"``)
    :param num_envs: number of parallel environments (None: the task config's ``env.numEnvs``)
    :param device: device of the observations, rewards and resets (the RL device)
    :param seed: seed of the task's random resets (under torchrun rank ``r`` uses ``seed + r``)
    :param cfg: overrides of the task config (nested dict, IsaacGymEnvs layout)
    :param headless: no viewer
    :param physics_engine: ``"mujoco"`` (``mujoco.batch`` on CPU threads) or ``"mujoco_warp"`` (MuJoCo Warp on
        ``device``: a CUDA GPU, or Warp's CPU device; needs ``pip install -e ".[warp]"``); None: the task
        config's ``physics_engine`` (``mujoco``)
    """
    import skrl_isaac_envs as envs

    if num_envs is None:
        num_envs = int(((cfg or {}).get("env") or {}).get("numEnvs") or envs.load_task_cfg(task_name)["env"]["numEnvs"]) \
            if task_name in envs.TASK_MAP else 1
    if seed is not None:  # under torchrun rank r resets from seed + r (different episodes per rank)
        from skrl_isaac.utils.distributed import rank_seed

        seed = rank_seed(seed)
    return envs.make(task_name, num_envs=num_envs, device=device, seed=seed, cfg=cfg, headless=headless,
                     physics_engine=physics_engine)
