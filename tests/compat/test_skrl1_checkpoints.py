"""skrl 1.x agent checkpoints (``agent_<t>.pt``, ``best_agent.pt``) load into the agents and play.

The files are built here as skrl 1.x writes them: ``torch.save({name: module.state_dict() for name, module
in agent.checkpoint_modules.items()})`` with skrl's names (models by role, ``optimizer`` /
``policy_optimizer`` / ``critic_optimizer`` / ``entropy_optimizer``, ``state_preprocessor`` /
``value_preprocessor`` with skrl's RunningStandardScaler buffers), its optimizers plain
``torch.optim.Adam`` over ``itertools.chain`` of the models' parameters, as skrl builds them.
"""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from skrl_style_models import CriticInputs, PolicyInputs, SharedInputs, ValueInputs

from skrl_isaac.agents.torch.ppo import PPO, PPO_DEFAULT_CONFIG
from skrl_isaac.agents.torch.sac import SAC, SAC_DEFAULT_CONFIG
from skrl_isaac.envs.loaders.torch import load_embedded_env
from skrl_isaac.envs.wrappers.torch import wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch import CheckpointError
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.utils import set_seed


@pytest.fixture(scope="module")
def env():
    return wrap_env(load_embedded_env(task_name="Cartpole", num_envs=4, device="cpu", seed=3,
                                      cfg={"sim": {"mujoco": {"nthread": 1}}}))


def trained_adam(params, lr: float) -> torch.optim.Adam:
    """A plain Adam (as skrl 1.x builds it) with state: two steps on a quadratic loss."""
    params = list(params)
    optimizer = torch.optim.Adam(params, lr=lr)
    for _ in range(2):
        optimizer.zero_grad()
        sum((p ** 2).sum() for p in params).backward()
        optimizer.step()
    return optimizer


def skrl_scaler_state(size: int, seed: int) -> dict:
    """skrl 1.x RunningStandardScaler's state_dict: float64 buffers running_mean, running_variance, current_count."""
    g = torch.Generator().manual_seed(seed)
    return {"running_mean": torch.randn(size, generator=g, dtype=torch.float64),
            "running_variance": torch.rand(size, generator=g, dtype=torch.float64) + 0.5,
            "current_count": torch.tensor(1234.0, dtype=torch.float64)}


def ppo_agent(env, models, tmp_path, **cfg_overrides) -> PPO:
    cfg = copy.deepcopy(PPO_DEFAULT_CONFIG)
    cfg.update({"rollouts": 8, "state_preprocessor": "RunningStandardScaler",
                "value_preprocessor": "RunningStandardScaler", "value_preprocessor_kwargs": {"size": 1},
                **cfg_overrides})
    cfg["experiment"].update(directory=str(tmp_path), experiment_name="play", write_interval=0, checkpoint_interval=0)
    return PPO(models=models, memory=RandomMemory(memory_size=8, num_envs=env.num_envs, device="cpu"), cfg=cfg,
               observation_space=env.observation_space, action_space=env.action_space, device="cpu")


def write_skrl1_ppo_file(env, path, shared: bool = False) -> dict:
    set_seed(5)
    o, a = env.observation_space, env.action_space
    if shared:
        policy = value = SharedInputs(o, a, "cpu")
        optimizer = trained_adam(policy.parameters(), 3e-4)  # skrl: Adam(policy.parameters()) when policy is value
    else:
        policy, value = PolicyInputs(o, a, "cpu"), ValueInputs(o, a, "cpu")
        optimizer = trained_adam(itertools.chain(policy.parameters(), value.parameters()), 3e-4)
    checkpoint_modules = {"policy": policy, "value": value, "optimizer": optimizer,
                          "state_preprocessor": skrl_scaler_state(o.shape[0], 1),
                          "value_preprocessor": skrl_scaler_state(1, 2)}
    torch.save({name: (m if isinstance(m, dict) else m.state_dict()) for name, m in checkpoint_modules.items()}, path)
    return checkpoint_modules


@pytest.mark.parametrize("shared", [False, True], ids=["separate", "shared"])
def test_skrl1_ppo_checkpoint_loads_and_plays(env, tmp_path, shared):
    path = tmp_path / "agent_1600.pt"
    source = write_skrl1_ppo_file(env, path, shared)
    o, a = env.observation_space, env.action_space
    if shared:
        model = SharedInputs(o, a, "cpu")
        models = {"policy": model, "value": model}
    else:
        models = {"policy": PolicyInputs(o, a, "cpu"), "value": ValueInputs(o, a, "cpu")}
    agent = ppo_agent(env, models, tmp_path)
    assert agent.load(str(path)) == {"timestep": 1600}

    for name in ("policy", "value"):
        for k, v in source[name].state_dict().items():
            assert torch.equal(models[name].state_dict()[k], v), f"{name}.{k}"
    own, saved = agent.optimizer.state_dict(), source["optimizer"].state_dict()
    assert len(own["state"]) == len(saved["state"]) > 0
    for k, state in saved["state"].items():
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(own["state"][k][key], state[key])
        assert float(own["state"][k]["step"]) == float(state["step"]) == 2
    assert float(agent.optimizer.param_groups[0]["lr"]) == pytest.approx(3e-4)
    for name in ("state_preprocessor", "value_preprocessor"):
        for k, v in source[name].items():
            assert torch.equal(agent.checkpoint_modules[name].state_dict()[k], v), f"{name}.{k}"

    # play: the deterministic actions are the skrl policy's mean actions on the normalized states
    states = torch.randn(5, o.shape[0])
    scaler = source["state_preprocessor"]
    normalized = torch.clamp((states - scaler["running_mean"].float())
                             / (scaler["running_variance"].float().sqrt() + 1e-8), -5, 5)
    expected = source["policy"].act({"states": normalized}, role="policy")[2]["mean_actions"]
    assert torch.allclose(agent.act_deterministic(states), expected, atol=1e-6)
    trainer = SequentialTrainer(cfg={"timesteps": 10, "headless": True, "disable_progressbar": True,
                                     "close_environment_at_exit": False}, env=env, agents=agent)
    trainer.eval()
    # and training continues from the loaded optimizer state
    SequentialTrainer(cfg={"timesteps": 8, "headless": True, "disable_progressbar": True,
                           "close_environment_at_exit": False}, env=env, agents=agent).train()
    assert all(float(s["step"]) > 2 for s in agent.optimizer.state_dict()["state"].values())


def test_skrl1_sac_checkpoint_loads(env, tmp_path):
    set_seed(6)
    o, a = env.observation_space, env.action_space
    names = ("critic_1", "critic_2", "target_critic_1", "target_critic_2")
    source = {"policy": PolicyInputs(o, a, "cpu"), **{n: CriticInputs(o, a, "cpu") for n in names}}
    log_entropy_coefficient = torch.log(torch.ones(1) * 0.2).requires_grad_(True)
    optimizers = {"policy_optimizer": trained_adam(source["policy"].parameters(), 1e-3),
                  "critic_optimizer": trained_adam(itertools.chain(source["critic_1"].parameters(),
                                                                   source["critic_2"].parameters()), 2e-3),
                  "entropy_optimizer": trained_adam([log_entropy_coefficient], 5e-3)}
    path = tmp_path / "best_agent.pt"
    torch.save({**{n: m.state_dict() for n, m in source.items()}, **{n: o.state_dict() for n, o in optimizers.items()}},
               path)

    cfg = copy.deepcopy(SAC_DEFAULT_CONFIG)
    cfg["experiment"].update(directory=str(tmp_path), write_interval=0, checkpoint_interval=0)
    models = {"policy": PolicyInputs(o, a, "cpu"), **{n: CriticInputs(o, a, "cpu") for n in names}}
    agent = SAC(models=models, memory=RandomMemory(memory_size=8, num_envs=env.num_envs, device="cpu"), cfg=cfg,
                observation_space=o, action_space=a, device="cpu")
    assert agent.load(str(path)) == {"timestep": 0}
    for name, model in source.items():
        assert all(torch.equal(models[name].state_dict()[k], v) for k, v in model.state_dict().items())
    for name, optimizer in optimizers.items():
        own, saved = getattr(agent, name).state_dict(), optimizer.state_dict()
        assert [torch.equal(own["state"][k]["exp_avg"], s["exp_avg"]) for k, s in saved["state"].items()] \
            == [True] * len(saved["state"])
        assert float(getattr(agent, name).param_groups[0]["lr"]) == pytest.approx(saved["param_groups"][0]["lr"])


def test_files_of_another_layout_give_one_error(env, tmp_path):
    o, a = env.observation_space, env.action_space
    agent = ppo_agent(env, {"policy": PolicyInputs(o, a, "cpu"), "value": ValueInputs(o, a, "cpu")}, tmp_path)

    policy_only = tmp_path / "agent_10.pt"
    torch.save(PolicyInputs(o, a, "cpu").state_dict(), policy_only)
    with pytest.raises(CheckpointError, match=r"agent_10.pt: not an agent checkpoint .*expected a skrl 1.x agent "
                                              r"checkpoint \(a dict with \['policy', 'value', 'optimizer', "
                                              r"'state_preprocessor', 'value_preprocessor'\]\)"):
        agent.load(str(policy_only))

    other = tmp_path / "agent_20.pt"
    torch.save({"actor": PolicyInputs(o, a, "cpu").state_dict()}, other)
    with pytest.raises(CheckpointError, match=r"none of its models is in the file \(it holds \['actor'\]\)"):
        agent.load(str(other))

    # a skrl file with a state preprocessor, into an agent configured without one: say what to configure
    path = tmp_path / "agent_1600.pt"
    write_skrl1_ppo_file(env, path)
    plain = ppo_agent(env, {"policy": PolicyInputs(o, a, "cpu"), "value": ValueInputs(o, a, "cpu")}, tmp_path,
                      state_preprocessor=None, value_preprocessor=None)
    with pytest.raises(CheckpointError, match=r"\['state_preprocessor', 'value_preprocessor'\] have no counterpart"
                                              r".*cfg\['<name>'\] = 'RunningStandardScaler'"):
        plain.load(str(path))

    # another architecture: the mismatched keys and shapes, one line
    class Wider(PolicyInputs):
        def __init__(self, *args):
            super().__init__(*args)
            self.net[0] = torch.nn.Linear(self.num_observations, 64)
    wider = ppo_agent(env, {"policy": Wider(o, a, "cpu"), "value": ValueInputs(o, a, "cpu")}, tmp_path)
    with pytest.raises(CheckpointError, match=r"agent_1600.pt \[policy\]: checkpoint does not match"):
        wider.load(str(path))


def test_instantiated_skrl_models_load_into_this_packages_mlp_models(env, tmp_path):
    """skrl 1.x's runner builds its models with the instantiators (``net_container.<i>``): a checkpoint of
    such separate models loads into the command line's MLP models of the same sizes (``net.<i>``)."""
    from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy
    from skrl_isaac.utils.model_instantiators.torch import deterministic_model, gaussian_model

    o, a = env.observation_space, env.action_space
    network = [{"name": "net", "input": "STATES", "layers": [32, 32], "activations": "elu"}]
    policy = gaussian_model(o, a, "cpu", network=network, output="ACTIONS")
    value = deterministic_model(o, a, "cpu", network=network, output="ONE")
    path = tmp_path / "agent_48.pt"
    torch.save({"policy": policy.state_dict(), "value": value.state_dict()}, path)

    models = {"policy": MLPGaussianPolicy(o, a, "cpu", hiddens=[32, 32], activation="elu"),
              "value": MLPDeterministic(o, a, "cpu", outputs=1, hiddens=[32, 32], activation="elu")}
    agent = ppo_agent(env, models, tmp_path, state_preprocessor=None, value_preprocessor=None)
    assert agent.load(str(path)) == {"timestep": 48}
    states = torch.randn(3, o.shape[0])
    assert torch.equal(agent.act_deterministic(states), policy.act({"states": states}, role="policy")[2]["mean_actions"])
    assert torch.equal(models["value"].act(states)[0], value.act({"states": states}, role="value")[0])


def test_the_cli_plays_a_skrl1_agent_checkpoint(tmp_path):
    """``train_isaac.py test=True checkpoint=agent_<t>.pt``: a skrl 1.x file of the CLI's own models plays."""
    import os
    import subprocess
    import sys

    from omegaconf import OmegaConf

    from skrl_isaac.builders import build_agent
    from skrl_isaac.utils.processes import python_env

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cfg = OmegaConf.to_container(OmegaConf.load(os.path.join(root, "skrl_isaac", "cfg", "train", "CartpolePPO.yaml")))
    cfg["agent"]["experiment"].update(directory=str(tmp_path / "unused"), write_interval=0, checkpoint_interval=0)
    env = wrap_env(load_embedded_env(task_name="Cartpole", num_envs=4, device="cpu", seed=0))
    agent = build_agent(cfg, env, torch.device("cpu"), "Cartpole")  # the models the CLI builds
    o = env.observation_space
    parameters = itertools.chain(agent.models["policy"].parameters(), agent.models["value"].parameters())
    optimizer = trained_adam(list({id(p): p for p in parameters}.values()), 3e-4)  # a shared trunk's parameters once
    folder = tmp_path / "runs" / "skrl1" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"policy": agent.models["policy"].state_dict(), "value": agent.models["value"].state_dict(),
                "optimizer": optimizer.state_dict(), "state_preprocessor": skrl_scaler_state(o.shape[0], 1),
                "value_preprocessor": skrl_scaler_state(1, 2)}, folder / "agent_1600.pt")
    result = subprocess.run([sys.executable, os.path.join(root, "train_isaac.py"), "task=Cartpole", "test=True",
                             "checkpoint=runs/skrl1/checkpoints/agent_1600.pt", "num_envs=4", "test_timesteps=20"],
                            cwd=tmp_path, env=python_env(root), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "played" in result.stdout or "no episode finished" in result.stdout
    (folder / "agent_1600.pt").write_bytes(b"not a checkpoint")
    bad = subprocess.run([sys.executable, os.path.join(root, "train_isaac.py"), "task=Cartpole", "test=True",
                          "checkpoint=runs/skrl1/checkpoints/agent_1600.pt"], cwd=tmp_path, env=python_env(root),
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1
