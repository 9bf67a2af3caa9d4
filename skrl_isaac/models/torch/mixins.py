"""skrl 0.8-1.4 model mixins: ``GaussianMixin``, ``DeterministicMixin``, ``CategoricalMixin``.

A model written for skrl combines a mixin with :class:`~skrl_isaac.models.torch.Model`::

    class Policy(GaussianMixin, Model):
        def __init__(self, observation_space, action_space, device, clip_actions=False):
            Model.__init__(self, observation_space, action_space, device)
            GaussianMixin.__init__(self, clip_actions, clip_log_std=True, min_log_std=-20, max_log_std=2)
            ...

        def compute(self, inputs, role):                 # skrl 0.9-1.4
            return self.net(inputs["states"]), self.log_std_parameter, {}

        # or, as in skrl 0.8:
        # def compute(self, states, taken_actions, role):
        #     return self.net(states), self.log_std_parameter

Both signature generations work: :func:`signature_generation` reads which one the model's
``compute`` (or its own ``act``, for shared models) uses, and the mixins' ``act`` accepts both
calling styles (``act(inputs, role)`` returns ``(actions, log_prob, outputs)`` with ``outputs`` a
dict; ``act(states, taken_actions, role)`` returns ``(actions, log_prob, mean_actions)``).

Every per-model setting and the last distribution are kept per ``role`` (the mixin's ``role``
constructor argument), so one shared model can be a Gaussian policy (``role="policy"``) and a
deterministic value function (``role="value"``) at once. The agents talk to these models through
:class:`~skrl_isaac.models.torch.adapter.ModelAdapter`, which passes each model its role.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import numpy as np
import torch
from torch.distributions import Categorical, Normal

from skrl_isaac.models.torch.base import full_precision

GENERATION_INPUTS = "inputs"   # skrl 0.9-1.4: compute(inputs, role), act(inputs, role)
GENERATION_STATES = "states"   # skrl 0.8: compute(states, taken_actions, role), act(states, taken_actions, role)

_REDUCTIONS = {"mean": torch.mean, "sum": torch.sum, "prod": torch.prod, "none": None}


def _parameter_names(function: Any) -> list[str]:
    try:
        return [name for name in inspect.signature(function).parameters if name != "self"]
    except (TypeError, ValueError):
        return []


def signature_generation(model: Any) -> str:
    """Which skrl signature ``model`` is written in: ``"inputs"`` (skrl 0.9-1.4) or ``"states"`` (skrl 0.8).

    A model that overrides ``act`` itself (a shared model dispatching on ``role``) is read from that
    ``act``; otherwise from ``compute``: ``compute(inputs, role)`` vs ``compute(states, taken_actions, role)``.
    """
    cls = type(model)
    cached = cls.__dict__.get("_skrl_generation")
    if cached is not None:
        return cached
    act = getattr(cls, "act", None)
    own_act = act is not None and getattr(act, "__qualname__", "").split(".")[0] not in _MIXIN_NAMES \
        and "Model.act" not in getattr(act, "__qualname__", "")
    names = _parameter_names(act) if own_act else _parameter_names(getattr(cls, "compute", None))
    if names and names[0] == "inputs":
        generation = GENERATION_INPUTS
    elif names and (names[0] == "states" or "taken_actions" in names or len(names) >= 3):
        generation = GENERATION_STATES
    else:
        generation = GENERATION_INPUTS
    setattr(cls, "_skrl_generation", generation)
    return generation


def _parse_call(args: tuple, kwargs: Mapping[str, Any]) -> tuple[dict, str, str]:
    """``(inputs, role, style)`` of an ``act`` call in either style (``inference`` of skrl 0.7 is ignored)."""
    if (args and isinstance(args[0], Mapping)) or "inputs" in kwargs:
        inputs = dict(args[0] if args else kwargs["inputs"])
        role = args[1] if len(args) > 1 else kwargs.get("role", "")
        return inputs, role, GENERATION_INPUTS
    states = args[0] if args else kwargs["states"]
    taken_actions = args[1] if len(args) > 1 else kwargs.get("taken_actions")
    role = args[2] if len(args) > 2 else kwargs.get("role", "")
    inputs = {"states": states}
    if taken_actions is not None:
        inputs["taken_actions"] = taken_actions
    return inputs, role, GENERATION_STATES


class _RoleMixin:
    """Settings kept per role, looked up as skrl does (the role's, else the default role's)."""

    def _set_role_value(self, name: str, role: str, value: Any) -> None:
        values = self.__dict__.get(name)
        if values is None:
            values = {}
            object.__setattr__(self, name, values)
        values[role] = value

    def _role_value(self, name: str, role: str) -> Any:
        values = self.__dict__.get(name) or {}
        if role in values:
            return values[role]
        if "" in values:
            return values[""]
        return next(iter(values.values())) if values else None

    def mixin_kind(self, role: str = "") -> str | None:
        """``"gaussian"``, ``"deterministic"`` or ``"categorical"``: the mixin serving ``role``.

        A role a mixin was initialized with gets that mixin. Otherwise (skrl's shared-model examples
        initialize both mixins with the default role ``""``), a role named like a policy (``"policy"``,
        ``"target_policy"``) gets the stochastic mixin and any other role (``"value"``, critics,
        Q-networks) the deterministic one, when the model has it.
        """
        kinds = self.__dict__.get("_mixin_kinds") or {}
        if role in kinds:
            return kinds[role][-1]
        registered = [kind for role_kinds in kinds.values() for kind in role_kinds]
        if not registered:
            return None
        stochastic = [kind for kind in registered if kind != "deterministic"]
        if "policy" in role and stochastic:
            return stochastic[0]
        if "policy" not in role and "deterministic" in registered:
            return "deterministic"
        return registered[0]

    def _register(self, kind: str, role: str, clip_actions: bool = False) -> None:
        kinds = self.__dict__.setdefault("_mixin_kinds", {})
        kinds[role] = [k for k in kinds.get(role, []) if k != kind] + [kind]
        clip = bool(clip_actions) and hasattr(self.action_space, "low")
        self._set_role_value(f"_{kind}_clip_actions", role, clip)
        if clip:
            self._set_role_value(f"_{kind}_clip_bounds", role, tuple(
                torch.as_tensor(np.asarray(bound), dtype=torch.float32, device=self.device)
                for bound in (self.action_space.low, self.action_space.high)))

    def _clip(self, actions: torch.Tensor, role: str, kind: str) -> torch.Tensor:
        """``actions`` clipped to the action space's bounds if the ``kind`` mixin of ``role`` clips."""
        if self._role_value(f"_{kind}_clip_actions", role):
            low, high = self._role_value(f"_{kind}_clip_bounds", role)
            return torch.clamp(actions, low, high)
        return actions

    def _compute(self, inputs: dict, role: str, outputs_expected: int) -> tuple:
        """Call the user's ``compute`` in its generation; return its tensors and an ``outputs`` dict."""
        if signature_generation(self) == GENERATION_INPUTS:
            result = self.compute(inputs, role)
        else:
            result = self.compute(inputs["states"], inputs.get("taken_actions"), role)
        if isinstance(result, torch.Tensor):
            result = (result,)
        result = tuple(result)
        tensors = result[:outputs_expected]
        outputs = result[outputs_expected] if len(result) > outputs_expected else {}
        return tuple(full_precision(t) for t in tensors), dict(outputs or {})

    def random_act(self, *args: Any, **kwargs: Any) -> tuple:
        """Uniformly random actions, called as ``random_act(inputs, role)`` or ``random_act(states, ...)``."""
        inputs, _, style = _parse_call(args, kwargs)
        from skrl_isaac.models.torch.base import Model

        actions, _, _ = Model.random_act(self, inputs["states"])
        return (actions, None, {}) if style == GENERATION_INPUTS else (actions, None, None)


class GaussianMixin(_RoleMixin):
    """Diagonal Gaussian policy mixin (skrl's ``GaussianMixin``).

    :param clip_actions: clip the sampled actions to the action space's bounds
    :param clip_log_std: clip the log standard deviation to ``[min_log_std, max_log_std]``
    :param min_log_std: minimum log standard deviation
    :param max_log_std: maximum log standard deviation
    :param reduction: reduction of the per-dimension log-probabilities: ``"sum"``, ``"mean"``, ``"prod"``
                      or ``"none"`` (``(N, num_actions)``)
    :param role: the role these settings serve (one shared model can hold several mixins)
    """

    def __init__(self, clip_actions: bool = False, clip_log_std: bool = True, min_log_std: float = -20,
                 max_log_std: float = 2, reduction: str = "sum", role: str = "") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {sorted(_REDUCTIONS)}, got {reduction!r}")
        self._register("gaussian", role, clip_actions)
        self._set_role_value("_g_clip_log_std", role, bool(clip_log_std))
        self._set_role_value("_g_log_std_range", role, (float(min_log_std), float(max_log_std)))
        self._set_role_value("_g_reduction", role, _REDUCTIONS[reduction])
        self._set_role_value("_g_distribution", role, None)
        self._set_role_value("_g_log_std", role, None)

    def act(self, *args: Any, **kwargs: Any) -> tuple:
        """Sample actions: ``act(inputs, role)`` -> ``(actions, log_prob, outputs)`` (``outputs["mean_actions"]``),
        or ``act(states, taken_actions=None, role="")`` -> ``(actions, log_prob, mean_actions)``."""
        inputs, role, style = _parse_call(args, kwargs)
        (mean_actions, log_std), outputs = self._compute(inputs, role, 2)
        if self._role_value("_g_clip_log_std", role):
            low, high = self._role_value("_g_log_std_range", role)
            log_std = torch.clamp(log_std, low, high)
        distribution = Normal(mean_actions, log_std.exp().expand_as(mean_actions), validate_args=False)
        self._set_role_value("_g_distribution", role, distribution)
        self._set_role_value("_g_log_std", role, log_std)
        actions = self._clip(distribution.rsample(), role, "gaussian")
        log_prob = distribution.log_prob(inputs.get("taken_actions", actions))
        reduction = self._role_value("_g_reduction", role)
        if reduction is not None:
            log_prob = reduction(log_prob, dim=-1)
        if log_prob.dim() != actions.dim():
            log_prob = log_prob.unsqueeze(-1)
        if style == GENERATION_STATES:
            return actions, log_prob, mean_actions
        outputs["mean_actions"] = mean_actions
        return actions, log_prob, outputs

    def distribution(self, role: str = "") -> Normal:
        """The distribution of the last ``act`` call for ``role``."""
        return self._role_value("_g_distribution", role)

    def get_entropy(self, role: str = "") -> torch.Tensor:
        """Per-dimension entropy of the last distribution, ``(N, num_actions)`` (as skrl)."""
        distribution = self.distribution(role)
        if distribution is None:
            return torch.tensor(0.0, device=self.device)
        return distribution.entropy()

    def get_log_std(self, role: str = "") -> torch.Tensor:
        """Log standard deviation of the last distribution, one row per sample."""
        return self.distribution(role).stddev.log()


class DeterministicMixin(_RoleMixin):
    """Deterministic model mixin (skrl's ``DeterministicMixin``): policies, value functions, critics, Q-networks.

    :param clip_actions: clip the computed actions to the action space's bounds
    :param role: the role these settings serve
    """

    def __init__(self, clip_actions: bool = False, role: str = "") -> None:
        self._register("deterministic", role, clip_actions)

    def act(self, *args: Any, **kwargs: Any) -> tuple:
        """``act(inputs, role)`` -> ``(actions, None, outputs)``, or ``act(states, taken_actions, role)`` ->
        ``(actions, None, actions)``."""
        inputs, role, style = _parse_call(args, kwargs)
        (actions,), outputs = self._compute(inputs, role, 1)
        actions = self._clip(actions, role, "deterministic")
        return (actions, None, actions) if style == GENERATION_STATES else (actions, None, outputs)


class CategoricalMixin(_RoleMixin):
    """Categorical policy mixin for discrete actions (skrl's ``CategoricalMixin``).

    :param unnormalized_log_prob: ``compute`` returns logits (True) or probabilities (False)
    :param role: the role these settings serve
    """

    def __init__(self, unnormalized_log_prob: bool = True, role: str = "") -> None:
        self._register("categorical", role)
        self._set_role_value("_c_unnormalized_log_prob", role, bool(unnormalized_log_prob))
        self._set_role_value("_c_distribution", role, None)

    def act(self, *args: Any, **kwargs: Any) -> tuple:
        """``act(inputs, role)`` -> ``(actions (N, 1), log_prob (N, 1), outputs)`` (``outputs["net_output"]``),
        or ``act(states, taken_actions, role)`` -> ``(actions, log_prob, net_output)``."""
        inputs, role, style = _parse_call(args, kwargs)
        (net_output,), outputs = self._compute(inputs, role, 1)
        if self._role_value("_c_unnormalized_log_prob", role):
            distribution = Categorical(logits=net_output, validate_args=False)
        else:
            distribution = Categorical(probs=net_output, validate_args=False)
        self._set_role_value("_c_distribution", role, distribution)
        actions = distribution.sample()
        log_prob = distribution.log_prob(inputs.get("taken_actions", actions).reshape(-1).long())
        if style == GENERATION_STATES:
            return actions.unsqueeze(-1), log_prob.unsqueeze(-1), net_output
        outputs["net_output"] = net_output
        return actions.unsqueeze(-1), log_prob.unsqueeze(-1), outputs

    def distribution(self, role: str = "") -> Categorical:
        """The distribution of the last ``act`` call for ``role``."""
        return self._role_value("_c_distribution", role)

    def get_entropy(self, role: str = "") -> torch.Tensor:
        """Entropy of the last distribution, ``(N,)`` (as skrl)."""
        distribution = self.distribution(role)
        if distribution is None:
            return torch.tensor(0.0, device=self.device)
        return distribution.entropy()


_MIXIN_NAMES = {"GaussianMixin", "DeterministicMixin", "CategoricalMixin", "_RoleMixin"}
MIXINS = (GaussianMixin, DeterministicMixin, CategoricalMixin)

__all__ = ["GaussianMixin", "DeterministicMixin", "CategoricalMixin", "signature_generation", "MIXINS"]
