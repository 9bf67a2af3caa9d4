"""Seeding of every random number generator the library uses."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from skrl_isaac import logger


def set_seed(seed: int | None = None, deterministic: bool = False) -> int:
    """Seed python, numpy and torch (all devices); return the seed used.

    Under torchrun rank ``r`` uses ``seed + r`` (and returns it), so the ranks see different data.

    :param seed: the seed; ``None`` draws one from the OS and logs it so the run can be repeated
    :param deterministic: also ask torch for deterministic algorithms (slower on CUDA)
    """
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
        logger.info(f"Seed: {seed} (drawn at random; pass seed= to repeat this run)")
    from skrl_isaac.utils import distributed

    info = distributed.process_info()
    seed = int(seed) + info.rank  # under torchrun rank r draws from seed + r (its own observations and resets)
    if info.is_distributed:
        logger.info(f"Seed: {seed} (rank {info.rank} of {info.world_size}: seed + rank)")
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return seed
