"""Build models, memory and agent from the composed CLI config (``cfg.train``)."""

from __future__ import annotations

import datetime
from typing import Any, Callable

import torch

from skrl_isaac.agents.torch.base import Agent
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy


class CLIError(Exception):
    """A bad command-line value: the message says what was wrong and what is valid."""


def _ppo_models(obs_space: Any, act_space: Any, device: torch.device, models_cfg: dict) -> dict:
    policy = MLPGaussianPolicy(obs_space, act_space, device, **models_cfg.get("policy", {}))
    value = MLPDeterministic(obs_space, act_space, device, outputs=1, **models_cfg.get("value", {}))
    return {"policy": policy, "value": value}


def _ppo_agent() -> tuple[type, dict]:
    from skrl_isaac.agents.torch.ppo import PPO, PPO_DEFAULT_CONFIG

    return PPO, PPO_DEFAULT_CONFIG


# agent class name -> (models builder, (agent class, default config) loader, memory size key)
AGENTS: dict[str, tuple[Callable, Callable, str]] = {
    "PPO": (_ppo_models, _ppo_agent, "rollouts"),
}


def build_agent(train_cfg: dict, env: Any, device: torch.device, task_name: str,
                experiment: str = "") -> Agent:
    """Models, memory and agent described by ``train_cfg`` (the ``train`` config group as a dict)."""
    agent_cfg = dict(train_cfg["agent"])
    name = agent_cfg.pop("class", None)
    if name not in AGENTS:
        raise CLIError(f"train.agent.class is {name!r}; valid agents: {sorted(AGENTS)}")
    build_models, load_agent, memory_key = AGENTS[name]
    agent_class, defaults = load_agent()

    models = build_models(env.observation_space, env.action_space, device, dict(train_cfg.get("models", {})))
    memory_cfg = dict(train_cfg.get("memory", {}))
    memory_size = int(memory_cfg.pop("memory_size", agent_cfg.get(memory_key, defaults.get(memory_key, 1))))
    memory = RandomMemory(memory_size=memory_size, num_envs=env.num_envs, device=device, **memory_cfg)

    scale = float(train_cfg.get("rewards_scale", 1.0))
    if scale != 1.0:
        agent_cfg["rewards_shaper"] = lambda rewards, timestep, timesteps: rewards * scale
    experiment_cfg = dict(agent_cfg.get("experiment", {}))
    if experiment:
        experiment_cfg["experiment_name"] = experiment
    elif not experiment_cfg.get("experiment_name"):
        stamp = datetime.datetime.now().strftime("%y-%m-%d_%H-%M-%S-%f")
        experiment_cfg["experiment_name"] = f"{stamp}_{task_name}_{name}"
    agent_cfg["experiment"] = experiment_cfg
    try:
        return agent_class(models=models, memory=memory, cfg=agent_cfg, observation_space=env.observation_space,
                           action_space=env.action_space, device=device)
    except (ValueError, KeyError) as e:
        raise CLIError(f"train.agent: {e}") from None
