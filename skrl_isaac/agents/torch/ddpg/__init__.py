"""DDPG agent."""

from skrl_isaac.agents.torch.ddpg.ddpg import DDPG, DDPG_DEFAULT_CONFIG

__all__ = ["DDPG", "DDPG_DEFAULT_CONFIG"]
