"""Environment loaders."""

from __future__ import annotations

from typing import Any


def load_embedded_env(task_name: str = "Ant", num_envs: int | None = None, device: str = "cpu",
                      seed: int | None = None, cfg: dict | None = None, headless: bool = True) -> Any:
    """Build a task of the embedded suite (MuJoCo, batched) as a VecTask-compatible object.

    :param task_name: the task (see ``envs.TASK_MAP``, e.g. ``"Ant"``)
    :param num_envs: number of parallel environments (None: the task config's ``env.numEnvs``)
    :param device: device of the observations, rewards and resets (the RL device)
    :param seed: seed of the task's random resets
    :param cfg: overrides of the task config (nested dict, IsaacGymEnvs layout)
    :param headless: no viewer
    """
    import envs

    if num_envs is None:
        num_envs = int(((cfg or {}).get("env") or {}).get("numEnvs") or envs.load_task_cfg(task_name)["env"]["numEnvs"]) \
            if task_name in envs.TASK_MAP else 1
    return envs.make(task_name, num_envs=num_envs, device=device, seed=seed, cfg=cfg, headless=headless)
