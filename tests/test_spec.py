"""Every Python code block of the spec (docs/spec/saving_loading_logging.rst) runs with skrl -> skrl_isaac."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from skrl_isaac.agents.torch.ppo import PPO, PPO_DEFAULT_CONFIG
from skrl_isaac.envs.torch import wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch import GaussianModel
from skrl_isaac.trainers.torch import SequentialTrainer

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec" / "saving_loading_logging.rst"
#: the team's copy beside the checkout (or where SKRL_ISAAC_SHARED_SPEC points): the repo copy must equal it
SHARED_SPEC = Path(os.environ.get("SKRL_ISAAC_SHARED_SPEC",
                                  ROOT.parent / "shared" / "spec" / "saving_loading_logging.rst"))


def python_blocks() -> list[str]:
    """The spec's ``.. code-block:: python`` bodies, dedented, with the import root renamed."""
    lines = SPEC.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == ".. code-block:: python":
            indent = len(lines[i]) - len(lines[i].lstrip())
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                body.append(lines[i])
                i += 1
            code = [line for line in body if not line.strip().startswith(":")]
            width = min(len(line) - len(line.lstrip()) for line in code if line.strip())
            text = "\n".join(line[width:] for line in code).strip("\n")
            blocks.append(re.sub(r"\bskrl\.", "skrl_isaac.", text))
        else:
            i += 1
    return blocks


def test_spec_is_present_with_its_six_python_blocks():
    assert SPEC.is_file(), f"the spec {SPEC} is missing: every test of this file checks the package against it"
    assert len(python_blocks()) == 6


def test_repo_copy_of_spec_matches_shared_spec():
    if not SHARED_SPEC.is_file():
        pytest.fail(f"the shared spec {SHARED_SPEC} is missing, so the repo copy {SPEC} cannot be checked against "
                    "it; set SKRL_ISAAC_SHARED_SPEC to the specification's path")
    assert SHARED_SPEC.read_text() == SPEC.read_text()


def test_default_config_blocks_are_the_agent_defaults():
    config_blocks = [b for b in python_blocks() if b.startswith("DEFAULT_CONFIG")]
    assert len(config_blocks) == 2
    for block in config_blocks:
        namespace: dict = {}
        exec("\n".join(line for line in block.splitlines() if line.strip() != "..."), namespace)
        spec = namespace["DEFAULT_CONFIG"]["experiment"]
        assert {k: PPO_DEFAULT_CONFIG["experiment"][k] for k in spec} == spec


class SpecGaussianPolicy(GaussianModel):
    """A user-defined Gaussian policy in the spec's style."""

    def __init__(self, observation_space, action_space, device, clip_actions=False):
        super().__init__(observation_space, action_space, device, clip_actions)
        self.net = nn.Sequential(nn.Linear(self.num_observations, 32), nn.ReLU(), nn.Linear(32, self.num_actions))
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))

    def compute(self, states, taken_actions):
        return self.net(states), self.log_std_parameter


def trained_ppo(counting_task, device, directory, experiment_name, write_interval=10, timesteps=40):
    from skrl_isaac.models.torch.mlp import MLPDeterministic

    env = wrap_env(counting_task(4, [3, 4, 5, 6], [1.0, 2.0, 3.0, 4.0], device=device))
    models = {"policy": SpecGaussianPolicy(env.observation_space, env.action_space, device),
              "value": MLPDeterministic(env.observation_space, env.action_space, device, outputs=1, hiddens=[8])}
    agent = PPO(models=models, memory=RandomMemory(memory_size=8, num_envs=4, device=device),
                cfg={"rollouts": 8, "experiment": {"directory": str(directory), "experiment_name": experiment_name,
                                                   "write_interval": write_interval, "checkpoint_interval": 20}},
                observation_space=env.observation_space, action_space=env.action_space, device=device)
    SequentialTrainer(env=env, agents=agent, cfg={"timesteps": timesteps, "disable_progressbar": True}).train()
    return agent, env


def test_tracking_blocks_write_custom_scalars(counting_task, tmp_path, scalars_reader):
    import psutil

    blocks = [b for b in python_blocks() if "Resource / CPU usage" in b]
    assert len(blocks) == 2
    agent, env = trained_ppo(counting_task, "cpu", tmp_path, "exp", timesteps=10)
    agent.init()  # reopen the writer after training closed it
    for block in blocks:
        exec(block, {"agent": agent, "psutil": psutil})
    agent.post_interaction(9, 10)  # the next write_interval boundary (timestep 10)
    agent.close()
    scalars = scalars_reader(tmp_path / "exp")
    steps = sorted(step for step, _ in scalars["Resource / CPU usage"])
    assert steps == [10, 1000]


def test_gaussian_policy_trained_by_ppo_loads_like_the_spec_example(counting_task, tmp_path, device):
    agent, env = trained_ppo(counting_task, device, tmp_path / "runs", "22-01-09_22-48-49-816281_PPO")
    path = tmp_path / "runs" / "22-01-09_22-48-49-816281_PPO" / "checkpoints" / "40_policy.pt"
    policy = SpecGaussianPolicy(env.observation_space, env.action_space, device, clip_actions=True)
    policy.load(str(path))
    states = torch.randn(5, env.observation_space.shape[0], device=device)
    expected = agent.policy.deterministic_act(states).clamp(-1.0, 1.0)  # the spec's policy clips actions
    torch.testing.assert_close(policy.deterministic_act(states), expected)


def test_memory_export_block_constructs_the_memory(tmp_path, monkeypatch):
    block = next(b for b in python_blocks() if "RandomMemory(" in b)

    class Env:
        num_envs = 3

    monkeypatch.chdir(tmp_path)
    namespace = {"env": Env(), "device": "cpu"}
    exec(block, namespace)
    memory = namespace["memory"]
    assert (memory.memory_size, memory.num_envs, memory.export, memory.export_format) == (16, 3, True, "pt")
    assert os.path.normpath(memory.export_directory) == "memories"
    memory.close()
