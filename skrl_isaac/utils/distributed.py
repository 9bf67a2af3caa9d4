"""Several processes training one run with ``torchrun``: who this process is, and the collectives agents use.

``torchrun --nproc_per_node=N train_isaac.py ...`` (or ``python -m torch.distributed.run``) starts N processes and
tells each its ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`init` joins them into one process group (NCCL
when the process has a CUDA device, gloo on the CPU). Without torchrun every function here is a no-op for one
process, so the same script runs either way.

The collectives work on device tensors and never read them back to the host:

* :func:`broadcast_parameters`: rank 0's parameters and buffers to every rank (at start, after a resume);
* :func:`all_reduce_gradients`: the mean of every rank's gradients, in one flat bucket per optimizer step;
* :func:`all_reduce_mean`: a tensor averaged over ranks (e.g. PPO's KL divergence);
* :func:`merge_moments`: the count, mean and sum of squared deviations of data spread over ranks (Chan et al.'s
  parallel variance), for the running normalizers.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Iterable

import torch

# how long a collective may wait for a rank before the others give up (a lost rank must not hang the run)
COLLECTIVE_TIMEOUT = datetime.timedelta(seconds=float(os.environ.get("SKRL_ISAAC_COLLECTIVE_TIMEOUT", "120")))


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the run: ``rank`` of ``world_size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files (rank 0)."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value != "" else default
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer (torchrun sets it)") from None


def process_info() -> ProcessInfo:
    """Rank, local rank and world size from torchrun's environment (one process without it)."""
    info = ProcessInfo(_env_int("RANK", 0), _env_int("LOCAL_RANK", 0), _env_int("WORLD_SIZE", 1))
    if not 0 <= info.rank < info.world_size:
        raise ValueError(f"RANK={info.rank} is not valid for WORLD_SIZE={info.world_size}")
    return info


def rank() -> int:
    return process_info().rank


def local_rank() -> int:
    return process_info().local_rank


def world_size() -> int:
    return process_info().world_size


def is_main() -> bool:
    """Whether this process is rank 0 (always True without torchrun)."""
    return process_info().is_main


def is_initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def init(device: str | torch.device) -> ProcessInfo:
    """Join the process group of a torchrun launch (NCCL for a CUDA ``device``, else gloo); one process: nothing.

    :raises ValueError: a CUDA device that is not this rank's ``cuda:LOCAL_RANK``, or more ranks on this machine
                        than CUDA devices
    """
    import torch.distributed as dist

    info = process_info()
    if not info.is_distributed or is_initialized():
        return info
    device = torch.device(device)
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if info.local_rank >= count:
            raise ValueError(f"rank {info.rank} (local rank {info.local_rank}) has no GPU: this machine has {count} "
                             f"CUDA device(s); start at most {count} processes per machine (--nproc_per_node)")
        if device.index is not None and device.index != info.local_rank:
            raise ValueError(f"rank {info.rank} must use cuda:{info.local_rank} (its LOCAL_RANK), not {device}")
        torch.cuda.set_device(info.local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=COLLECTIVE_TIMEOUT)
    return info


def check_same_device_type(device: str | torch.device) -> None:
    """Raise ``ValueError`` when the ranks do not all train on the same kind of device (one collective at start)."""
    import torch.distributed as dist

    if not is_initialized():
        return
    kinds = [None] * dist.get_world_size()
    dist.all_gather_object(kinds, torch.device(device).type)
    if len(set(kinds)) > 1:
        raise ValueError(f"the ranks train on mixed devices ({', '.join(f'rank {r}: {k}' for r, k in enumerate(kinds))}); "
                         "give every rank the same rl_device kind (all cuda or all cpu)")


def broadcast_object(obj):
    """Rank 0's ``obj`` (a picklable Python object) on every rank; one process: ``obj``."""
    import torch.distributed as dist

    if not is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def rank_seed(seed: int) -> int:
    """The seed of this rank: ``seed + rank`` (so the ranks draw different observations and resets)."""
    return int(seed) + process_info().rank


def rank_path(path: str, info: ProcessInfo | None = None) -> str:
    """``<t>_agent.pt`` -> ``<t>_agent.rank<r>.pt`` for a rank other than 0 (its own resume state); rank 0: ``path``."""
    info = info or process_info()
    if info.rank == 0:
        return path
    root, ext = os.path.splitext(path)
    return f"{root}.rank{info.rank}{ext}"


def rank_folder(folder: str, info: ProcessInfo | None = None) -> str:
    """``folder/rank<r>`` when several processes train (each rank's own files, e.g. memory dumps); else ``folder``."""
    info = info or process_info()
    return os.path.join(folder, f"rank{info.rank}") if info.is_distributed else folder


def close() -> None:
    """Leave the process group (end of the run)."""
    import torch.distributed as dist

    if is_initialized():
        dist.destroy_process_group()


def _tensors(modules: Iterable[torch.nn.Module]) -> list[torch.Tensor]:
    seen: set[int] = set()
    tensors = []
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                tensors.append(tensor)
    return tensors


@torch.no_grad()
def broadcast_parameters(modules: Iterable[torch.nn.Module], src: int = 0) -> None:
    """Give every rank ``src``'s parameters and buffers (one collective per dtype)."""
    import torch.distributed as dist

    if not is_initialized():
        return
    by_dtype: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for tensor in _tensors(modules):
        by_dtype.setdefault((tensor.dtype, tensor.device), []).append(tensor)
    for tensors in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.broadcast(flat, src=src)
        offset = 0
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()


@torch.no_grad()
def all_reduce_gradients(parameters: Iterable[torch.Tensor]) -> None:
    """Average the gradients of ``parameters`` over the ranks, in one flat bucket (a missing gradient counts as 0)."""
    import torch.distributed as dist

    if not is_initialized():
        return
    params = [p for p in parameters if p.requires_grad]
    if not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(dist.get_world_size())
    offset = 0
    for p in params:
        n = p.numel()
        chunk = flat[offset:offset + n].view_as(p)
        if p.grad is None:
            p.grad = chunk.clone()
        else:
            p.grad.copy_(chunk)
        offset += n


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` averaged over the ranks (in place; returned)."""
    import torch.distributed as dist

    if is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor.div_(dist.get_world_size())
    return tensor


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the ranks (in place; returned)."""
    import torch.distributed as dist

    if is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def merge_moments(count: torch.Tensor, mean: torch.Tensor, m2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``(count, mean, m2)`` of the union of every rank's data, where ``m2`` is the sum of squared deviations
    from the rank's ``mean`` (Chan et al.'s pairwise combination, done for all ranks at once; every rank gets the
    same result). ``count`` is a 0-d tensor; ``mean`` and ``m2`` have the data's feature shape."""
    import torch.distributed as dist

    if not is_initialized():
        return count, mean, m2
    size = dist.get_world_size()
    packed = torch.cat([count.reshape(1).to(mean.dtype), mean.reshape(-1), m2.reshape(-1)])
    gathered = [torch.empty_like(packed) for _ in range(size)]
    dist.all_gather(gathered, packed)
    stacked = torch.stack(gathered)  # (ranks, 1 + 2 * features)
    features = mean.numel()
    counts, means, m2s = stacked[:, :1], stacked[:, 1:1 + features], stacked[:, 1 + features:]
    total = counts.sum()
    merged_mean = (counts * means).sum(0) / total
    merged_m2 = m2s.sum(0) + (counts * (means - merged_mean) ** 2).sum(0)
    return total.to(count.dtype).reshape(count.shape), merged_mean.view_as(mean), merged_m2.view_as(m2)
