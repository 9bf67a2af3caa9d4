"""Memory base class: preallocated ``(memory_size, num_envs, size)`` tensors on the env device."""

from __future__ import annotations

import os
from typing import Any

import torch

from skrl_isaac.dumps.exporter import MemoryExporter, load_tensors, save_tensors
from skrl_isaac.utils.spaces import flatten_size

EXPORT_FORMATS = ("pt", "np", "csv")


class Memory:
    """Base class of the memories (rollout and replay buffers).

    Every tensor is allocated once, as ``(memory_size, num_envs, size)`` on ``device``. Samples are
    written one environment step at a time for all environments (:meth:`add_samples`); the write
    position wraps around when the memory is full (one *fill cycle*).

    :param memory_size: number of environment steps the memory holds (``>= 1``)
    :param num_envs: number of parallel environments (``>= 1``)
    :param device: device on which the tensors live (the environment's device)
    :param export: export the memory to a file at each fill cycle, before data is overwritten (by
        :attr:`exporter`, a :class:`~skrl_isaac.dumps.exporter.MemoryExporter`; None without export)
    :param export_format: ``"pt"`` (PyTorch), ``"np"`` (NumPy ``.npz``) or ``"csv"``
    :param export_directory: folder of the exported files (``""`` -> ``"memory"``; under torchrun each rank
        writes into its own ``<export_directory>/rank<r>``)
    """

    def __init__(self, memory_size: int, num_envs: int = 1, device: str | torch.device | None = None,
                 export: bool = False, export_format: str = "pt", export_directory: str = "") -> None:
        if isinstance(memory_size, bool) or not isinstance(memory_size, int) or memory_size < 1:
            raise ValueError(f"memory_size must be an int >= 1, got {memory_size!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        if not isinstance(export, bool):
            raise ValueError(f"export must be True or False, got {export!r}")
        if export_format not in EXPORT_FORMATS:
            raise ValueError(f"export_format must be one of {EXPORT_FORMATS}, got {export_format!r}")
        if not isinstance(export_directory, (str, os.PathLike)):
            raise ValueError(f"export_directory must be a path, got {export_directory!r}")
        self.memory_size = memory_size
        self.num_envs = num_envs
        self.device = torch.device("cuda:0" if device is None and torch.cuda.is_available() else (device or "cpu"))
        self.export = export
        self.export_format = export_format
        # under torchrun every rank exports its own memory, into <export_directory>/rank<r>
        from skrl_isaac.utils.distributed import rank_folder

        self.export_directory = rank_folder(os.fspath(export_directory) or "memory")

        self.filled = False
        self.memory_index = 0
        self.fill_cycles = 0
        self.tensors: dict[str, torch.Tensor] = {}
        self._views: dict[str, torch.Tensor] = {}
        # the dump files of each fill cycle (skrl_isaac.dumps), written off the training thread
        self.exporter: MemoryExporter | None = MemoryExporter(self.export_directory, export_format) if export else None
        self._exported_cycles = 0

    # -- allocation ---------------------------------------------------------------------------
    def create_tensor(self, name: str, size: Any, dtype: torch.dtype | None = None) -> bool:
        """Allocate the tensor ``name`` of shape ``(memory_size, num_envs, size)``.

        :param name: tensor name (e.g. ``"states"``)
        :param size: number of scalars per sample, or a space whose flattened size is used
        :param dtype: tensor dtype (default: ``torch.float32``)
        :return: False if a tensor of that name, size and dtype already exists, True if created
        :raises ValueError: if a tensor of that name exists with another size or dtype
        """
        size = flatten_size(size)
        dtype = torch.float32 if dtype is None else dtype
        if name in self.tensors:
            t = self.tensors[name]
            if t.shape[-1] != size or t.dtype != dtype:
                raise ValueError(f"tensor {name!r} exists with size {t.shape[-1]} and dtype {t.dtype}, "
                                 f"asked for size {size} and dtype {dtype}")
            return False
        if size < 1:
            raise ValueError(f"tensor {name!r}: size must be >= 1, got {size}")
        self.tensors[name] = torch.zeros((self.memory_size, self.num_envs, size), dtype=dtype, device=self.device)
        self._views[name] = self.tensors[name].view(-1, size)
        return True

    def get_tensor_names(self) -> tuple[str, ...]:
        """Names of the allocated tensors, sorted."""
        return tuple(sorted(self.tensors))

    def get_tensor_by_name(self, name: str, keepdim: bool = True) -> torch.Tensor:
        """The tensor ``name``: ``(memory_size, num_envs, size)``, or flattened ``(memory_size * num_envs, size)``."""
        self._check_name(name)
        return self.tensors[name] if keepdim else self._views[name]

    def set_tensor_by_name(self, name: str, tensor: torch.Tensor) -> None:
        """Overwrite the whole tensor ``name`` (same shape) in place."""
        self._check_name(name)
        with torch.no_grad():
            self.tensors[name].copy_(tensor)

    def _check_name(self, name: str) -> None:
        if name not in self.tensors:
            raise KeyError(f"memory has no tensor {name!r}; tensors: {sorted(self.tensors)}")

    def __len__(self) -> int:
        """Number of stored environment steps (``memory_size`` once filled)."""
        return self.memory_size if self.filled else self.memory_index

    def reset(self) -> None:
        """Forget the stored samples (the tensors keep their memory)."""
        self.filled = False
        self.memory_index = 0

    # -- writing ------------------------------------------------------------------------------
    def add_samples(self, **tensors: torch.Tensor) -> None:
        """Record one environment step for all environments.

        Each keyword is a tensor name; its value has shape ``(num_envs, size)`` (or ``(num_envs,)``
        for size 1). Names the memory does not hold are ignored, so agents can pass everything
        they have. The copy stays on the device: nothing is read back to the host.
        """
        if not tensors:
            raise ValueError("add_samples() needs at least one tensor, e.g. add_samples(states=...)")
        if self.exporter is not None and self.exporter.failed:
            self.exporter.raise_if_failed()  # a background export failed: say so once
        if self.filled and self.memory_index == 0:
            self._before_overwrite()
        for name, value in tensors.items():
            target = self.tensors.get(name)
            if target is None or value is None:
                continue
            target[self.memory_index].copy_(value.reshape(target.shape[1:]))
        self.memory_index += 1
        if self.memory_index >= self.memory_size:
            self.memory_index = 0
            self.filled = True
            self.fill_cycles += 1

    def _before_overwrite(self) -> None:
        """Called right before the first write of a new fill cycle: export the full cycle if asked.

        Exporting here rather than at the fill lets the agent finish the cycle first (PPO writes
        its ``returns`` and ``advantages`` into the memory in the update that follows the fill), so
        a dump holds a cycle as the agent learned from it. :meth:`close` exports the last cycle.
        The only device -> host copy of an export happens here; the file is written by a
        background thread (see :class:`skrl_isaac.dumps.exporter.MemoryExporter`).
        """
        self._export_completed_cycle()

    def _export_completed_cycle(self) -> None:
        if self.exporter is not None and self._exported_cycles < self.fill_cycles:
            self.exporter.export(self.tensors, self.fill_cycles)
            self._exported_cycles = self.fill_cycles

    # -- sampling -----------------------------------------------------------------------------
    def sample(self, names: tuple[str, ...] | list[str], batch_size: int, mini_batches: int = 1) -> list[list[torch.Tensor]]:
        """Sample ``batch_size`` transitions uniformly (with replacement) from the stored ones, on device."""
        raise NotImplementedError

    def sample_by_index(self, names: tuple[str, ...] | list[str], indexes: torch.Tensor,
                        mini_batches: int = 1) -> list[list[torch.Tensor]]:
        """Gather the flattened rows ``indexes`` of each tensor, split into ``mini_batches``."""
        for name in names:
            self._check_name(name)
        if mini_batches > 1:
            return [[self._views[n][idx] for n in names] for idx in indexes.tensor_split(mini_batches)]
        return [[self._views[n][indexes] for n in names]]

    def sample_all(self, names: tuple[str, ...] | list[str], mini_batches: int = 1,
                   shuffle: bool = True) -> list[list[torch.Tensor]]:
        """All stored transitions (flattened over steps and envs), in ``mini_batches`` random minibatches."""
        for name in names:
            self._check_name(name)
        if mini_batches == 1 and not shuffle:
            self._check_mini_batches(mini_batches)
            return [[self._views[n][:len(self) * self.num_envs] for n in names]]
        return [self.sample_by_index(names, idx)[0] for idx in self.minibatch_indexes(mini_batches, shuffle)]

    def minibatch_indexes(self, mini_batches: int = 1, shuffle: bool = True) -> list[torch.Tensor]:
        """The flattened rows of all stored transitions, shuffled (or in order) and split into ``mini_batches``
        index tensors on the memory's device (sizes differ by at most one); :meth:`sample_by_index` gathers them."""
        total = self._check_mini_batches(mini_batches)
        indexes = torch.randperm(total, device=self.device) if shuffle else torch.arange(total, device=self.device)
        return list(indexes.tensor_split(mini_batches)) if mini_batches > 1 else [indexes]

    def _check_mini_batches(self, mini_batches: int) -> int:
        total = len(self) * self.num_envs
        if mini_batches < 1 or mini_batches > max(total, 1):
            raise ValueError(f"mini_batches must be in [1, {total}] (stored transitions), got {mini_batches}")
        return total

    # -- export / import (see skrl_isaac.dumps) ------------------------------------------------
    def save(self, directory: str = "", format: str = "pt") -> str:
        """Write the stored steps to a file in ``directory`` now (``memory_index`` steps of a memory not
        yet full, all ``memory_size`` of a full one, in storage order); return its path."""
        if self.exporter is not None:
            self.exporter.raise_if_failed()
        return save_tensors(self.tensors, len(self), directory or self.export_directory, format, self.fill_cycles)

    def load(self, path: str | os.PathLike) -> None:
        """Read a file written by :meth:`save` (any format) back into the tensors, exactly. A dump of
        ``memory_size`` steps leaves ``filled=True, memory_index=0``; a shorter one ``filled=False,
        memory_index=steps``."""
        steps = load_tensors(path, self.tensors)
        self.filled = steps == self.memory_size
        self.memory_index = 0 if self.filled else steps

    def close(self) -> None:
        """Export the last full cycle, wait for pending exports (all files complete on return); raise a failed one."""
        if self.filled and self.memory_index == 0:
            self._export_completed_cycle()
        if self.exporter is not None:
            self.exporter.close()
