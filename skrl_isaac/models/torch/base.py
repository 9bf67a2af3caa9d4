"""Model base class: spaces, device, state_dict checkpoints."""

from __future__ import annotations

import os
from typing import Any, Mapping

import gymnasium
import numpy as np
import torch

from skrl_isaac.utils.spaces import flatten_size


LOW_PRECISION = (torch.bfloat16, torch.float16)


def full_precision(output: Any) -> Any:
    """A model output computed under ``torch.autocast`` (bfloat16/float16) as float32, so that the
    distributions, clipping and losses built on it run in float32; anything else unchanged."""
    if isinstance(output, torch.Tensor) and output.dtype in LOW_PRECISION:
        return output.float()
    return output


class CheckpointError(RuntimeError):
    """A checkpoint file could not be loaded into a model: the message names the file and the problem."""


def _unreadable_reason(path: str) -> str:
    """What a file that ``torch.load`` cannot read is (or is not), from its first bytes."""
    import zipfile

    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        return "the file is empty"
    if head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            return "a zip archive that is truncated or corrupt (the end of the file is missing)"
        return "a zip archive, but not a torch file, or it holds Python objects beyond tensors (weights_only=True)"
    if head[:1] == b"\x80":  # a pickle (torch's legacy format, or pickle.dump)
        return "a pickle, not torch's zip format with plain tensors (or it is truncated)"
    try:
        head.decode("utf-8")
        is_text = all(c.isprintable() or c.isspace() for c in head.decode("utf-8"))
    except UnicodeDecodeError:
        is_text = False
    if is_text:
        return "a text file, not a torch file (torch.save writes a zip archive)"
    return "not a torch file: neither a zip archive (torch.save's format) nor a pickle"


def load_state_dict_file(path: str | os.PathLike, map_location: str | torch.device | None = None) -> dict:
    """Read a plain ``state_dict`` file with ``weights_only=True`` and a clear error when it is not one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # truncated file, pickle with code, not a torch file...
        raise CheckpointError(f"{path}: not a readable checkpoint ({_unreadable_reason(path)})") from None
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: expected a state_dict (a mapping of names to tensors), got {type(state).__name__}")
    return dict(state)


def check_state_dict(module: torch.nn.Module, state: Mapping[str, Any], path: str) -> None:
    """Raise :class:`CheckpointError` listing missing/unexpected keys and shape mismatches."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if isinstance(state[k], torch.Tensor) and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if shapes:
        problems.append(f"shape mismatch [{'; '.join(shapes)}]")
    if problems:
        raise CheckpointError(
            f"{path}: checkpoint does not match the architecture of {type(module).__name__}: " + ", ".join(problems)
        )


class Model(torch.nn.Module):
    """Base class of every model (policy, value function, Q-network, critic).

    :param observation_space: observation/state space (gymnasium or gym space, or an int size)
    :param action_space: action space (gymnasium or gym space, or an int size)
    :param device: device on which the model's parameters live (e.g. ``"cpu"``, ``"cuda:0"``)

    Subclasses implement :meth:`compute` ``(states, taken_actions)`` and inherit from one of
    :class:`DeterministicModel`, :class:`GaussianModel` or :class:`CategoricalModel`, which implement
    :meth:`act`.
    """

    def __init__(self, observation_space: Any, action_space: Any, device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.observation_space = observation_space
        self.action_space = action_space
        self.device = torch.device(device)
        self.num_observations = flatten_size(observation_space)
        self.num_actions = flatten_size(action_space)

    # -- to be implemented by the user --------------------------------------------------------
    def compute(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None) -> Any:
        """Compute the model's output from ``states`` (and ``taken_actions`` for critics)."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute(self, states, taken_actions)")

    def act(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None, inference: bool = False) -> tuple:
        """Return ``(actions, log_prob, outputs)``; implemented by the model-type mixins."""
        raise NotImplementedError

    def forward(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None) -> Any:
        return self.act(states, taken_actions)

    # -- utilities ----------------------------------------------------------------------------
    def _init_action_clipping(self, clip_actions: bool) -> None:
        """Set :attr:`clip_actions` (on only for a space with bounds) and keep the bounds as float32
        buffers on the model's device (not in ``state_dict``: they come from the space)."""
        self.clip_actions = bool(clip_actions) and hasattr(self.action_space, "low")
        if self.clip_actions:
            for name, bound in (("_clip_low", self.action_space.low), ("_clip_high", self.action_space.high)):
                self.register_buffer(name, torch.as_tensor(np.asarray(bound), dtype=torch.float32, device=self.device),
                                     persistent=False)

    def clip_to_action_space(self, actions: torch.Tensor) -> torch.Tensor:
        """``actions`` clamped to the action space's bounds when :attr:`clip_actions` is on, else as given."""
        return torch.clamp(actions, self._clip_low, self._clip_high) if self.clip_actions else actions

    def random_act(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None) -> tuple:
        """Sample uniformly random actions from the action space (one per row of ``states``)."""
        n = states.shape[0]
        space = self.action_space
        if isinstance(space, gymnasium.spaces.Discrete) or type(space).__name__ == "Discrete":
            actions = torch.randint(int(space.n), (n, 1), device=self.device)
        else:
            low = torch.as_tensor(np.asarray(space.low), dtype=torch.float32, device=self.device)
            high = torch.as_tensor(np.asarray(space.high), dtype=torch.float32, device=self.device)
            actions = low + (high - low) * torch.rand((n, self.num_actions), device=self.device)
        return actions, None, None

    def init_parameters(self, method_name: str = "normal_", *args: Any, **kwargs: Any) -> None:
        """Initialize every parameter in place with ``torch.nn.init.<method_name>``."""
        method = getattr(torch.nn.init, method_name)
        for p in self.parameters():
            method(p, *args, **kwargs)

    def set_mode(self, mode: str) -> None:
        """Set ``"train"`` or ``"eval"`` mode."""
        if mode not in ("train", "eval"):
            raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
        self.train(mode == "train")

    def freeze_parameters(self, freeze: bool = True) -> None:
        """Freeze (or unfreeze) all parameters, e.g. for target networks."""
        for p in self.parameters():
            p.requires_grad_(not freeze)

    @torch.no_grad()
    def update_parameters(self, model: torch.nn.Module, polyak: float = 1.0) -> None:
        """Copy (``polyak=1``) or soft-update (``theta <- polyak * theta_src + (1 - polyak) * theta``) from ``model``."""
        src = list(model.parameters())
        dst = list(self.parameters())
        if polyak == 1:
            for d, s in zip(dst, src):
                d.copy_(s)
        else:
            torch._foreach_lerp_(dst, src, polyak)

    def save(self, path: str | os.PathLike, state_dict: Mapping[str, Any] | None = None) -> None:
        """Save the model's ``state_dict`` (or the given one) to ``path`` atomically."""
        from skrl_isaac.utils.files import atomic_torch_save

        atomic_torch_save(dict(self.state_dict() if state_dict is None else state_dict), path)

    def load(self, path: str | os.PathLike) -> None:
        """Load a ``state_dict`` saved by :meth:`save` (read with ``weights_only=True``).

        :raises CheckpointError: if the file is missing, unreadable or for another architecture
                                 (the message lists the mismatched keys and shapes)
        """
        state = load_state_dict_file(path, map_location=self.device)
        check_state_dict(self, state, os.fspath(path))
        self.load_state_dict(state)
        self.to(self.device)  # a model built without .to(device) (as in the spec's example) ends up on its device
        self.eval()
