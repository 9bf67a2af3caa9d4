"""Models built from a network definition, as skrl 1.x's model instantiators build them (the code behind
``skrl_isaac.utils.model_instantiators.torch``, skrl's import path)."""

from skrl_isaac.models.torch.instantiators.definitions import Shape
from skrl_isaac.models.torch.instantiators.models import categorical_model, deterministic_model, gaussian_model, shared_model

__all__ = ["gaussian_model", "deterministic_model", "categorical_model", "shared_model", "Shape"]
