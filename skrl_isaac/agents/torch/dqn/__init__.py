"""DQN agent."""

from skrl_isaac.agents.torch.dqn.dqn import DQN, DQN_DEFAULT_CONFIG

__all__ = ["DQN", "DQN_DEFAULT_CONFIG"]
