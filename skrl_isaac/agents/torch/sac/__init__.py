"""SAC agent."""

from skrl_isaac.agents.torch.sac.sac import SAC, SAC_DEFAULT_CONFIG

__all__ = ["SAC", "SAC_DEFAULT_CONFIG"]
