"""skrl 1.x's model instantiators: ``gaussian_model``, ``deterministic_model``, ``categorical_model``, ``shared_model``.

They build mixin models (:mod:`skrl_isaac.models.torch.mixins`) from a network definition (see
:mod:`.definitions`). The modules carry skrl 1.3-1.4's attribute names (``<name>_container``,
``log_std_parameter``, ``<role>_layer`` in shared models), so the state_dicts match skrl's and skrl 1.x
checkpoints of instantiated models load. Lazy layers are materialized at construction (one forward
pass on a zero batch), so the optimizers see real parameters.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn

from skrl_isaac.models.torch.base import Model
from skrl_isaac.models.torch.mixins import CategoricalMixin, DeterministicMixin, GaussianMixin
from skrl_isaac.models.torch.instantiators.definitions import (DEPRECATED_PARAMETERS, build_sequential,
                                                                    compile_expression, convert_deprecated_parameters,
                                                                    parse_output)

MIXINS = {"gaussianmixin": GaussianMixin, "deterministicmixin": DeterministicMixin,
          "categoricalmixin": CategoricalMixin}


def _device(device: Any) -> torch.device:
    return torch.device(device if device is not None else ("cuda:0" if torch.cuda.is_available() else "cpu"))


def _definition(network: Sequence[Mapping[str, Any]], output: Any, kwargs: Mapping[str, Any]) -> tuple[list, Any]:
    unknown = sorted(set(kwargs) - set(DEPRECATED_PARAMETERS))
    if unknown:
        raise TypeError(f"model instantiator: unknown arguments {unknown}; valid: network, output (or skrl's "
                        f"pre-1.3 {list(DEPRECATED_PARAMETERS)})")
    if not network and kwargs:
        return convert_deprecated_parameters(kwargs)
    if not network:
        raise ValueError("model instantiator: network is empty; give network=[{'name': 'net', 'input': 'STATES', "
                         "'layers': [64, 64], 'activations': 'elu'}] and output='ACTIONS'")
    return list(network), output


def _no_source(return_source: bool) -> None:
    if return_source:
        raise ValueError("model instantiator: return_source=True is not available: this package builds the "
                         "modules directly, without generating class source code")


class InstantiatedModel(Model):
    """Base of the instantiated models: containers, their inputs, an output layer and expression per role."""

    def _add_containers(self, network: Sequence[Mapping[str, Any]]) -> list[str]:
        names = ["STATES", "ACTIONS"]
        self._plan: list[tuple[str, Any]] = []
        for item in network:
            name = item["name"]
            modules = build_sequential(item.get("layers", []), item.get("activations", []), self.device)
            self._plan.append((name, compile_expression(str(item.get("input", "STATES")).replace("Shape.", ""),
                                                        names, f"input of container {name!r}")))
            setattr(self, f"{name}_container", nn.Sequential(*modules))
            names.append(name)
        return names

    def _output_size(self, token: str | None) -> int:
        return 1 if token == "ONE" else self.num_actions

    def _add_output(self, role: str, output: Any, names: list[str], layer_name: str | None) -> int:
        """The output of ``role``: a linear layer of the token's size (appended to the last container when
        ``layer_name`` is None, else as its own attribute) and the expression on it. Return the size."""
        token, expression = parse_output(output)
        size = self._output_size(token)
        if token is not None:
            layer = nn.LazyLinear(size, device=self.device)
            if layer_name is None:
                getattr(self, f"{self._plan[-1][0]}_container").append(layer)
            else:
                setattr(self, layer_name, layer)
        self.__dict__.setdefault("_outputs", {})[role] = (
            layer_name if token is not None else None,
            compile_expression(expression or "OUTPUT", names + ["OUTPUT"], "output"))
        return size

    def _shared_features(self, inputs: Mapping[str, torch.Tensor]) -> tuple[dict, torch.Tensor]:
        env = {"STATES": inputs["states"], "ACTIONS": inputs.get("taken_actions")}
        for name, input_of in self._plan:
            env[name] = getattr(self, f"{name}_container")(input_of(env))
        return env, env[self._plan[-1][0]]

    def _role_output(self, env: dict, features: torch.Tensor, role: str) -> torch.Tensor:
        layer_name, expression = self._outputs[role] if role in self._outputs else next(iter(self._outputs.values()))
        env = dict(env, OUTPUT=features if layer_name is None else getattr(self, layer_name)(features))
        return expression(env)

    def _materialize(self, roles: Sequence[str]) -> None:
        """Run each role once on a zero batch so that the lazy layers get their shapes."""
        zeros = {"states": torch.zeros((1, self.num_observations), device=self.device),
                 "taken_actions": torch.zeros((1, self.num_actions), device=self.device)}
        with torch.no_grad():
            for role in roles:
                self.compute(zeros, role)


class _SingleModel(InstantiatedModel):
    def _setup(self, network: Sequence[Mapping[str, Any]], output: Any) -> int:
        names = self._add_containers(network)
        return self._add_output("", output, names, None)

    def _forward(self, inputs: Mapping[str, torch.Tensor], role: str = "") -> torch.Tensor:
        env, features = self._shared_features(inputs)
        return self._role_output(env, features, "")


class InstantiatedGaussianModel(GaussianMixin, _SingleModel):
    def __init__(self, observation_space, action_space, device, clip_actions, clip_log_std, min_log_std,
                 max_log_std, reduction, initial_log_std, fixed_log_std, network, output) -> None:
        Model.__init__(self, observation_space, action_space, device)
        GaussianMixin.__init__(self, clip_actions, clip_log_std, min_log_std, max_log_std, reduction)
        size = self._setup(network, output)
        self.log_std_parameter = nn.Parameter(torch.full((size,), float(initial_log_std), device=self.device),
                                              requires_grad=not fixed_log_std)
        self._materialize([""])

    def compute(self, inputs, role=""):
        return self._forward(inputs, role), self.log_std_parameter, {}


class InstantiatedDeterministicModel(DeterministicMixin, _SingleModel):
    def __init__(self, observation_space, action_space, device, clip_actions, network, output) -> None:
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self._setup(network, output)
        self._materialize([""])

    def compute(self, inputs, role=""):
        return self._forward(inputs, role), {}


class InstantiatedCategoricalModel(CategoricalMixin, _SingleModel):
    def __init__(self, observation_space, action_space, device, unnormalized_log_prob, network, output) -> None:
        Model.__init__(self, observation_space, action_space, device)
        CategoricalMixin.__init__(self, unnormalized_log_prob)
        self._setup(network, output)
        self._materialize([""])

    def _output_size(self, token: str | None) -> int:
        return 1 if token == "ONE" else int(getattr(self.action_space, "n", self.num_actions))

    def compute(self, inputs, role=""):
        return self._forward(inputs, role), {}


def gaussian_model(observation_space: Any = None, action_space: Any = None, device: Any = None,
                   clip_actions: bool = False, clip_log_std: bool = True, min_log_std: float = -20,
                   max_log_std: float = 2, reduction: str = "sum", initial_log_std: float = 0,
                   fixed_log_std: bool = False, network: Sequence[Mapping[str, Any]] = (), output: Any = "",
                   return_source: bool = False, **kwargs: Any) -> Model:
    """A Gaussian model (``GaussianMixin``) from a network definition, as skrl 1.x's ``gaussian_model``.

    :param initial_log_std: initial value of the state-independent log standard deviation parameter
    :param fixed_log_std: keep the log standard deviation fixed (no gradient)
    :param network: containers ``[{"name", "input", "layers", "activations"}]``
    :param output: output expression, e.g. ``"ACTIONS"`` or ``"2 * tanh(ACTIONS)"``
    """
    _no_source(return_source)
    network, output = _definition(network, output, kwargs)
    return InstantiatedGaussianModel(observation_space, action_space, _device(device), clip_actions, clip_log_std,
                                     min_log_std, max_log_std, reduction, initial_log_std, fixed_log_std, network,
                                     output)


def deterministic_model(observation_space: Any = None, action_space: Any = None, device: Any = None,
                        clip_actions: bool = False, network: Sequence[Mapping[str, Any]] = (), output: Any = "",
                        return_source: bool = False, **kwargs: Any) -> Model:
    """A deterministic model (``DeterministicMixin``) from a network definition, as skrl 1.x's ``deterministic_model``
    (critics: ``"input": "concatenate([STATES, ACTIONS])"``, ``output="ONE"``)."""
    _no_source(return_source)
    network, output = _definition(network, output, kwargs)
    return InstantiatedDeterministicModel(observation_space, action_space, _device(device), clip_actions, network,
                                          output)


def categorical_model(observation_space: Any = None, action_space: Any = None, device: Any = None,
                      unnormalized_log_prob: bool = True, network: Sequence[Mapping[str, Any]] = (),
                      output: Any = "", return_source: bool = False, **kwargs: Any) -> Model:
    """A categorical model (``CategoricalMixin``) from a network definition, as skrl 1.x's ``categorical_model``
    (``ACTIONS`` is the number of discrete actions)."""
    _no_source(return_source)
    network, output = _definition(network, output, kwargs)
    return InstantiatedCategoricalModel(observation_space, action_space, _device(device), unnormalized_log_prob,
                                        network, output)


class _SharedModel(InstantiatedModel):
    """Shared containers, one output layer per role (``<role>_layer``), dispatching on ``role``."""

    def _setup_shared(self, structure: Sequence[str], roles: Sequence[str], parameters: Sequence[Mapping[str, Any]],
                      single_forward_pass: bool) -> None:
        self._roles = list(roles)
        self._single_forward_pass = single_forward_pass
        self._cached: tuple[Any, torch.Tensor] | None = None
        names = self._add_containers(parameters[0]["network"])
        for mixin_name, role, parameter in zip(structure, roles, parameters):
            size = self._add_output(role, parameter.get("output", ""), names, f"{role}_layer")
            mixin = MIXINS[mixin_name.lower()]
            if mixin is GaussianMixin:
                GaussianMixin.__init__(self, parameter.get("clip_actions", False), parameter.get("clip_log_std", True),
                                       parameter.get("min_log_std", -20), parameter.get("max_log_std", 2),
                                       parameter.get("reduction", "sum"), role=role)
                self.log_std_parameter = nn.Parameter(
                    torch.full((size,), float(parameter.get("initial_log_std", 0)), device=self.device),
                    requires_grad=not parameter.get("fixed_log_std", False))
            elif mixin is DeterministicMixin:
                DeterministicMixin.__init__(self, parameter.get("clip_actions", False), role=role)
            else:
                CategoricalMixin.__init__(self, parameter.get("unnormalized_log_prob", True), role=role)
        self._materialize(self._roles)

    def act(self, inputs, role):
        return MIXINS[self._structure[self._roles.index(role)].lower()].act(self, inputs, role)

    def compute(self, inputs, role=""):
        cached = self._cached
        # single forward pass: the second role reuses the shared features computed for the same states tensor
        states = inputs["states"]
        key = (id(states), states._version)  # the same tensor, not modified in place since
        if self._single_forward_pass and cached is not None and cached[0] == key:
            env, features = cached[1]
            self._cached = None
        else:
            env, features = self._shared_features(inputs)
            self._cached = (key, (env, features)) if self._single_forward_pass else None
        output = self._role_output(env, features, role)
        mixin = self._structure[self._roles.index(role) if role in self._roles else 0].lower()
        if mixin == "gaussianmixin":
            return output, self.log_std_parameter, {}
        return output, {}


def shared_model(observation_space: Any = None, action_space: Any = None, device: Any = None,
                 structure: Sequence[str] = ("GaussianMixin", "DeterministicMixin"), roles: Sequence[str] = (),
                 parameters: Sequence[Mapping[str, Any]] = (), single_forward_pass: bool = True,
                 return_source: bool = False) -> Model:
    """A shared model as skrl 1.x's ``shared_model``: the containers of ``parameters[0]["network"]`` shared by
    the roles, one output layer per role (e.g. ``roles=["policy", "value"]``).

    :param structure: the mixin of each role (``"GaussianMixin"``, ``"DeterministicMixin"``, ``"CategoricalMixin"``)
    :param roles: the roles, as the agent names its models (PPO: ``["policy", "value"]``)
    :param parameters: one dict per role: that mixin's arguments, ``network`` (the first one's is shared) and
                       ``output``
    :param single_forward_pass: compute the shared containers once when the roles are called on the same states
    """
    _no_source(return_source)
    structure, roles = list(structure), list(roles)
    if not (len(structure) == len(roles) == len(parameters) == 2):
        raise ValueError(f"shared_model: structure ({len(structure)}), roles ({len(roles)}) and parameters "
                         f"({len(parameters)}) must each have 2 items, e.g. roles=['policy', 'value']")
    unknown = [name for name in structure if name.lower() not in MIXINS]
    if unknown:
        raise ValueError(f"shared_model: unsupported structure {unknown}; valid: GaussianMixin, DeterministicMixin, "
                         "CategoricalMixin")
    converted = []
    for parameter in parameters:
        parameter = dict(parameter)
        if "network" not in parameter:
            deprecated = {k: parameter.pop(k) for k in DEPRECATED_PARAMETERS if k in parameter}
            parameter["network"], parameter["output"] = convert_deprecated_parameters(deprecated)
        converted.append(parameter)
    cls = type("SharedModel", tuple(MIXINS[name.lower()] for name in structure) + (_SharedModel,),
               {"_structure": structure, "act": _SharedModel.act})  # dispatch on role before the mixins
    model = cls.__new__(cls)
    Model.__init__(model, observation_space, action_space, _device(device))
    model._setup_shared(structure, roles, converted, single_forward_pass)
    return model


__all__ = ["gaussian_model", "deterministic_model", "categorical_model", "shared_model"]
