"""Train DQN, DDPG, TD3 or SAC on the embedded Cartpole with the library API (skrl 0.x style).

    python examples/off_policy_cartpole.py SAC      # or DDPG, TD3, DQN (DQN uses the discrete Cartpole)
"""

import sys

import torch
from torch import nn

from skrl_isaac.envs.torch import load_embedded_env, wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch import DeterministicModel, GaussianModel
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.utils import set_seed


class Actor(DeterministicModel):  # DDPG / TD3 policy
    def __init__(self, observation_space, action_space, device, clip_actions=True):
        super().__init__(observation_space, action_space, device, clip_actions)
        self.net = nn.Sequential(nn.Linear(self.num_observations, 64), nn.ELU(), nn.Linear(64, 64), nn.ELU(),
                                 nn.Linear(64, self.num_actions), nn.Tanh())

    def compute(self, states, taken_actions):
        return self.net(states)


class StochasticActor(GaussianModel):  # SAC policy
    def __init__(self, observation_space, action_space, device, clip_actions=True):
        super().__init__(observation_space, action_space, device, clip_actions)
        self.net = nn.Sequential(nn.Linear(self.num_observations, 64), nn.ELU(), nn.Linear(64, 64), nn.ELU(),
                                 nn.Linear(64, self.num_actions), nn.Tanh())
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))

    def compute(self, states, taken_actions):
        return self.net(states), self.log_std_parameter


class Critic(DeterministicModel):  # Q(s, a); DQN's Q-network: one Q-value per discrete action
    def __init__(self, observation_space, action_space, device, outputs=None):
        super().__init__(observation_space, action_space, device)
        self.discrete = outputs is not None
        inputs = self.num_observations + (0 if self.discrete else self.num_actions)
        self.net = nn.Sequential(nn.Linear(inputs, 64), nn.ELU(), nn.Linear(64, 64), nn.ELU(),
                                 nn.Linear(64, outputs or 1))

    def compute(self, states, taken_actions):
        return self.net(states if self.discrete else torch.cat([states, taken_actions], dim=-1))


name = (sys.argv[1:] or ["SAC"])[0].upper()
set_seed(0)
device = "cuda:0" if torch.cuda.is_available() else "cpu"
env = wrap_env(load_embedded_env("CartpoleDiscrete" if name == "DQN" else "Cartpole", num_envs=16, device=device,
                                 seed=0))
obs, act = env.observation_space, env.action_space
memory = RandomMemory(memory_size=10000, num_envs=env.num_envs, device=device)
experiment = {"write_interval": 250, "checkpoint_interval": 1000}

if name == "DQN":
    from skrl_isaac.agents.torch.dqn import DQN as AgentClass

    models = {"q_network": Critic(obs, act, device, outputs=act.n), "target_q_network": Critic(obs, act, device, outputs=act.n)}
    cfg = {"learning_starts": 100, "exploration": {"timesteps": 2000}, "experiment": experiment}
elif name in ("DDPG", "TD3"):
    from skrl_isaac.agents.torch.ddpg import DDPG
    from skrl_isaac.agents.torch.td3 import TD3

    AgentClass = DDPG if name == "DDPG" else TD3
    models = {"policy": Actor(obs, act, device), "target_policy": Actor(obs, act, device)}
    critics = ["critic", "target_critic"] if name == "DDPG" else ["critic_1", "critic_2", "target_critic_1",
                                                                  "target_critic_2"]
    models.update({k: Critic(obs, act, device) for k in critics})
    cfg = {"learning_starts": 100, "exploration": {"noise": {"class": "GaussianNoise", "mean": 0.0, "std": 0.2}},
           "experiment": experiment}
elif name == "SAC":
    from skrl_isaac.agents.torch.sac import SAC as AgentClass

    models = {"policy": StochasticActor(obs, act, device)}
    models.update({k: Critic(obs, act, device) for k in ("critic_1", "critic_2", "target_critic_1", "target_critic_2")})
    cfg = {"learning_starts": 100, "experiment": experiment}
else:
    sys.exit(f"unknown agent {name!r}: use DQN, DDPG, TD3 or SAC")

agent = AgentClass(models=models, memory=memory, cfg=cfg, observation_space=obs, action_space=act, device=device)
SequentialTrainer(env=env, agents=agent, cfg={"timesteps": 4000}).train()
