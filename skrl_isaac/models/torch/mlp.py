"""Multilayer-perceptron models built from a config (``hiddens``, ``activation``), used by the CLI."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from skrl_isaac.models.torch.categorical import CategoricalModel
from skrl_isaac.models.torch.deterministic import DeterministicModel
from skrl_isaac.models.torch.gaussian import GaussianModel
from skrl_isaac.utils.compiling import compiling

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh, "selu": nn.SELU, "leaky_relu": nn.LeakyReLU,
               "silu": nn.SiLU, "gelu": nn.GELU}
# activations whose gradient autograd computes from their output, so they can overwrite their input
IN_PLACE_ACTIVATIONS = frozenset({"elu", "relu", "selu", "leaky_relu"})


def activation_class(name: str) -> type[nn.Module]:
    """The module class of the activation ``name`` (a key of :data:`ACTIVATIONS`); a clear error
    naming the valid ones otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def hidden_activation(name: str) -> nn.Module:
    """The activation module after a hidden ``Linear``: in place where its gradient needs only its
    output (:data:`IN_PLACE_ACTIVATIONS`). The ``Linear``'s output is then reused instead of a new
    tensor, and ELU's backward pass reads the output instead of recomputing ``exp`` (about 3x
    cheaper); the values are the same function of the inputs, and state dicts are unchanged."""
    cls = activation_class(name)
    return cls(inplace=True) if name in IN_PLACE_ACTIVATIONS else cls()


def mlp(inputs: int, hiddens: Sequence[int], outputs: int, activation: str = "elu") -> nn.Sequential:
    """``Linear -> act`` for each hidden size, then a final ``Linear`` to ``outputs`` (the hidden
    activations run in place where that is exact, see :func:`hidden_activation`)."""
    activation_class(activation)  # checked even without hidden layers
    if any(int(h) < 1 for h in hiddens):
        raise ValueError(f"hidden sizes must be >= 1, got {list(hiddens)}")
    layers: list[nn.Module] = []
    for size in hiddens:
        layers += [nn.Linear(inputs, int(size)), hidden_activation(activation)]
        inputs = int(size)
    layers.append(nn.Linear(inputs, outputs))
    return nn.Sequential(*layers)


class TrunkOutput:
    """The hidden-layer output that one :class:`SharedTrunkMLP` computed for an input, kept for the other."""

    __slots__ = ("input", "version", "output", "producer")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.input = self.version = self.output = self.producer = None

    def __reduce__(self) -> tuple:
        # copies and pickles start empty (an autograd output cannot be copied); the models copied together
        # (one deepcopy, one pickle) still share the new one
        return TrunkOutput, ()


class SharedTrunkMLP(nn.Sequential):
    """``hidden layers..., head``, the hidden layers shared with another model's ``SharedTrunkMLP``.

    When the other model already ran the hidden layers on this very input tensor (the same object, not
    modified since) with gradients enabled, its output is taken instead of running them again, once: PPO's
    update evaluates the policy and the value on one minibatch, so the trunk runs forward and backward once
    per minibatch, as rl_games' actor-critic does. Without gradients (rollouts, values, export), under
    tracing or compilation, every call runs the whole network. The state dict is a plain ``nn.Sequential``'s.
    """

    def __init__(self, *layers: nn.Module, trunk_output: TrunkOutput | None = None) -> None:
        super().__init__(*layers)
        self.trunk_output = trunk_output if trunk_output is not None else TrunkOutput()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden_layers, head = self
        shared = self.trunk_output
        reuse = torch.is_grad_enabled() and not torch.jit.is_tracing() and not compiling()
        if reuse and shared.input is x and shared.version == x._version and shared.producer is not self:
            hidden = shared.output
            shared.clear()
        else:
            hidden = x
            for layer in hidden_layers:
                hidden = layer(hidden)
            shared.clear()
            if reuse:
                shared.input, shared.version, shared.output, shared.producer = x, x._version, hidden, self
        return head(hidden)


def share_hidden_layers(source: nn.Module, target: nn.Module) -> None:
    """Give ``target.net`` the hidden layers of ``source.net`` (every module but its output ``Linear``): one trunk
    with two heads, rl_games' ``separate: False`` actor-critic. The trunk's parameters then appear in both
    models' state dicts (loading either restores it) and once in an optimizer built over both. Both nets become
    :class:`SharedTrunkMLP`: on the same input with gradients, the trunk runs once for both heads."""
    if [m.out_features for m in source.net if isinstance(m, nn.Linear)][:-1] != \
            [m.out_features for m in target.net if isinstance(m, nn.Linear)][:-1]:
        raise ValueError("shared hidden layers need the same hidden sizes in both models")
    shared = TrunkOutput()
    layers = list(source.net)
    source.net = SharedTrunkMLP(*layers, trunk_output=shared)
    target.net = SharedTrunkMLP(*layers[:-1], target.net[-1], trunk_output=shared)


class MLPGaussianPolicy(GaussianModel):
    """Gaussian policy: an MLP for the mean actions and a state-independent ``log_std`` parameter."""

    def __init__(self, observation_space: Any, action_space: Any, device: str | torch.device = "cpu",
                 clip_actions: bool = False, clip_log_std: bool = True, min_log_std: float = -20,
                 max_log_std: float = 2, hiddens: Sequence[int] = (256, 128, 64), activation: str = "elu",
                 initial_log_std: float = 0.0) -> None:
        super().__init__(observation_space, action_space, device, clip_actions, clip_log_std, min_log_std, max_log_std)
        self.net = mlp(self.num_observations, hiddens, self.num_actions, activation)
        self.log_std_parameter = nn.Parameter(torch.full((self.num_actions,), float(initial_log_std)))
        self.to(self.device)

    def compute(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None) -> tuple:
        return self.net(states), self.log_std_parameter


class MLPDeterministic(DeterministicModel):
    """Deterministic MLP: a value function (``outputs=1``), a policy, or a critic (``critic=True`` takes states and actions)."""

    def __init__(self, observation_space: Any, action_space: Any, device: str | torch.device = "cpu",
                 clip_actions: bool = False, hiddens: Sequence[int] = (256, 128, 64), activation: str = "elu",
                 outputs: int | None = None, critic: bool = False, output_activation: str | None = None) -> None:
        super().__init__(observation_space, action_space, device, clip_actions)
        self.critic = critic
        inputs = self.num_observations + (self.num_actions if critic else 0)
        self.net = mlp(inputs, hiddens, self.num_actions if outputs is None else int(outputs), activation)
        if output_activation is not None:
            self.net.append(activation_class(output_activation)())
        self.to(self.device)

    def compute(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None) -> torch.Tensor:
        if self.critic:
            return self.net(torch.cat((states, taken_actions), dim=-1))
        return self.net(states)


class MLPCategoricalPolicy(CategoricalModel):
    """Categorical policy: an MLP that outputs one logit per discrete action."""

    def __init__(self, observation_space: Any, action_space: Any, device: str | torch.device = "cpu",
                 hiddens: Sequence[int] = (64, 64), activation: str = "elu") -> None:
        super().__init__(observation_space, action_space, device, unnormalized_log_prob=True)
        self.net = mlp(self.num_observations, hiddens, int(action_space.n), activation)
        self.to(self.device)

    def compute(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(states)
