"""Embedded task suite (import name ``skrl_isaac_envs``; the ``envs/`` folder of the repository):
IsaacGymEnvs-style VecTask tasks simulated batched with MuJoCo.

``TASK_MAP`` maps task names to classes; ``make()`` builds a task from its
default config ``cfg/task/<name>.yaml`` (in this package) plus overrides.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Optional

from skrl_isaac_envs.ant import Ant
from skrl_isaac_envs.cartpole import Cartpole, CartpoleDiscrete
from skrl_isaac_envs.humanoid import Humanoid
from skrl_isaac_envs.base.vec_task import PHYSICS_ENGINES, VecTask

TASK_MAP = {"Ant": Ant, "Cartpole": Cartpole, "CartpoleDiscrete": CartpoleDiscrete, "Humanoid": Humanoid}
TASK_CFG_DIR = Path(__file__).resolve().parent / "cfg" / "task"


def load_task_cfg(task_name: str) -> Dict[str, Any]:
    """The default task config of task_name as a plain dict."""
    import yaml

    path = TASK_CFG_DIR / f"{task_name}.yaml"
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
    physics_engine: Optional[str] = None,
) -> VecTask:
    """Build an embedded task.

    Args:
        task_name: a key of TASK_MAP.
        num_envs: number of environments (>= 1).
        device: the torch device of observations, rewards and buffers.
        seed: seed of the task's reset-noise generator (None: nondeterministic).
        cfg: overrides deep-merged into the default task config.
        headless: False makes render() raise (no viewer).
        physics_engine: ``"mujoco"`` (``mujoco.batch`` on CPU threads) or ``"mujoco_warp"`` (MuJoCo Warp on
            ``device``: a CUDA GPU, or Warp's CPU device); None: the task config's (``mujoco``).
    """
    if task_name not in TASK_MAP:
        raise ValueError(f"unknown task {task_name!r}; valid names: {sorted(TASK_MAP)}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    task_cfg = VecTask.merged_cfg(load_task_cfg(task_name), copy.deepcopy(cfg) if cfg else None)
    task_cfg.setdefault("env", {})["numEnvs"] = num_envs
    if seed is not None:
        task_cfg["seed"] = int(seed)
    if physics_engine is not None:
        if physics_engine not in PHYSICS_ENGINES:
            raise ValueError(f"physics_engine={physics_engine!r} is not valid for the embedded tasks: expected one "
                             f"of {', '.join(PHYSICS_ENGINES)}")
        task_cfg["physics_engine"] = physics_engine
    return TASK_MAP[task_name](
        cfg=task_cfg, rl_device=device, sim_device=device, graphics_device_id=0, headless=headless
    )


__all__ = ["TASK_MAP", "PHYSICS_ENGINES", "VecTask", "Ant", "make", "load_task_cfg"]
