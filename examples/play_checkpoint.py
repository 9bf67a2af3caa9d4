"""Play a PPO checkpoint of the embedded Ant with the library API (what `train_isaac.py test=True` does).

    python examples/play_checkpoint.py runs/<experiment>/checkpoints/<timestep>_policy.pt
"""

import sys

import torch

from skrl_isaac.models.torch.mlp import MLPGaussianPolicy
from skrl_isaac.envs.torch import load_embedded_env, wrap_env
from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler

path = sys.argv[1]
device = "cpu"
env = wrap_env(load_embedded_env(task_name="Ant", num_envs=4, device=device, seed=0))
policy = MLPGaussianPolicy(env.observation_space, env.action_space, device, hiddens=[256, 128, 64])
policy.load(path)
scaler = RunningStandardScaler(env.observation_space, device=device)
scaler.load_state_dict(torch.load(path.replace("_policy.pt", "_state_preprocessor.pt"), weights_only=True))

states, _ = env.reset()
returns = torch.zeros(env.num_envs)
for _ in range(1000):
    with torch.no_grad():
        states, rewards, terminated, truncated, _ = env.step(policy.deterministic_act(scaler(states)))
    returns += rewards.view(-1)
print("return after 1000 steps per env:", returns.tolist())
