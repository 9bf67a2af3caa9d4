"""skrl 1.x's model instantiators (``skrl_isaac.utils.model_instantiators.torch``): skrl's arguments, skrl's
module names (so skrl 1.x checkpoints of instantiated models load), and models the agents train."""

from __future__ import annotations

import copy

import gymnasium
import numpy as np
import pytest
import torch

from skrl_isaac.agents.torch.ppo import PPO, PPO_DEFAULT_CONFIG
from skrl_isaac.envs.loaders.torch import load_embedded_env
from skrl_isaac.envs.wrappers.torch import wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.utils import set_seed
from skrl_isaac.utils.model_instantiators.torch import (Shape, categorical_model, deterministic_model,
                                                        gaussian_model, shared_model)

OBS = gymnasium.spaces.Box(-np.inf, np.inf, (5,), dtype=np.float32)
ACT = gymnasium.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
NET = [{"name": "net", "input": "STATES", "layers": [32, 32], "activations": "elu"}]


def test_gaussian_model_arguments_and_names():
    set_seed(0)
    model = gaussian_model(OBS, ACT, "cpu", clip_actions=True, clip_log_std=True, min_log_std=-3, max_log_std=0.5,
                           reduction="sum", initial_log_std=0.7, fixed_log_std=True, network=NET,
                           output="2 * tanh(ACTIONS)")
    # skrl 1.3-1.4's generated class: <name>_container (output layer appended), log_std_parameter
    assert list(model.state_dict()) == ["log_std_parameter"] + [f"net_container.{i}.{p}" for i in (0, 2, 4)
                                                                 for p in ("weight", "bias")]
    assert [type(m).__name__ for m in model.net_container] == ["Linear", "ELU", "Linear", "ELU", "Linear"]
    assert model.net_container[4].out_features == 2 and model.net_container[0].in_features == 5
    assert not model.log_std_parameter.requires_grad and torch.all(model.log_std_parameter == 0.7)
    states = torch.randn(64, 5) * 100
    actions, log_prob, outputs = model.act({"states": states}, role="policy")
    assert actions.shape == (64, 2) and log_prob.shape == (64, 1)
    assert outputs["mean_actions"].abs().max() <= 2 and outputs["mean_actions"].abs().max() > 1  # 2 * tanh
    assert actions.abs().max() <= 1  # clip_actions
    assert torch.allclose(model.distribution(role="policy").stddev, torch.tensor(0.5).exp())  # clip_log_std


def test_deterministic_critic_and_categorical():
    critic = deterministic_model(OBS, ACT, "cpu", network=[
        {"name": "net", "input": "concatenate([STATES, ACTIONS])", "layers": [16], "activations": "relu"}],
        output="ONE")
    assert critic.net_container[0].in_features == 7
    q = critic.act({"states": torch.randn(3, 5), "taken_actions": torch.randn(3, 2)}, role="critic_1")[0]
    assert q.shape == (3, 1)
    discrete = gymnasium.spaces.Discrete(4)
    policy = categorical_model(OBS, discrete, "cpu", unnormalized_log_prob=True, network=NET, output="ACTIONS")
    actions, log_prob, outputs = policy.act({"states": torch.randn(6, 5)}, role="policy")
    assert actions.shape == (6, 1) and log_prob.shape == (6, 1) and outputs["net_output"].shape == (6, 4)


def test_deprecated_arguments_build_the_same_model():
    old = gaussian_model(OBS, ACT, "cpu", input_shape=Shape.STATES, hiddens=[32, 32], hidden_activation=["elu", "elu"],
                         output_shape=Shape.ACTIONS, output_activation="tanh", output_scale=2.0)
    new = gaussian_model(OBS, ACT, "cpu", network=NET, output="2.0 * tanh(ACTIONS)")
    assert {k: v.shape for k, v in old.state_dict().items()} == {k: v.shape for k, v in new.state_dict().items()}
    new.load_state_dict(old.state_dict())
    states = torch.randn(4, 5)
    assert torch.equal(old.act({"states": states})[2]["mean_actions"], new.act({"states": states})[2]["mean_actions"])


def test_shared_model_single_forward_pass():
    parameters = [{"clip_actions": False, "network": NET, "output": "ACTIONS"}, {"network": NET, "output": "ONE"}]
    model = shared_model(OBS, ACT, "cpu", structure=["GaussianMixin", "DeterministicMixin"], roles=["policy", "value"],
                         parameters=parameters)
    assert sorted(model.state_dict()) == sorted(["log_std_parameter", "policy_layer.weight", "policy_layer.bias",
                                                 "value_layer.weight", "value_layer.bias"]
                                                + [f"net_container.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")])
    calls = []
    model.net_container.register_forward_hook(lambda *args: calls.append(1))
    states = torch.randn(8, 5)
    mean = model.act({"states": states}, role="policy")[2]["mean_actions"]
    value = model.act({"states": states}, role="value")[0]
    assert len(calls) == 1  # the value reused the shared features of the same states
    assert torch.equal(value, model.value_layer(model.net_container(states)))
    assert torch.equal(mean, model.policy_layer(model.net_container(states)))
    states.mul_(2)  # modified in place: not the same states any more
    model.act({"states": states}, role="policy")
    model.act({"states": states.clone()}, role="value")
    assert len(calls) == 5  # 1 + policy + value (a new tensor) + the two checks above


@pytest.mark.parametrize("definition, message", [
    ({"network": [{"name": "net", "input": "STATES", "layers": [32], "activations": "gelu"}], "output": "ACTIONS"},
     "unsupported activation 'gelu'; valid: elu, leaky_relu, relu"),
    ({"network": [{"name": "net", "input": "PIXELS", "layers": [32]}], "output": "ACTIONS"},
     "unsupported name in input of container 'net' 'PIXELS'"),
    ({"network": [{"name": "net", "input": "STATES", "layers": [{"lstm": 8}]}], "output": "ACTIONS"},
     "unsupported layer {'lstm': 8}"),
    ({"network": [], "output": "ACTIONS"}, "network is empty"),
])
def test_bad_definitions_say_what_is_valid(definition, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[").replace("{", r"\{")):
        gaussian_model(OBS, ACT, "cpu", **definition)
    with pytest.raises(ValueError, match="return_source=True is not available"):
        gaussian_model(OBS, ACT, "cpu", network=NET, output="ACTIONS", return_source=True)


def test_ppo_trains_instantiated_shared_model(tmp_path, one_torch_thread):
    set_seed(1)
    env = wrap_env(load_embedded_env(task_name="Cartpole", num_envs=8, device="cpu", seed=1,
                                     cfg={"sim": {"mujoco": {"nthread": 1}}}))
    model = shared_model(env.observation_space, env.action_space, env.device, roles=["policy", "value"],
                         parameters=[{"network": NET, "output": "ACTIONS"}, {"network": NET, "output": "ONE"}])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = copy.deepcopy(PPO_DEFAULT_CONFIG)
    cfg.update(rollouts=16, learning_epochs=2, mini_batches=2)
    cfg["experiment"].update(directory=str(tmp_path), write_interval=0, checkpoint_interval=0)
    agent = PPO(models={"policy": model, "value": model}, cfg=cfg, device=env.device,
                memory=RandomMemory(memory_size=16, num_envs=env.num_envs, device=env.device),
                observation_space=env.observation_space, action_space=env.action_space)
    SequentialTrainer(cfg={"timesteps": 32, "headless": True, "disable_progressbar": True}, env=env,
                      agents=agent).train()
    assert all(not torch.equal(before[k], v) for k, v in model.state_dict().items() if k != "log_std_parameter")
