"""The whole training state of an agent (``<timestep>_agent.pt``), for exact resume.

Collected generically from the agent, so every agent gets it without code of its own:
models (``agent.models``), every attribute with ``state_dict``/``load_state_dict`` (optimizers,
LR schedulers, preprocessors, noises, target networks, the tracker's episode accumulators), the
agent's tensor attributes, the counters it names in ``state_scalars`` (e.g. PPO's rollout index),
its memory (when small enough), the RNG states (torch CPU/CUDA, numpy, python) and the timestep.
The file holds only tensors, containers and primitives, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from skrl_isaac import logger
from skrl_isaac.models.torch.base import CheckpointError

FORMAT_VERSION = 1
#: memories above this size are not stored in the agent file (resume then starts with an empty memory)
MAX_MEMORY_BYTES = 256 * 2**20


def _stateful_attributes(agent: Any) -> dict[str, Any]:
    objects = {k: v for k, v in vars(agent).items()
               if callable(getattr(v, "state_dict", None)) and callable(getattr(v, "load_state_dict", None))
               and k not in ("memory",)}
    tracker = getattr(getattr(agent, "recorder", None), "tracker", None)
    if tracker is not None:  # the run recorder's episode accumulators, under the name the files have always used
        objects["_tracker"] = tracker
    return objects


def _private_values(agent: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensor attributes (e.g. SAC's log entropy coefficient) and the declared counters (``state_scalars``)."""
    tensors = {k: v.detach().clone() for k, v in vars(agent).items() if isinstance(v, torch.Tensor)}
    scalars = {k: getattr(agent, k) for k in getattr(agent, "state_scalars", ())}
    return tensors, scalars


def rng_state() -> dict[str, Any]:
    """RNG states of torch (CPU and CUDA), numpy and python, as weights-only-loadable values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())  # the file may have been mapped to a CUDA device
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def agent_state(agent: Any, timestep: int) -> dict[str, Any]:
    """Everything needed to continue training ``agent`` exactly from ``timestep``."""
    tensors, scalars = _private_values(agent)
    state: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "agent": type(agent).__name__,
        "timestep": int(timestep),
        "models": {name: m.state_dict() for name, m in agent.models.items() if m is not None},
        "objects": {name: obj.state_dict() for name, obj in _stateful_attributes(agent).items()},
        "tensors": tensors,
        "scalars": scalars,
        "rng": rng_state(),
    }
    experiment_tracker = getattr(getattr(agent, "recorder", None), "experiment_tracker", None)
    if experiment_tracker is not None:  # a resume continues the same W&B / MLflow run
        state["experiment_tracker"] = experiment_tracker.state()
    memory = agent.memory
    if memory is not None:
        size = sum(t.numel() * t.element_size() for t in memory.tensors.values())
        if size <= MAX_MEMORY_BYTES:
            state["memory"] = {"tensors": {k: v.clone() for k, v in memory.tensors.items()},
                               "memory_index": memory.memory_index, "filled": memory.filled,
                               "fill_cycles": memory.fill_cycles}
        else:
            logger.warning(f"memory of {size / 2**20:.0f} MiB left out of the agent checkpoint "
                           f"(> {MAX_MEMORY_BYTES / 2**20:.0f} MiB): a resume starts with an empty memory")
    return state


def _load_into(target: Any, state: Any, what: str, path: str) -> None:
    try:
        result = target.load_state_dict(state)
    except Exception as e:  # shape / key mismatch
        raise CheckpointError(f"{path}: {what} does not match this agent: {str(e).strip().splitlines()[0]}") from None
    if isinstance(target, torch.nn.Module) and result is not None and (result.missing_keys or result.unexpected_keys):
        raise CheckpointError(f"{path}: {what} does not match: missing keys {result.missing_keys}, "
                              f"unexpected keys {result.unexpected_keys}")


def load_agent_state(agent: Any, state: dict[str, Any], path: str) -> int:
    """Restore ``state`` (from :func:`agent_state`) into ``agent``; return the timestep."""
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION or "models" not in state:
        raise CheckpointError(f"{path}: not an agent checkpoint (expected a <timestep>_agent.pt file written with "
                              "checkpoint_policy_only=False)")
    if state["agent"] != type(agent).__name__:
        raise CheckpointError(f"{path}: a {state['agent']} checkpoint cannot resume a {type(agent).__name__} agent")
    missing = sorted(set(n for n, m in agent.models.items() if m is not None) - set(state["models"]))
    if missing:
        raise CheckpointError(f"{path}: models {missing} are missing from the checkpoint")
    from skrl_isaac.models.torch.base import check_state_dict

    for name, model in agent.models.items():
        if model is not None:
            check_state_dict(model, state["models"][name], f"{path} [{name}]")
            model.load_state_dict(state["models"][name])
    objects = _stateful_attributes(agent)
    for name, obj_state in state["objects"].items():
        if name in objects:
            _load_into(objects[name], obj_state, name, path)
    with torch.no_grad():
        for name, value in state["tensors"].items():
            current = getattr(agent, name, None)
            if isinstance(current, torch.Tensor) and current.shape == value.shape:
                current.copy_(value)  # in place: optimizers and views keep pointing at it
            else:
                setattr(agent, name, value.to(agent.device))
    for name, value in state["scalars"].items():
        setattr(agent, name, value)
    memory = agent.memory
    if memory is not None and "memory" in state:
        saved = state["memory"]
        for name, tensor in saved["tensors"].items():
            if name not in memory.tensors or memory.tensors[name].shape != tensor.shape:
                raise CheckpointError(f"{path}: memory tensor {name!r} {tuple(tensor.shape)} does not match this "
                                      f"agent's memory ({sorted(memory.tensors)})")
            memory.tensors[name].copy_(tensor)
        memory.memory_index, memory.filled, memory.fill_cycles = \
            saved["memory_index"], saved["filled"], saved["fill_cycles"]
        memory._exported_cycles = memory.fill_cycles  # the interrupted run exported them already
    set_rng_state(state["rng"])
    return int(state["timestep"])


def read_state_file(path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
    """Read an agent checkpoint with ``weights_only=True``, with one clear error for a bad file."""
    from skrl_isaac.models.torch.base import load_state_dict_file

    return load_state_dict_file(path, map_location=map_location)
