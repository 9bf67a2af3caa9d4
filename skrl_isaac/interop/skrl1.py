"""skrl 1.x agent checkpoints (``agent_<timestep>.pt``, ``best_agent.pt``) loaded into this package's agents.

skrl 1.x writes one dict per file: every entry of its agent's ``checkpoint_modules`` by name, each
as its ``state_dict()``: the models (``policy``, ``value``, ``critic_1``, ``target_critic_1``,
``q_network``, ...), the optimizers (``optimizer``; ``policy_optimizer``, ``critic_optimizer``,
``entropy_optimizer``) and the preprocessors (``state_preprocessor``, ``value_preprocessor``). This
package's agents use the same names for the same things, so the file maps onto them one to one.

The file is read with ``weights_only=True``. The optimizers take the file's per-parameter state
(Adam's moments and step counts) and learning rates and keep their own implementation settings
(fused kernel, device learning rate). Known gap: skrl 1.x does not save SAC's entropy coefficient
(only its optimizer's state), so a loaded SAC starts from ``initial_entropy_value``.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

import torch

from skrl_isaac import logger
from skrl_isaac.models.torch.adapter import unwrap
from skrl_isaac.models.torch.base import CheckpointError, check_state_dict, load_state_dict_file

#: skrl 1.x's checkpoint names of the optimizers, as this package's agents name their attributes
OPTIMIZER_NAMES = ("optimizer", "policy_optimizer", "critic_optimizer", "entropy_optimizer")
PREPROCESSOR_NAMES = ("state_preprocessor", "value_preprocessor")
_FILE_NAME = re.compile(r"^agent_(\d+)\.pt$")


def skrl1_file_timestep(path: str | os.PathLike) -> int | None:
    """The timestep in a skrl 1.x file name (``agent_1600.pt`` -> 1600; ``best_agent.pt`` -> None)."""
    match = _FILE_NAME.match(os.path.basename(os.fspath(path)))
    return int(match.group(1)) if match else None


def is_skrl1_checkpoint_name(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named as skrl 1.x names its agent checkpoints (``agent_<t>.pt``, ``best_agent.pt``)."""
    base = os.path.basename(os.fspath(path))
    return base == "best_agent.pt" or _FILE_NAME.match(base) is not None


def expected_names(agent: Any) -> list[str]:
    """The entries a skrl 1.x checkpoint of ``agent``'s kind holds (models, optimizers, preprocessors)."""
    names = [name for name, model in agent.models.items() if model is not None]
    names += [name for name in OPTIMIZER_NAMES if isinstance(getattr(agent, name, None), torch.optim.Optimizer)]
    names += [name for name in PREPROCESSOR_NAMES if name in agent.checkpoint_modules]
    return names


def _layout_error(path: str, agent: Any, problem: str) -> CheckpointError:
    return CheckpointError(
        f"{path}: not an agent checkpoint for this {type(agent).__name__}: {problem}; expected a skrl 1.x agent checkpoint (a dict with {expected_names(agent)}) "
        f"or this package's <timestep>_agent.pt (written with checkpoint_policy_only=False)")


def _aligned(module: torch.nn.Module, state: Mapping[str, Any]) -> Mapping[str, Any]:
    """``state`` with skrl's instantiator container names (``net_container.<i>``) as this package's MLP
    models name the same layers (``net.<i>``), when that makes the keys and shapes match exactly."""
    own = module.state_dict()
    if set(state) == set(own) or not isinstance(state, Mapping):
        return state
    renamed = {(k.replace("net_container.", "net.", 1) if k.startswith("net_container.") else k): v
               for k, v in state.items()}
    if set(renamed) == set(own) and all(getattr(v, "shape", None) == own[k].shape for k, v in renamed.items()):
        return renamed
    return state


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: Mapping[str, Any], what: str, path: str) -> None:
    """Load a (plain ``torch.optim.Adam``) optimizer's ``state_dict`` into ``optimizer``, keeping its own
    settings (fused kernel, a device-tensor learning rate) and taking the saved per-parameter state and
    learning rates."""
    if not isinstance(saved, Mapping) or "state" not in saved or "param_groups" not in saved:
        raise CheckpointError(f"{path}: {what} is not an optimizer state_dict (expected 'state' and 'param_groups')")
    own = optimizer.state_dict()
    saved_counts = [len(g["params"]) for g in saved["param_groups"]]
    own_counts = [len(g["params"]) for g in own["param_groups"]]
    if saved_counts != own_counts:
        raise CheckpointError(f"{path}: {what} holds parameter groups of sizes {saved_counts}, this agent's "
                              f"{own_counts} (another architecture, or a shared model saved as separate ones)")
    # the saved parameter ids are positions in skrl's parameter order, which is this agent's order too
    ids = {old: new for saved_group, own_group in zip(saved["param_groups"], own["param_groups"])
           for old, new in zip(saved_group["params"], own_group["params"])}
    merged = {"state": {ids[k]: v for k, v in saved["state"].items() if k in ids},
              "param_groups": own["param_groups"]}
    optimizer.load_state_dict(merged)
    for group, saved_group in zip(optimizer.param_groups, saved["param_groups"]):
        lr = saved_group.get("lr")
        if lr is None:
            continue
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(float(lr))
        else:
            group["lr"] = float(lr)


def load_skrl1_checkpoint(agent: Any, path: str | os.PathLike, state: Mapping[str, Any] | None = None) -> dict:
    """Load a skrl 1.x agent checkpoint into ``agent`` (its models, optimizers and preprocessors); return
    ``{"timestep": t}`` with ``t`` from the file name (0 for ``best_agent.pt``).

    Every model of the agent must be in the file; an entry the agent has no counterpart for is an
    error too (e.g. a ``state_preprocessor`` saved but not configured), naming what to configure.

    :raises CheckpointError: for a missing or unreadable file, or one of another layout (one line
                             naming what was expected)
    """
    path = os.fspath(path)
    if state is None:
        state = load_state_dict_file(path, map_location=agent.device)
    if not isinstance(state, Mapping) or "format" in state or not any(isinstance(v, Mapping) for v in state.values()):
        raise _layout_error(path, agent, "it is not a dict of state_dicts (a single model's file loads with Model.load)")
    models = {name: model for name, model in agent.models.items() if model is not None}
    missing = [name for name in models if name not in state]
    if len(missing) == len(models):
        raise _layout_error(path, agent, f"none of its models is in the file (it holds {sorted(state)})")
    if missing:
        raise _layout_error(path, agent, f"models {missing} are missing (the file holds {sorted(state)})")
    unknown = [name for name in state if name not in expected_names(agent)]
    if unknown:
        hint = ""
        if any(name in PREPROCESSOR_NAMES for name in unknown):
            hint = " (configure the agent with cfg['<name>'] = 'RunningStandardScaler' to load a saved preprocessor)"
        raise _layout_error(path, agent, f"entries {unknown} have no counterpart in this agent{hint}")

    for name, model in models.items():
        module = unwrap(model)
        model_state = _aligned(module, state[name])
        check_state_dict(module, model_state, f"{path} [{name}]")
        module.load_state_dict(model_state)
        module.eval()
    for name in OPTIMIZER_NAMES:
        if name in state:
            load_optimizer_state(getattr(agent, name), state[name], name, path)
    for name in PREPROCESSOR_NAMES:
        if name in state:
            preprocessor = agent.checkpoint_modules[name]
            check_state_dict(preprocessor, state[name], f"{path} [{name}]")
            preprocessor.load_state_dict(state[name])
    if hasattr(agent, "log_entropy_coefficient"):
        logger.warning(f"{path}: skrl 1.x checkpoints do not hold SAC's entropy coefficient; it restarts at "
                       "cfg['initial_entropy_value']")
    return {"timestep": skrl1_file_timestep(path) or 0}


__all__ = ["load_skrl1_checkpoint", "load_optimizer_state", "is_skrl1_checkpoint_name", "skrl1_file_timestep",
           "expected_names"]
