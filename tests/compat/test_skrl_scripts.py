"""skrl 0.8-1.4 style scripts (mixin models, skrl 1.x import paths) train with only the import root changed.

Each test is a short script as a skrl user writes it, trained for a few hundred steps on the
embedded tasks (one MuJoCo thread, one torch thread), then checked for what training must do.
"""

from __future__ import annotations

import copy
import os

import pytest
import torch
from skrl_style_models import GENERATIONS, PolicyInputs, TwoNetsSharedInputs, ValueInputs

from skrl_isaac.agents.torch.ddpg import DDPG, DDPG_DEFAULT_CONFIG
from skrl_isaac.agents.torch.dqn import DQN, DQN_DEFAULT_CONFIG
from skrl_isaac.agents.torch.ppo import PPO, PPO_DEFAULT_CONFIG
from skrl_isaac.agents.torch.sac import SAC, SAC_DEFAULT_CONFIG
from skrl_isaac.agents.torch.td3 import TD3, TD3_DEFAULT_CONFIG
from skrl_isaac.envs.loaders.torch import load_embedded_env
from skrl_isaac.envs.wrappers.torch import wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.resources.noises.torch import GaussianNoise
from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler
from skrl_isaac.resources.schedulers.torch import KLAdaptiveRL
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.utils import set_seed


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # (tests/conftest.py)


def make_env(task: str = "Cartpole", num_envs: int = 8, seed: int = 42):
    return wrap_env(load_embedded_env(task_name=task, num_envs=num_envs, device="cpu", seed=seed,
                                      cfg={"sim": {"mujoco": {"nthread": 1}}}))


def experiment(cfg: dict, tmp_path, write_interval: int = 0, checkpoint_interval: int = 0) -> dict:
    cfg["experiment"] = {**cfg["experiment"], "directory": str(tmp_path), "experiment_name": "run",
                         "write_interval": write_interval, "checkpoint_interval": checkpoint_interval}
    return cfg


def train(agent, env, timesteps: int) -> None:
    SequentialTrainer(cfg={"timesteps": timesteps, "headless": True, "disable_progressbar": True},
                      env=env, agents=agent).train()


def snapshot(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict, module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


# -- PPO: separate and shared models, both signature generations ----------------------------------
@pytest.mark.parametrize("generation, layout", [("inputs", "separate"), ("states", "separate"), ("inputs", "shared"),
                                                ("states", "shared"), ("inputs", "shared_cached")])
def test_ppo_script(generation, layout, tmp_path):
    classes = GENERATIONS[generation]
    set_seed(42)
    env = make_env()
    device = env.device
    memory = RandomMemory(memory_size=16, num_envs=env.num_envs, device=device)
    models = {}
    if layout.startswith("shared"):
        models["policy"] = classes[layout](env.observation_space, env.action_space, device)
        models["value"] = models["policy"]
    else:
        models["policy"] = classes["policy"](env.observation_space, env.action_space, device)
        models["value"] = classes["value"](env.observation_space, env.action_space, device)
    cfg = copy.deepcopy(PPO_DEFAULT_CONFIG)
    cfg["rollouts"] = 16
    cfg["learning_epochs"] = 2
    cfg["mini_batches"] = 2
    cfg["entropy_loss_scale"] = 0.01
    cfg["learning_rate_scheduler"] = KLAdaptiveRL
    cfg["learning_rate_scheduler_kwargs"] = {"kl_threshold": 0.008}
    cfg["rewards_shaper"] = lambda rewards, timestep, timesteps: rewards * 0.01
    cfg["state_preprocessor"] = RunningStandardScaler
    cfg["state_preprocessor_kwargs"] = {"size": env.observation_space, "device": device}
    cfg["value_preprocessor"] = RunningStandardScaler
    cfg["value_preprocessor_kwargs"] = {"size": 1, "device": device}
    cfg = experiment(cfg, tmp_path, write_interval=32, checkpoint_interval=64)
    cfg["experiment"]["checkpoint_policy_only"] = False
    agent = PPO(models=models, memory=memory, cfg=cfg, observation_space=env.observation_space,
                action_space=env.action_space, device=device)
    before = {name: snapshot(m) for name, m in models.items()}
    train(agent, env, 64)

    for name, model in models.items():
        assert changed(before[name], model), f"{name} was not trained"
        assert all(torch.isfinite(p).all() for p in model.parameters())
    files = sorted(os.listdir(tmp_path / "run" / "checkpoints"))
    if layout.startswith("shared"):
        assert "64_value.pt" not in files and "64_policy.pt" in files  # one module: one checkpoint entry
        assert len(agent.optimizer.param_groups[0]["params"]) == len(list(models["policy"].parameters()))
    else:
        assert {"64_policy.pt", "64_value.pt"} <= set(files)
    assert "Policy / Standard deviation" in agent.last_tracking  # the policy role is the Gaussian one
    # evaluation acts with the policy's mean actions (a shared model's policy role: its Gaussian mixin)
    states = torch.randn(5, env.observation_space.shape[0])
    normalized = agent._state_preprocessor(states)
    policy = models["policy"]
    mean = (policy.act({"states": normalized}, role="policy")[2]["mean_actions"] if generation == "inputs"
            else policy.act(normalized, None, role="policy")[2])
    assert torch.equal(agent.act_deterministic(states), mean)
    # this package's agent checkpoint resumes an agent of mixin models
    if layout.startswith("shared"):
        fresh_models = {"policy": type(models["policy"])(env.observation_space, env.action_space, device)}
        fresh_models["value"] = fresh_models["policy"]
    else:
        fresh_models = {n: type(m)(env.observation_space, env.action_space, device) for n, m in models.items()}
    fresh_cfg = copy.deepcopy(cfg)
    fresh_cfg["experiment"]["experiment_name"] = "resumed"
    resumed = PPO(models=fresh_models, memory=RandomMemory(memory_size=16, num_envs=env.num_envs, device=device),
                  cfg=fresh_cfg, observation_space=env.observation_space, action_space=env.action_space, device=device)
    assert resumed.load(str(tmp_path / "run" / "checkpoints" / "64_agent.pt"))["timestep"] == 64
    for name in models:
        assert all(torch.equal(a, b) for a, b in zip(fresh_models[name].state_dict().values(),
                                                     models[name].state_dict().values()))
    # the user's module is what the checkpoints hold: its own keys, loadable into a fresh instance
    fresh = type(models["policy"])(env.observation_space, env.action_space, device)
    fresh.load(str(tmp_path / "run" / "checkpoints" / "64_policy.pt"))
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), models["policy"].state_dict().values()))


def test_shared_model_is_updated_once_per_step(tmp_path):
    """A shared model whose roles use disjoint networks trains bit-identically to the same networks as
    separate policy and value models: its parameters are in the optimizer once and stepped once."""

    def run(shared: bool, name: str) -> dict:
        set_seed(7)
        env = make_env(num_envs=4, seed=7)
        device = env.device
        set_seed(7)
        reference = TwoNetsSharedInputs(env.observation_space, env.action_space, device)
        if shared:
            models = {"policy": reference, "value": reference}
        else:
            policy = PolicyInputs(env.observation_space, env.action_space, device)
            value = ValueInputs(env.observation_space, env.action_space, device)
            policy.net.load_state_dict(reference.policy_net.state_dict())
            policy.log_std_parameter.data.copy_(reference.log_std_parameter.data)
            value.net.load_state_dict(reference.value_net.state_dict())
            models = {"policy": policy, "value": value}
        set_seed(11)  # the same random stream from here on (the separate models' own initialisation drew from it)
        cfg = copy.deepcopy(PPO_DEFAULT_CONFIG)
        cfg.update(rollouts=8, learning_epochs=2, mini_batches=2, entropy_loss_scale=0.01, grad_norm_clip=0.5)
        cfg = experiment(cfg, tmp_path / name)
        agent = PPO(models=models, memory=RandomMemory(memory_size=8, num_envs=env.num_envs, device=device),
                    cfg=cfg, observation_space=env.observation_space, action_space=env.action_space, device=device)
        train(agent, env, 32)
        if shared:
            return {"policy.net": snapshot(reference.policy_net), "log_std": reference.log_std_parameter.detach(),
                    "value.net": snapshot(reference.value_net)}
        return {"policy.net": snapshot(models["policy"].net), "log_std": models["policy"].log_std_parameter.detach(),
                "value.net": snapshot(models["value"].net)}

    separate, shared = run(False, "separate"), run(True, "shared")
    for key in ("policy.net", "value.net"):
        for k in separate[key]:
            assert torch.equal(separate[key][k], shared[key][k]), f"{key}.{k} differs"
    assert torch.equal(separate["log_std"], shared["log_std"])


# -- off-policy agents with mixin actors and critics ------------------------------------------------
OFF_POLICY = {
    "DDPG": (DDPG, DDPG_DEFAULT_CONFIG, {"policy": "actor", "target_policy": "actor", "critic": "critic",
                                         "target_critic": "critic"}),
    "TD3": (TD3, TD3_DEFAULT_CONFIG, {"policy": "actor", "target_policy": "actor", "critic_1": "critic",
                                      "critic_2": "critic", "target_critic_1": "critic", "target_critic_2": "critic"}),
    "SAC": (SAC, SAC_DEFAULT_CONFIG, {"policy": "policy", "critic_1": "critic", "critic_2": "critic",
                                      "target_critic_1": "critic", "target_critic_2": "critic"}),
}


@pytest.mark.parametrize("generation", ["inputs", "states"])
@pytest.mark.parametrize("agent_name", sorted(OFF_POLICY))
def test_off_policy_script(agent_name, generation, tmp_path):
    agent_class, default_cfg, roles = OFF_POLICY[agent_name]
    classes = GENERATIONS[generation]
    set_seed(42)
    env = make_env()
    device = env.device
    memory = RandomMemory(memory_size=1000, num_envs=env.num_envs, device=device)
    models = {}
    for name, kind in roles.items():
        models[name] = classes[kind](env.observation_space, env.action_space, device, clip_actions=True)
    cfg = copy.deepcopy(default_cfg)
    cfg["batch_size"] = 32
    cfg["random_timesteps"] = 10
    cfg["learning_starts"] = 10
    if "exploration" in cfg:
        cfg["exploration"]["noise"] = GaussianNoise(0, 0.1, device=device)
    cfg = experiment(cfg, tmp_path, write_interval=20)
    agent = agent_class(models=models, memory=memory, cfg=cfg, observation_space=env.observation_space,
                        action_space=env.action_space, device=device)
    before = {name: snapshot(m) for name, m in models.items()}
    train(agent, env, 60)

    for name, model in models.items():
        assert changed(before[name], model), f"{name} was not trained"
    critic = "critic" if "critic" in models else "critic_1"
    assert torch.isfinite(torch.tensor(agent.last_tracking["Loss / Critic loss"]))
    # the target follows its source by polyak averaging: close to it, not equal
    target = models["target_" + critic].state_dict()
    assert any(not torch.equal(v, models[critic].state_dict()[k]) for k, v in target.items())


# -- discrete actions: DQN with a Q-network, PPO with a categorical policy ---------------------------
@pytest.mark.parametrize("generation", ["inputs", "states"])
def test_dqn_script(generation, tmp_path):
    classes = GENERATIONS[generation]
    set_seed(42)
    env = make_env("CartpoleDiscrete")
    device = env.device
    memory = RandomMemory(memory_size=1000, num_envs=env.num_envs, device=device)
    models = {"q_network": classes["q_network"](env.observation_space, env.action_space, device),
              "target_q_network": classes["q_network"](env.observation_space, env.action_space, device)}
    cfg = copy.deepcopy(DQN_DEFAULT_CONFIG)
    cfg["learning_starts"] = 10
    cfg["batch_size"] = 32
    cfg = experiment(cfg, tmp_path, write_interval=20)
    agent = DQN(models=models, memory=memory, cfg=cfg, observation_space=env.observation_space,
                action_space=env.action_space, device=device)
    before = snapshot(models["q_network"])
    train(agent, env, 60)
    assert changed(before, models["q_network"])
    assert "Loss / Q-network loss" in agent.last_tracking
    actions = agent.act_deterministic(torch.zeros((3, env.observation_space.shape[0])))
    assert actions.shape == (3, 1) and actions.dtype == torch.long


@pytest.mark.parametrize("generation", ["inputs", "states"])
def test_ppo_categorical_script(generation, tmp_path):
    classes = GENERATIONS[generation]
    set_seed(42)
    env = make_env("CartpoleDiscrete")
    device = env.device
    models = {"policy": classes["categorical"](env.observation_space, env.action_space, device),
              "value": classes["value"](env.observation_space, env.action_space, device)}
    cfg = copy.deepcopy(PPO_DEFAULT_CONFIG)
    cfg.update(rollouts=16, learning_epochs=2, mini_batches=2, entropy_loss_scale=0.01)
    cfg = experiment(cfg, tmp_path, write_interval=32)
    agent = PPO(models=models, memory=RandomMemory(memory_size=16, num_envs=env.num_envs, device=device), cfg=cfg,
                observation_space=env.observation_space, action_space=env.action_space, device=device)
    before = snapshot(models["policy"])
    train(agent, env, 32)
    assert changed(before, models["policy"])
    assert "Loss / Entropy loss" in agent.last_tracking and "Policy / Standard deviation" not in agent.last_tracking
    actions = agent.act_deterministic(torch.zeros((3, env.observation_space.shape[0])))
    assert actions.shape == (3, 1)
