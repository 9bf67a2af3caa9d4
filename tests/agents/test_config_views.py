"""Each agent's typed view of its merged config: one field per config key, a docstring per field, types checked."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap

import pytest

from skrl_isaac.agents.torch.ddpg import DDPG_DEFAULT_CONFIG
from skrl_isaac.agents.torch.dqn import DQN_DEFAULT_CONFIG
from skrl_isaac.agents.torch.dqn.dqn import DQNConfig
from skrl_isaac.agents.torch.off_policy import OffPolicyConfig
from skrl_isaac.agents.torch.ppo import PPO_DEFAULT_CONFIG
from skrl_isaac.agents.torch.ppo.config import PPOConfig
from skrl_isaac.agents.torch.recorder import EXPERIMENT_DEFAULT_CONFIG, ExperimentConfig
from skrl_isaac.agents.torch.sac import SAC_DEFAULT_CONFIG
from skrl_isaac.agents.torch.sac.sac import SACConfig
from skrl_isaac.agents.torch.td3 import TD3_DEFAULT_CONFIG
from skrl_isaac.agents.torch.td3.td3 import TD3Config
from skrl_isaac.utils.config import typed_view

from test_ppo import counting_env, make_ppo

VIEWS = [(PPOConfig, PPO_DEFAULT_CONFIG), (ExperimentConfig, EXPERIMENT_DEFAULT_CONFIG), (DQNConfig, DQN_DEFAULT_CONFIG),
         (OffPolicyConfig, DDPG_DEFAULT_CONFIG), (TD3Config, TD3_DEFAULT_CONFIG), (SACConfig, SAC_DEFAULT_CONFIG)]


def documented_fields(cls) -> set[str]:
    """Fields followed by a string literal (an attribute docstring) in the class body (and its bases')."""
    if not dataclasses.is_dataclass(cls) or cls is object:
        return set()
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    own = {a.target.id for a, b in zip(body, body[1:]) if isinstance(a, ast.AnnAssign)
           and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str)}
    return own.union(*(documented_fields(base) for base in cls.__bases__))


@pytest.mark.parametrize("view,defaults", VIEWS)
def test_every_field_is_a_documented_config_key(view, defaults):
    names = [f.name for f in dataclasses.fields(view)]
    assert {n.rstrip("_") for n in names} <= set(defaults)
    assert documented_fields(view) == set(names)
    if view is not ExperimentConfig:  # (the experiment view is built by the recorder from its own section)
        built = typed_view(view, defaults, owner="test")
        assert all(getattr(built, n) == defaults[n.rstrip("_")] for n in names)


def test_the_agent_reads_its_typed_view(counting_task, tmp_path):
    env, _, _ = counting_env(counting_task, "cpu")
    agent = make_ppo(env, "cpu", tmp_path, rollouts=4, **{"lambda": 0.9, "kl_threshold": 1})
    assert agent.config == typed_view(PPOConfig, agent.cfg, owner="PPO")
    assert agent.config.lambda_ == 0.9 and agent.config.rollouts == 4
    assert isinstance(agent.config.kl_threshold, float)  # an int in the YAML, a float here


@pytest.mark.parametrize("key,value,message", [("mini_batches", 2.5, "must be an int"),
                                               ("mini_batches", "8", "must be an int"),
                                               ("ratio_clip", None, "must be a float"),
                                               ("learning_epochs", True, "must be an int")])
def test_a_value_of_the_wrong_type_is_one_clear_error(counting_task, tmp_path, key, value, message):
    env, _, _ = counting_env(counting_task, "cpu")
    with pytest.raises(ValueError, match=f"PPO: cfg\\['{key}'\\] {message}, got"):
        make_ppo(env, "cpu", tmp_path, **{key: value})
