"""Preprocessors (input normalization)."""

from skrl_isaac.resources.preprocessors.torch.running_standard_scaler import RunningStandardScaler

__all__ = ["RunningStandardScaler"]
