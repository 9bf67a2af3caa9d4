"""skrl 1.x network definitions (``network=[{"name", "input", "layers", "activations"}]``, ``output="..."``)
read into torch modules and small evaluators, without generating or executing source code.

Supported, as skrl 1.3-1.4 documents them:

* ``input``: ``STATES`` / ``OBSERVATIONS``, ``ACTIONS``, ``STATES_ACTIONS`` / ``OBSERVATIONS_ACTIONS``,
  the name of an earlier container, and ``concatenate([...])`` of those;
* ``layers``: an int (a linear layer of that many units), ``{"linear": n | [n, bias] | {...}}``,
  ``{"conv2d": [...] | {...}}``, ``"flatten"`` / ``{"flatten": ...}``;
* ``activations``: one name or one per layer: elu, leaky_relu, relu, selu, sigmoid, softmax, softplus,
  softsign, tanh;
* ``output``: an expression of ``ACTIONS`` or ``ONE`` (a linear layer of that size on the last container)
  with those activations, ``concatenate``, numbers and ``+ - * /``, e.g. ``"2 * tanh(ACTIONS)"``.

The parameters of skrl before 1.3 (``input_shape``, ``hiddens``, ``hidden_activation``, ``output_shape``,
``output_activation``, ``output_scale``) are converted to that form (:func:`convert_deprecated_parameters`).
"""

from __future__ import annotations

import ast
import operator
from enum import Enum
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn as nn

Evaluator = Callable[[Mapping[str, torch.Tensor]], Any]


class Shape(Enum):
    """skrl's (pre-1.3) input/output shapes of the model instantiators."""

    ONE = 1
    STATES = 0
    OBSERVATIONS = 0
    ACTIONS = -1
    STATES_ACTIONS = -2


ACTIVATIONS: dict[str, tuple[type[nn.Module], Callable]] = {
    "elu": (nn.ELU, nn.functional.elu),
    "leaky_relu": (nn.LeakyReLU, nn.functional.leaky_relu),
    "relu": (nn.ReLU, nn.functional.relu),
    "selu": (nn.SELU, nn.functional.selu),
    "sigmoid": (nn.Sigmoid, torch.sigmoid),
    "softmax": (lambda: nn.Softmax(dim=-1), lambda x: nn.functional.softmax(x, dim=-1)),
    "softplus": (nn.Softplus, nn.functional.softplus),
    "softsign": (nn.Softsign, nn.functional.softsign),
    "tanh": (nn.Tanh, torch.tanh),
}
_ALIASES = {"OBSERVATIONS": "STATES", "OBSERVATIONS_ACTIONS": "STATES_ACTIONS"}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}


def _token(value: Any) -> str:
    text = str(value).replace("Shape.", "")
    return _ALIASES.get(text, text)


def _error(what: str, value: Any, valid: str) -> ValueError:
    return ValueError(f"model instantiator: unsupported {what} {value!r}; valid: {valid}")


def compile_expression(source: str, names: Sequence[str], what: str) -> Evaluator:
    """An evaluator of ``source`` over named tensors: ``names``, activations, ``concatenate``, arithmetic."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        raise _error(what, source, "an expression such as 'concatenate([STATES, ACTIONS])' or '2 * tanh(ACTIONS)'") \
            from None

    def build(node: ast.AST) -> Evaluator:
        if isinstance(node, ast.Name):
            name = _ALIASES.get(node.id, node.id)
            if name == "STATES_ACTIONS":
                return lambda env: torch.cat([env["STATES"], env["ACTIONS"]], dim=1)
            if name not in names:
                raise _error(f"name in {what}", node.id, ", ".join(sorted(set(names) | {"STATES_ACTIONS"})))
            return lambda env: env[name]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            value = node.value
            return lambda env: value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = build(node.operand)
            return lambda env: -inner(env)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op, left, right = _BINARY[type(node.op)], build(node.left), build(node.right)
            return lambda env: op(left(env), right(env))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1 and not node.keywords:
            function = node.func.id
            if function == "concatenate" and isinstance(node.args[0], (ast.List, ast.Tuple)):
                parts = [build(item) for item in node.args[0].elts]
                return lambda env: torch.cat([part(env) for part in parts], dim=1)
            if function.lower() in ACTIVATIONS:
                activation, argument = ACTIVATIONS[function.lower()][1], build(node.args[0])
                return lambda env: activation(argument(env))
        raise _error(f"part of {what}", ast.unparse(node),
                     f"names {sorted(names)}, numbers, + - * /, concatenate([...]), {sorted(ACTIVATIONS)}")

    return build(tree)


def _layer(layer: Any, device: torch.device) -> tuple[nn.Module, bool]:
    """One layer definition as a module; the flag says whether an activation may follow it."""
    if isinstance(layer, (int, float)) and not isinstance(layer, bool):
        return nn.LazyLinear(int(layer), device=device), True
    if isinstance(layer, str) and layer.lower() == "flatten":
        return nn.Flatten(), False
    if isinstance(layer, Mapping) and len(layer) == 1:
        kind, kwargs = next(iter(layer.items()))
        kind = kind.lower()
        if kind == "linear":
            if isinstance(kwargs, (int, float)):
                kwargs = {"out_features": int(kwargs)}
            elif isinstance(kwargs, (list, tuple)):
                kwargs = dict(zip(("out_features", "bias"), kwargs))
            else:
                kwargs = {{"features": "out_features", "use_bias": "bias"}.get(k, k): v for k, v in kwargs.items()}
            if "in_features" in kwargs:
                return nn.Linear(**kwargs, device=device), True
            return nn.LazyLinear(**kwargs, device=device), True
        if kind == "conv2d":
            if isinstance(kwargs, (list, tuple)):
                kwargs = dict(zip(("out_channels", "kernel_size", "stride", "padding", "bias"), kwargs))
            else:
                kwargs = {{"features": "out_channels", "strides": "stride", "use_bias": "bias"}.get(k, k): v
                          for k, v in kwargs.items()}
            if "in_channels" in kwargs:
                return nn.Conv2d(**kwargs, device=device), True
            return nn.LazyConv2d(**kwargs, device=device), True
        if kind == "flatten":
            if isinstance(kwargs, (list, tuple)):
                kwargs = dict(zip(("start_dim", "end_dim"), kwargs))
            return nn.Flatten(**(kwargs or {})), False
    raise _error("layer", layer, "an int, {'linear': ...}, {'conv2d': ...}, 'flatten' or {'flatten': ...}")


def build_sequential(layers: Sequence[Any], activations: str | Sequence[str] | None,
                     device: torch.device) -> list[nn.Module]:
    """The modules of one container: each layer followed by its activation (skrl's expansion rules)."""
    layers = list(layers)
    if isinstance(activations, str):
        activations = [activations] * len(layers)
    activations = list(activations or [])
    if len(activations) == 1:
        activations = activations * len(layers)
    if activations and len(activations) != len(layers):
        raise ValueError(f"model instantiator: {len(activations)} activations for {len(layers)} layers; "
                         "give one activation, or one per layer")
    modules: list[nn.Module] = []
    for layer, activation in zip(layers, activations or [None] * len(layers)):
        module, may_activate = _layer(layer, device)
        modules.append(module)
        if activation and may_activate:
            if activation.lower() not in ACTIVATIONS:
                raise _error("activation", activation, ", ".join(sorted(ACTIVATIONS)))
            modules.append(ACTIVATIONS[activation.lower()][0]())
    return modules


def parse_output(output: str | Shape) -> tuple[str | None, str]:
    """``(token, expression)``: the size token (``"ACTIONS"``, ``"ONE"`` or None: no output layer) and the
    expression with the token replaced by ``OUTPUT``."""
    text = _token(output) if isinstance(output, Shape) else str(output or "").replace("Shape.", "")
    token = "ONE" if "ONE" in text else "ACTIONS" if "ACTIONS" in text.replace("STATES_ACTIONS", "") else None
    if token is not None:
        text = text.replace(token, "OUTPUT")
    return token, text


def convert_deprecated_parameters(parameters: Mapping[str, Any]) -> tuple[list[dict], str]:
    """skrl's pre-1.3 arguments (``input_shape``, ``hiddens``, ``hidden_activation``, ``output_shape``,
    ``output_activation``, ``output_scale``) as a ``network`` and an ``output``."""
    activations = parameters.get("hidden_activation", [])
    if isinstance(activations, (list, tuple)) and len(set(activations)) == 1:
        activations = activations[0]
    network = [{"name": "net", "input": _token(parameters.get("input_shape", "STATES")),
                "layers": list(parameters.get("hiddens", [])), "activations": activations}]
    output = _token(parameters.get("output_shape", "ACTIONS"))
    if parameters.get("output_activation"):
        output = f"{parameters['output_activation']}({output})"
    scale = parameters.get("output_scale", 1.0)
    if scale != 1.0:
        output = f"{scale} * {output}"
    return network, output


DEPRECATED_PARAMETERS = ("input_shape", "hiddens", "hidden_activation", "output_shape", "output_activation",
                         "output_scale")
