"""Train the embedded Ant with rl_games' own PPO, then play the checkpoint with skrl_isaac's converted policy.

    pip install -e ".[rl_games]"          # rl-games>=1.6.5, psutil<6
    python examples/rl_games_ant.py       # writes runs/rl_games/AntRLG/nn/*.pth

rl_games trains through the vecenv registered by ``register_rl_games_env`` (as IsaacGymEnvs' ``rlgpu``);
``load_rl_games_checkpoint`` turns the ``.pth`` into an ``MLPGaussianPolicy`` + ``RunningStandardScaler``.
"""

import glob
import os

import torch
from rl_games.torch_runner import Runner

from skrl_isaac.envs.torch import load_embedded_env, wrap_env
from skrl_isaac.interop.rl_games import (float32_matmul_kept, load_rl_games_checkpoint, register_rl_games_env,
                                         rl_games_ppo_config)

NUM_ENVS, DEVICE, TRAIN_DIR = 256, "cuda:0" if torch.cuda.is_available() else "cpu", "runs/rl_games"

# train with rl_games
env_name = register_rl_games_env("Ant", num_envs=NUM_ENVS, device=DEVICE, seed=42)
config = rl_games_ppo_config(env_name, NUM_ENVS, DEVICE, name="AntRLG", train_dir=TRAIN_DIR,
                             units=(256, 128, 64), horizon_length=16, max_epochs=100, minibatch_size=1024)
with float32_matmul_kept():  # Runner() turns TF32 on process-wide; the play below runs in full float32
    runner = Runner()
    runner.load(config)
    runner.reset()
    runner.run({"train": True, "play": False, "checkpoint": None, "sigma": None})

# play the last checkpoint with the converted policy (mean actions)
checkpoint = max(glob.glob(os.path.join(TRAIN_DIR, "AntRLG", "nn", "*.pth")), key=os.path.getmtime)
env = wrap_env(load_embedded_env("Ant", num_envs=16, device=DEVICE, seed=0))
policy, scaler = load_rl_games_checkpoint(checkpoint, env.observation_space, env.action_space, DEVICE,
                                          hiddens=(256, 128, 64))
obs, _ = env.reset()
total = torch.zeros(env.num_envs, 1, device=DEVICE)
with torch.no_grad():
    for _ in range(500):
        actions = policy.compute(scaler(obs))[0].clamp(-1.0, 1.0)
        obs, reward, terminated, truncated, _ = env.step(actions)
        total += reward
print(f"mean return over 500 steps: {total.mean().item():.2f} ({checkpoint})")
