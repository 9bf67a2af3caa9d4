"""The agents' view of a skrl mixin model: the seed's calling convention, with the model's role.

The agents call every model as the seed's models are called: ``act(states, taken_actions=None)`` ->
``(actions, log_prob, outputs)``, ``deterministic_act(states)``, ``distribution()``,
``get_entropy()`` ``(N, 1)``. A model written with skrl's mixins (:mod:`skrl_isaac.models.torch.mixins`)
is called instead as skrl calls it: ``act(inputs, role)`` or ``act(states, taken_actions, role)``,
whichever its signature generation is, with the agent's name for it as the role (``"policy"``,
``"value"``, ``"critic_1"``, ``"q_network"``, ...), as skrl's agents do.

:func:`adapt_model` wraps such a model in a :class:`ModelAdapter`; the seed's own models pass
through unchanged. Everything other than the calls above (parameters, ``state_dict``, checkpoints,
``set_mode``, ``update_parameters``...) goes to the user's module itself, so a model shared by two
roles is one module: :func:`unwrap` gives it back.
"""

from __future__ import annotations

import weakref
from typing import Any, Mapping

import torch

from skrl_isaac.models.torch.mixins import (GENERATION_INPUTS, MIXINS, CategoricalMixin, DeterministicMixin,
                                            GaussianMixin, signature_generation)

_KIND_MIXIN = {"gaussian": GaussianMixin, "deterministic": DeterministicMixin, "categorical": CategoricalMixin}


def is_mixin_model(model: Any) -> bool:
    """Whether ``model`` is written with skrl's mixins."""
    return isinstance(model, MIXINS)


class ModelAdapter:
    """A skrl mixin model seen by an agent in one role.

    :param module: the user's model (a :class:`~skrl_isaac.models.torch.Model` with a skrl mixin)
    :param role: the agent's name for it (skrl's role)
    """

    def __init__(self, module: torch.nn.Module, role: str) -> None:
        self.__dict__.update(module=module, role=role, kind=module.mixin_kind(role),
                             generation=signature_generation(module))
        # a model that defines its own act (a shared model dispatching on role) is called through it;
        # otherwise the mixin serving this role is called directly
        own_act = "act" in {name for cls in type(module).__mro__ if cls not in MIXINS and cls.__module__ != __name__
                             and not cls.__module__.startswith("skrl_isaac.models") for name in vars(cls)}
        self.__dict__["_act"] = module.act if own_act else _KIND_MIXIN[self.kind].act.__get__(module)
        # skrl's shared models (a stochastic and a deterministic mixin) may cache the shared network's output
        # of the policy call in `_shared_output` for the value call that skrl's agents make next on the same states
        self.__dict__["_shared"] = isinstance(module, DeterministicMixin) and isinstance(
            module, (GaussianMixin, CategoricalMixin))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["module"], name)

    def __repr__(self) -> str:
        return f"ModelAdapter(role={self.role!r}, {self.module!r})"

    def act(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None,
            inference: bool = False) -> tuple:
        """``(actions, log_prob, outputs)`` with ``outputs`` the mean actions / logits / actions."""
        if self._shared:
            self._forget_stale_features(states)
        if self.generation == GENERATION_INPUTS:
            inputs = {"states": states}
            if taken_actions is not None:
                inputs["taken_actions"] = taken_actions
            actions, log_prob, outputs = self._act(inputs, role=self.role)
            if isinstance(outputs, Mapping):
                outputs = outputs.get("mean_actions", outputs.get("net_output"))
        else:
            actions, log_prob, outputs = self._act(states, taken_actions, role=self.role)
        return actions, log_prob, (actions if outputs is None else outputs)

    def _forget_stale_features(self, states: torch.Tensor) -> None:
        """Drop a shared model's cached ``_shared_output`` unless this call is on the very states tensor of the
        previous call (unmodified): this package's agents call the roles in another order than skrl's (e.g.
        PPO evaluates the values of a whole rollout at once), so a cache skrl's order keeps valid can be stale."""
        module = self.module
        try:
            version = states._version
        except RuntimeError:  # an inference tensor has no version counter: never reuse
            version = None
        last = module.__dict__.get("_skrl_isaac_last_states")
        if version is None or last is None or last[0]() is not states or last[1] != version:
            module.__dict__["_shared_output"] = None
        module.__dict__["_skrl_isaac_last_states"] = (weakref.ref(states), version)

    def deterministic_act(self, states: torch.Tensor) -> torch.Tensor:
        """Evaluation actions: the mean actions (clipped as the samples), the most probable action, or the output."""
        actions, _, outputs = self.act(states)
        if self.kind == "gaussian":
            return self.module._clip(outputs, self.role, "gaussian")
        if self.kind == "categorical":
            return outputs.argmax(dim=-1, keepdim=True)
        return actions

    def random_act(self, states: torch.Tensor, taken_actions: torch.Tensor | None = None) -> tuple:
        return self.module.random_act(states)

    def distribution(self) -> Any:
        return self.module.distribution(role=self.role)

    def get_entropy(self) -> torch.Tensor:
        """Entropy ``(N, 1)``: skrl's per-dimension entropies averaged over the action dimensions, so that
        the agent's ``.mean()`` is skrl's ``get_entropy(role).mean()``."""
        entropy = self.module.get_entropy(role=self.role)
        if entropy.dim() == 1:
            return entropy.unsqueeze(-1)
        return entropy.mean(dim=-1, keepdim=True) if entropy.dim() > 1 else entropy

    def get_log_std(self) -> torch.Tensor:
        return self.module.get_log_std(role=self.role)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.module, name, value)


def adapt_model(model: Any, role: str) -> Any:
    """The model as the agents call it: a :class:`ModelAdapter` for a skrl mixin model, else ``model`` itself."""
    if model is None or isinstance(model, ModelAdapter) or not is_mixin_model(model):
        return model
    return ModelAdapter(model, role)


def unwrap(model: Any) -> Any:
    """The user's module behind ``model`` (``model`` itself when it is not adapted)."""
    return model.module if isinstance(model, ModelAdapter) else model


def is_gaussian_policy(model: Any) -> bool:
    """Whether ``model`` samples from a diagonal Gaussian (the seed's ``GaussianModel`` or a ``GaussianMixin`` role)."""
    from skrl_isaac.models.torch.gaussian import GaussianModel

    return isinstance(model, GaussianModel) or (isinstance(model, ModelAdapter) and model.kind == "gaussian")


__all__ = ["ModelAdapter", "adapt_model", "unwrap", "is_mixin_model", "is_gaussian_policy"]
