"""Embedded task suite: IsaacGymEnvs-style VecTask tasks simulated with mujoco.batch.

``TASK_MAP`` maps task names to classes; ``make()`` builds a task from its
default config ``skrl_isaac/cfg/task/<name>.yaml`` plus overrides.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any, Dict, Optional

from envs.ant import Ant
from envs.cartpole import Cartpole, CartpoleDiscrete
from envs.humanoid import Humanoid
from envs.base.vec_task import VecTask

TASK_MAP = {"Ant": Ant, "Cartpole": Cartpole, "CartpoleDiscrete": CartpoleDiscrete, "Humanoid": Humanoid}


def _task_cfg_dir() -> Path:
    """skrl_isaac/cfg/task, located without importing skrl_isaac."""
    spec = importlib.util.find_spec("skrl_isaac")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "cfg" / "task"
            if candidate.is_dir():
                return candidate
    return Path(__file__).resolve().parent.parent / "skrl_isaac" / "cfg" / "task"


def load_task_cfg(task_name: str) -> Dict[str, Any]:
    """The default task config of task_name as a plain dict."""
    import yaml

    path = _task_cfg_dir() / f"{task_name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no default config for task {task_name!r} at {path}")
    with open(path) as f:
        return yaml.safe_load(f)


def make(
    task_name: str,
    num_envs: int,
    device: str = "cpu",
    seed: Optional[int] = None,
    cfg: Optional[Dict[str, Any]] = None,
    headless: bool = True,
) -> VecTask:
    """Build an embedded task.

    Args:
        task_name: a key of TASK_MAP.
        num_envs: number of environments (>= 1).
        device: the torch device of observations, rewards and buffers.
        seed: seed of the task's reset-noise generator (None: nondeterministic).
        cfg: overrides deep-merged into the default task config.
        headless: False makes render() raise (no viewer).
    """
    if task_name not in TASK_MAP:
        raise ValueError(f"unknown task {task_name!r}; valid names: {sorted(TASK_MAP)}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    task_cfg = VecTask.merged_cfg(load_task_cfg(task_name), copy.deepcopy(cfg) if cfg else None)
    task_cfg.setdefault("env", {})["numEnvs"] = num_envs
    if seed is not None:
        task_cfg["seed"] = int(seed)
    return TASK_MAP[task_name](
        cfg=task_cfg, rl_device=device, sim_device=device, graphics_device_id=0, headless=headless
    )


__all__ = ["TASK_MAP", "VecTask", "Ant", "make", "load_task_cfg"]
