"""skrl 1.x's ``skrl.utils.model_instantiators.torch``: models from a network definition.

``gaussian_model``, ``deterministic_model``, ``categorical_model`` and ``shared_model`` with skrl 1.x's
documented arguments (and skrl's pre-1.3 ``input_shape``/``hiddens``/... with :class:`Shape`).
"""

from skrl_isaac.models.torch.instantiators import (Shape, categorical_model, deterministic_model, gaussian_model,
                                                   shared_model)

__all__ = ["gaussian_model", "deterministic_model", "categorical_model", "shared_model", "Shape"]
