"""TD3 agent."""

from skrl_isaac.agents.torch.td3.td3 import TD3, TD3_DEFAULT_CONFIG

__all__ = ["TD3", "TD3_DEFAULT_CONFIG"]
