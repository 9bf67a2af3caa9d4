"""PPO agent."""

from skrl_isaac.agents.torch.ppo.ppo import PPO, PPO_DEFAULT_CONFIG

__all__ = ["PPO", "PPO_DEFAULT_CONFIG"]
