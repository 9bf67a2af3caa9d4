"""Learning rate schedulers."""

from skrl_isaac.resources.schedulers.torch.kl_adaptive import KLAdaptiveRL

__all__ = ["KLAdaptiveRL"]
