"""Train PPO on the embedded Ant with the library API (no hydra), skrl 0.x style.

    python examples/ppo_ant.py
"""

import torch
from torch import nn

from skrl_isaac.agents.torch.ppo import PPO, PPO_DEFAULT_CONFIG
from skrl_isaac.envs.torch import load_embedded_env, wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch import DeterministicModel, GaussianModel
from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler
from skrl_isaac.resources.schedulers.torch import KLAdaptiveRL
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.utils import set_seed


class Policy(GaussianModel):
    def __init__(self, observation_space, action_space, device, clip_actions=False):
        super().__init__(observation_space, action_space, device, clip_actions)
        self.net = nn.Sequential(nn.Linear(self.num_observations, 256), nn.ELU(), nn.Linear(256, 128), nn.ELU(),
                                 nn.Linear(128, 64), nn.ELU(), nn.Linear(64, self.num_actions))
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))

    def compute(self, states, taken_actions):
        return self.net(states), self.log_std_parameter


class Value(DeterministicModel):
    def __init__(self, observation_space, action_space, device, clip_actions=False):
        super().__init__(observation_space, action_space, device, clip_actions)
        self.net = nn.Sequential(nn.Linear(self.num_observations, 256), nn.ELU(), nn.Linear(256, 128), nn.ELU(),
                                 nn.Linear(128, 64), nn.ELU(), nn.Linear(64, 1))

    def compute(self, states, taken_actions):
        return self.net(states)


set_seed(42)
device = "cuda:0" if torch.cuda.is_available() else "cpu"
env = wrap_env(load_embedded_env(task_name="Ant", num_envs=256, device=device, seed=42))

memory = RandomMemory(memory_size=16, num_envs=env.num_envs, device=device)
models = {"policy": Policy(env.observation_space, env.action_space, device).to(device),
          "value": Value(env.observation_space, env.action_space, device).to(device)}

cfg = dict(PPO_DEFAULT_CONFIG)
cfg.update({
    "rollouts": 16, "learning_epochs": 4, "mini_batches": 2, "learning_rate": 3e-4,
    "learning_rate_scheduler": KLAdaptiveRL, "learning_rate_scheduler_kwargs": {"kl_threshold": 0.008},
    "state_preprocessor": RunningStandardScaler, "state_preprocessor_kwargs": {"size": env.observation_space},
    "value_preprocessor": RunningStandardScaler, "value_preprocessor_kwargs": {"size": 1},
    "grad_norm_clip": 1.0, "clip_predicted_values": True, "value_loss_scale": 2.0,
    "rewards_shaper": lambda rewards, timestep, timesteps: rewards * 0.01,
    "time_limit_bootstrap": True,
    "experiment": {**PPO_DEFAULT_CONFIG["experiment"], "write_interval": 160, "checkpoint_interval": 1600},
})
agent = PPO(models=models, memory=memory, cfg=cfg, observation_space=env.observation_space,
            action_space=env.action_space, device=device)

SequentialTrainer(env=env, agents=agent, cfg={"timesteps": 16000, "headless": True}).train()
