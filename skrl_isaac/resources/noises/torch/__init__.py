"""Exploration noises (samples drawn on the device): ``GaussianNoise``, ``OrnsteinUhlenbeckNoise``."""

from skrl_isaac.resources.noises.torch.base import Noise
from skrl_isaac.resources.noises.torch.gaussian import GaussianNoise
from skrl_isaac.resources.noises.torch.ornstein_uhlenbeck import OrnsteinUhlenbeckNoise

__all__ = ["Noise", "GaussianNoise", "OrnsteinUhlenbeckNoise"]
