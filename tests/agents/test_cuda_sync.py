"""With CUDA, the agent's per-step path never synchronizes with the host (torch's sync debug mode).

The embedded simulator runs on the CPU, so ``env.step`` moves actions to the host by nature; it runs
outside the checked region. Everything the agent does between two ``write_interval`` boundaries
(act, record_transition, post_interaction incl. the PPO update) runs with
``torch.cuda.set_sync_debug_mode("error")``.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from skrl_isaac.agents.torch.ppo import PPO
from skrl_isaac.envs.torch import load_embedded_env, wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


@contextlib.contextmanager
def sync_debug(enabled: bool):
    torch.cuda.set_sync_debug_mode("error" if enabled else 0)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(0)


def test_ppo_hot_path_has_no_host_sync_on_cuda(tmp_path):
    device = "cuda"
    env = wrap_env(load_embedded_env("Ant", num_envs=64, device=device, seed=0))
    models = {"policy": MLPGaussianPolicy(env.observation_space, env.action_space, device, hiddens=[64, 64]),
              "value": MLPDeterministic(env.observation_space, env.action_space, device, outputs=1, hiddens=[64, 64])}
    cfg = {"rollouts": 8, "learning_epochs": 2, "mini_batches": 2, "learning_rate_scheduler": "KLAdaptiveRL",
           "state_preprocessor": "RunningStandardScaler", "value_preprocessor": "RunningStandardScaler",
           "entropy_loss_scale": 0.01, "time_limit_bootstrap": True,
           "experiment": {"directory": str(tmp_path), "experiment_name": "cuda", "write_interval": 32,
                          "checkpoint_interval": 64, "checkpoint_policy_only": False}}
    agent = PPO(models=models, memory=RandomMemory(memory_size=8, num_envs=64, device=device), cfg=cfg,
                observation_space=env.observation_space, action_space=env.action_space, device=device)
    agent.init()
    states, _ = env.reset()
    timesteps = 128
    for t in range(timesteps):
        boundary = (t + 1) % 32 == 0  # TensorBoard / checkpoint writes read back to the host, by design
        with sync_debug(True), torch.no_grad():
            actions = agent.act(states, t, timesteps)[0]
        next_states, rewards, terminated, truncated, infos = env.step(actions)
        with sync_debug(True), torch.no_grad():
            agent.record_transition(states, actions, rewards, next_states, terminated, truncated, infos, t, timesteps)
        with sync_debug(not boundary):
            agent.post_interaction(t, timesteps)
        states = next_states
    agent.close()
    assert (tmp_path / "cuda" / "checkpoints" / "128_agent.pt").is_file()
