"""Build models, memory and agent from a train config (the CLI's ``cfg.train`` as a dict).

The CLI (``train_isaac.py``), the benchmarks and library users call :func:`build_agent`::

    agent = build_agent(train_cfg, env, device, task_name="Ant")
"""

from __future__ import annotations

import os
from typing import Any, Callable

import torch

from skrl_isaac.agents.torch.base import Agent
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch.mlp import (MLPCategoricalPolicy, MLPDeterministic, MLPGaussianPolicy, activation_class,
                                        share_hidden_layers)
from skrl_isaac.utils.spaces import is_discrete
from skrl_isaac.utils.stamps import time_stamp


class ConfigError(ValueError):
    """A bad train config value: the message says what was wrong and what is valid."""


def _ppo_models(obs_space: Any, act_space: Any, device: torch.device, models_cfg: dict) -> dict:
    policy_cfg = dict(models_cfg.get("policy", {}))
    value_cfg = dict(models_cfg.get("value", {}))
    separate = models_cfg.get("separate", True)
    if not isinstance(separate, bool):
        raise ConfigError(f"models.separate={separate!r} is not valid: expected True (a policy and a value network) "
                          "or False (one trunk with a policy head and a value head)")
    if is_discrete(act_space):  # a categorical policy over the discrete actions
        policy_cfg = {k: v for k, v in policy_cfg.items() if k in ("hiddens", "activation")}
        policy = MLPCategoricalPolicy(obs_space, act_space, device, **policy_cfg)
    else:
        policy = MLPGaussianPolicy(obs_space, act_space, device, **policy_cfg)
    if not separate:  # the value head sits on the policy's hidden layers
        trunk = {k: policy_cfg[k] for k in ("hiddens", "activation") if k in policy_cfg}
        if any(k in value_cfg and value_cfg[k] != v for k, v in trunk.items()):
            raise ConfigError(f"models.separate=False shares the policy's hidden layers: models.value "
                              f"{ {k: value_cfg[k] for k in trunk if k in value_cfg} } differs from models.policy {trunk}")
        value_cfg.update(trunk)
    value = MLPDeterministic(obs_space, act_space, device, outputs=1, **value_cfg)
    if not separate:
        share_hidden_layers(policy, value)
    return {"policy": policy, "value": value}


def _ppo_agent() -> tuple[type, dict]:
    from skrl_isaac.agents.torch.ppo import PPO, PPO_DEFAULT_CONFIG

    return PPO, PPO_DEFAULT_CONFIG


def _deterministic_policy(obs_space: Any, act_space: Any, device: torch.device, cfg: dict) -> MLPDeterministic:
    """Deterministic policy with tanh outputs clipped to the action bounds (DDPG, TD3)."""
    return MLPDeterministic(obs_space, act_space, device, **{"clip_actions": True, "output_activation": "tanh", **cfg})


def _critic(obs_space: Any, act_space: Any, device: torch.device, cfg: dict) -> MLPDeterministic:
    """Q(s, a) critic: states and actions in, one value out."""
    return MLPDeterministic(obs_space, act_space, device, outputs=1, critic=True, **cfg)


def _dqn_models(obs_space: Any, act_space: Any, device: torch.device, models_cfg: dict) -> dict:
    if type(act_space).__name__ != "Discrete":
        raise ConfigError(f"DQN needs a task with Discrete actions (e.g. task=CartpoleDiscrete), got {act_space}")
    q_cfg = models_cfg.get("q_network", {})
    return {name: MLPDeterministic(obs_space, act_space, device, outputs=int(act_space.n), **q_cfg)
            for name in ("q_network", "target_q_network")}


def _ddpg_models(obs_space: Any, act_space: Any, device: torch.device, models_cfg: dict) -> dict:
    p_cfg, c_cfg = models_cfg.get("policy", {}), models_cfg.get("critic", {})
    return {"policy": _deterministic_policy(obs_space, act_space, device, p_cfg),
            "target_policy": _deterministic_policy(obs_space, act_space, device, p_cfg),
            "critic": _critic(obs_space, act_space, device, c_cfg),
            "target_critic": _critic(obs_space, act_space, device, c_cfg)}


def _td3_models(obs_space: Any, act_space: Any, device: torch.device, models_cfg: dict) -> dict:
    p_cfg, c_cfg = models_cfg.get("policy", {}), models_cfg.get("critic", {})
    models = {"policy": _deterministic_policy(obs_space, act_space, device, p_cfg),
              "target_policy": _deterministic_policy(obs_space, act_space, device, p_cfg)}
    for name in ("critic_1", "critic_2", "target_critic_1", "target_critic_2"):
        models[name] = _critic(obs_space, act_space, device, c_cfg)
    return models


def _sac_models(obs_space: Any, act_space: Any, device: torch.device, models_cfg: dict) -> dict:
    p_cfg, c_cfg = models_cfg.get("policy", {}), models_cfg.get("critic", {})
    p_cfg = {"clip_actions": True, "output_activation": "tanh", **p_cfg}
    output_activation = p_cfg.pop("output_activation")
    policy = MLPGaussianPolicy(obs_space, act_space, device, **p_cfg)
    if output_activation:  # bound the mean actions (the samples are clipped to the action space)
        policy.net.append(activation_class(output_activation)().to(device))
    models = {"policy": policy}
    for name in ("critic_1", "critic_2", "target_critic_1", "target_critic_2"):
        models[name] = _critic(obs_space, act_space, device, c_cfg)
    return models


def _off_policy_agent(module: str, name: str) -> Callable[[], tuple[type, dict]]:
    def load() -> tuple[type, dict]:
        import importlib

        mod = importlib.import_module(f"skrl_isaac.agents.torch.{module}")
        return getattr(mod, name), getattr(mod, f"{name}_DEFAULT_CONFIG")

    return load


# agent class name -> (models builder, (agent class, default config) loader, memory size key)
# (the off-policy agents' replay memory size is the train config's memory.memory_size)
AGENTS: dict[str, tuple[Callable, Callable, str]] = {
    "PPO": (_ppo_models, _ppo_agent, "rollouts"),
    "DQN": (_dqn_models, _off_policy_agent("dqn", "DQN"), "memory_size"),
    "DDPG": (_ddpg_models, _off_policy_agent("ddpg", "DDPG"), "memory_size"),
    "TD3": (_td3_models, _off_policy_agent("td3", "TD3"), "memory_size"),
    "SAC": (_sac_models, _off_policy_agent("sac", "SAC"), "memory_size"),
}


def build_agent(train_cfg: dict, env: Any, device: torch.device, task_name: str,
                experiment: str = "") -> Agent:
    """Models, memory and agent described by ``train_cfg`` (the ``train`` config group as a dict)."""
    agent_cfg = dict(train_cfg["agent"])
    name = agent_cfg.pop("class", None)
    if name not in AGENTS:
        raise ConfigError(f"train.agent.class is {name!r}; valid agents: {sorted(AGENTS)}")
    build_models, load_agent, memory_key = AGENTS[name]
    agent_class, defaults = load_agent()

    models = build_models(env.observation_space, env.action_space, device, dict(train_cfg.get("models", {})))
    scale = float(train_cfg.get("rewards_scale", 1.0))
    if scale != 1.0:
        agent_cfg["rewards_shaper"] = lambda rewards, timestep, timesteps: rewards * scale
    experiment_cfg = dict(agent_cfg.get("experiment", {}))
    if experiment:
        experiment_cfg["experiment_name"] = experiment
    elif not experiment_cfg.get("experiment_name"):
        experiment_cfg["experiment_name"] = f"{time_stamp()}_{task_name}_{name}"
    agent_cfg["experiment"] = experiment_cfg

    # memory dumps go into the run folder unless a directory is given
    memory_cfg = dict(train_cfg.get("memory", {}))
    if memory_key == "rollouts":
        memory_size = int(memory_cfg.pop("memory_size", agent_cfg.get("rollouts", defaults["rollouts"])))
    elif "memory_size" in memory_cfg:
        memory_size = int(memory_cfg.pop("memory_size"))
    else:
        raise ConfigError(f"train.memory.memory_size is required for {name} (the replay memory holds memory_size steps "
                       "of every env), e.g. train.memory.memory_size=10000")
    if memory_cfg.get("export") and not memory_cfg.get("export_directory"):
        memory_cfg["export_directory"] = os.path.join(experiment_cfg.get("directory") or "runs",
                                                      experiment_cfg["experiment_name"], "memory")
    try:
        memory = RandomMemory(memory_size=memory_size, num_envs=env.num_envs, device=device, **memory_cfg)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"train.memory: {e}") from None
    try:
        return agent_class(models=models, memory=memory, cfg=agent_cfg, observation_space=env.observation_space,
                           action_space=env.action_space, device=device)
    except (ValueError, KeyError) as e:
        raise ConfigError(f"train.agent: {e}") from None
