"""Models: ``Model`` base and the deterministic, Gaussian and categorical model types."""

from skrl_isaac.models.torch.base import CheckpointError, Model
from skrl_isaac.models.torch.categorical import CategoricalModel
from skrl_isaac.models.torch.deterministic import DeterministicModel
from skrl_isaac.models.torch.gaussian import GaussianModel
from skrl_isaac.models.torch.mixins import CategoricalMixin, DeterministicMixin, GaussianMixin

__all__ = ["Model", "DeterministicModel", "GaussianModel", "CategoricalModel", "CheckpointError",
           "GaussianMixin", "DeterministicMixin", "CategoricalMixin"]
