"""The CLI under ``torchrun``: each rank's device, its MuJoCo threads, joining the process group, the start line.

``torchrun --nproc_per_node=N train_isaac.py task=Ant`` starts N copies of the CLI; each learns its place from
torchrun's environment (:mod:`skrl_isaac.utils.distributed`). Without torchrun nothing here changes anything.
"""

from __future__ import annotations

import os
from typing import Any

from skrl_isaac.cli.errors import CLIError
from skrl_isaac.utils import distributed


def rank_device(device: str, key: str) -> str:
    """``device`` for this rank: under torchrun a CUDA device becomes ``cuda:LOCAL_RANK`` (one GPU per rank).

    :raises CLIError: more ranks on this machine than CUDA devices
    """
    info = distributed.process_info()
    if not info.is_distributed or not device.startswith("cuda"):
        return device
    import torch

    count = torch.cuda.device_count()
    if info.local_rank >= count:
        raise CLIError(f"{key}={device}: rank {info.rank} (local rank {info.local_rank}) has no GPU of its own: this "
                       f"machine has {count} CUDA device(s) for {os.environ.get('LOCAL_WORLD_SIZE', '?')} ranks; start "
                       f"at most {count} processes per machine (--nproc_per_node={count}) or use {key}=cpu")
    return f"cuda:{info.local_rank}"


def join(device: Any) -> distributed.ProcessInfo:
    """Join the process group (NCCL for CUDA, gloo for the CPU) and check that every rank uses the same kind of
    device; one process: nothing.

    :raises CLIError: ranks on mixed device kinds, or a device that is not this rank's
    """
    try:
        info = distributed.init(device)
        distributed.check_same_device_type(device)
    except ValueError as e:
        raise CLIError(str(e)) from None
    return info


def mujoco_threads(task_cfg: dict) -> tuple[int, str] | None:
    """Under torchrun, the CPU MuJoCo threads per rank: ``task.sim.mujoco.nthread`` when set (> 0), else the
    machine's cores shared out over its ranks (``LOCAL_WORLD_SIZE``), so the ranks do not oversubscribe the
    cores. Writes the choice into ``task_cfg``; returns ``(threads, where it came from)`` (None: one process)."""
    info = distributed.process_info()
    if not info.is_distributed:
        return None
    mujoco = task_cfg.setdefault("sim", {}).setdefault("mujoco", {})
    chosen = int(mujoco.get("nthread", 0) or 0)
    if chosen > 0:
        return chosen, "task.sim.mujoco.nthread"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "") or info.world_size)
    mujoco["nthread"] = max(1, cores // max(local_ranks, 1))
    return mujoco["nthread"], f"{cores} cores / {local_ranks} ranks on this machine; override: task.sim.mujoco.nthread=<n>"


def envs_line(num_envs: int) -> str:
    """``"<n> envs"``, or under torchrun ``"<n> envs per rank x <N> ranks = <total> envs"``."""
    info = distributed.process_info()
    if not info.is_distributed:
        return f"{num_envs} envs"
    return f"{num_envs} envs per rank x {info.world_size} ranks = {num_envs * info.world_size} envs"
