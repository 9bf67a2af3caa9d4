"""Random-sampling memory (rollout buffer for on-policy agents, replay buffer for off-policy ones)."""

from __future__ import annotations

import torch

from skrl_isaac.memories.torch.base import Memory


class RandomMemory(Memory):
    """Memory sampled uniformly at random, on the device.

    :param memory_size: number of environment steps the memory holds
    :param num_envs: number of parallel environments
    :param device: device on which the tensors live (the environment's device)
    :param export: export the memory to a file at each fill cycle, before data is overwritten
    :param export_format: ``"pt"``, ``"np"`` or ``"csv"``
    :param export_directory: folder of the exported files (``""`` -> ``"memory"``)
    :param replacement: sample with replacement (True) or without (False, a random permutation)
    """

    def __init__(self, memory_size: int, num_envs: int = 1, device: str | torch.device | None = None,
                 export: bool = False, export_format: str = "pt", export_directory: str = "",
                 replacement: bool = True) -> None:
        super().__init__(memory_size, num_envs, device, export, export_format, export_directory)
        self._replacement = replacement

    def sample(self, names: tuple[str, ...] | list[str], batch_size: int, mini_batches: int = 1) -> list[list[torch.Tensor]]:
        """Sample ``batch_size`` transitions from the stored ones (indices drawn on the device).

        :return: ``mini_batches`` lists, each with one tensor ``(batch_size / mini_batches, size)`` per name
        :raises ValueError: if the memory is empty or ``batch_size < 1``
        """
        total = len(self) * self.num_envs
        if total == 0:
            raise ValueError("cannot sample from an empty memory: add samples first")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if self._replacement:
            indexes = torch.randint(0, total, (batch_size,), device=self.device)
        else:
            indexes = torch.randperm(total, device=self.device)[:batch_size]
        return self.sample_by_index(names, indexes, mini_batches)
