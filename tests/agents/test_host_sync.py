"""Invariant 1 on a CPU-only machine: nothing on the hot path reads tensor data back to the host.

The guard (``tests/host_sync.py``) stands in for ``torch.cuda.set_sync_debug_mode("error")``. These tests
prove it has teeth: each forbidden read raises under it, and each one added to an agent's per-step
methods, to the memory or to the environment step makes the hot-path run fail. The same runs without an
injected read pass, so the code as it is holds the invariant.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch

import skrl_isaac_envs as envs
from conftest import CountingTask
from host_sync import HostSyncGuard
from skrl_isaac.agents.torch.ddpg import DDPG
from skrl_isaac.agents.torch.dqn import DQN
from skrl_isaac.agents.torch.ppo import PPO
from skrl_isaac.agents.torch.sac import SAC
from skrl_isaac.agents.torch.td3 import TD3
from skrl_isaac.envs.torch import wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy
from skrl_isaac.trainers.torch import SequentialTrainer

#: every way to read a device tensor back to the host; each must raise inside the guard
FORBIDDEN = {
    "float(t)": lambda t: float(t[0]),
    "bool((t > x).any())": lambda t: bool((t > 0.5).any()),
    "if t > x": lambda t: 1 if t.reshape(-1)[0] > 0.5 else 0,
    "int(t)": lambda t: int(t.reshape(-1)[0]),
    "operator.index(t)": lambda t: operator.index(t.reshape(-1)[:1].long().squeeze()),
    "t.item()": lambda t: t.sum().item(),
    "t.tolist()": lambda t: t.tolist(),
    "t.numpy()": lambda t: t.numpy(),
    "np.asarray(t)": lambda t: np.asarray(t),
    "t.cpu()": lambda t: t.cpu(),
    't.to("cpu")': lambda t: t.to("cpu"),
    't.to(device=torch.device("cpu"))': lambda t: t.to(device=torch.device("cpu")),
    "torch.nonzero(t)": lambda t: torch.nonzero(t),
    "torch.where(mask)": lambda t: torch.where(t > 0.5),
    "t[mask]": lambda t: t[t > 0.5],
    "t[mask] = 0": lambda t: t.clone().__setitem__(t > 0.5, 0.0),
    "t.masked_select(mask)": lambda t: t.masked_select(t > 0.5),
    "t.unique()": lambda t: t.unique(),
    "torch.equal(t, t)": lambda t: torch.equal(t, t),
    "repr(t)": lambda t: repr(t),
    "str(t)": lambda t: str(t),
    "f'{t:.2f}'": lambda t: f"{t.reshape(-1)[0]:.2f}",
}

#: the reads the issue names, injected into every agent
NAMED = ("float(t)", "bool((t > x).any())", 't.to("cpu")', "torch.nonzero(t)", "t[mask]", "repr(t)")


@pytest.mark.parametrize("name", list(FORBIDDEN))
def test_guard_raises_on_each_host_read(name):
    t = torch.rand(6, 1)
    with pytest.raises(AssertionError, match="host sync"), HostSyncGuard() as guard:
        FORBIDDEN[name](t)
    assert guard.violations, name
    FORBIDDEN[name](t)  # and the guard is gone after the block


def test_guard_lets_device_only_work_through():
    """What the hot path does (arithmetic, masked writes without a host read, moves to the configured
    device, index tensors) passes."""

    class Owner:
        def __init__(self):
            self.device = torch.device("cpu")

        def move(self, t):
            return t.to(self.device)

    t, owner = torch.rand(6, 2), Owner()
    with HostSyncGuard() as guard:
        mask = t > 0.5
        out = torch.where(mask, t, 0.0).masked_fill_(mask, 1.0)
        out[torch.arange(3)] = 2.0
        out.copy_(owner.move(t * 2).to(torch.float32))
        torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.ones(2))], 1.0)
        mask.any(), t.amax(), t.sum(dim=0), t[1:3], t.cumsum(0), torch.nonzero_static(mask, size=12)
    assert guard.violations == []


# -- the hot paths, with and without an injected read --------------------------------------------
NUM_ENVS = 4


def counting_env():
    return wrap_env(CountingTask(NUM_ENVS, [3, 4, 5, 6], [1.0, 2.0, 3.0, 4.0]))


def build(agent_name: str):
    if agent_name == "PPO":
        env = counting_env()
        o, a = env.observation_space, env.action_space
        models = {"policy": MLPGaussianPolicy(o, a, "cpu", hiddens=[16]),
                  "value": MLPDeterministic(o, a, "cpu", outputs=1, hiddens=[16])}
        cfg = {"rollouts": 4, "learning_epochs": 1, "mini_batches": 2, "state_preprocessor": "RunningStandardScaler",
               "value_preprocessor": "RunningStandardScaler", "learning_rate_scheduler": "KLAdaptiveRL",
               "entropy_loss_scale": 0.01, "time_limit_bootstrap": True}
        return PPO, env, models, RandomMemory(memory_size=4, num_envs=NUM_ENVS), cfg
    task = "CartpoleDiscrete" if agent_name == "DQN" else "Cartpole"
    env = wrap_env(envs.make(task, num_envs=NUM_ENVS, seed=0, cfg={"sim": {"mujoco": {"nthread": 1}}}))
    o, a = env.observation_space, env.action_space
    h = {"hiddens": [16]}

    def policy():
        return MLPDeterministic(o, a, "cpu", clip_actions=True, output_activation="tanh", **h)

    def critic():
        return MLPDeterministic(o, a, "cpu", outputs=1, critic=True, **h)

    models = {"DQN": lambda: {n: MLPDeterministic(o, a, "cpu", outputs=int(a.n), **h)
                              for n in ("q_network", "target_q_network")},
              "DDPG": lambda: {"policy": policy(), "target_policy": policy(), "critic": critic(),
                               "target_critic": critic()},
              "TD3": lambda: {"policy": policy(), "target_policy": policy(), "critic_1": critic(),
                              "critic_2": critic(), "target_critic_1": critic(), "target_critic_2": critic()},
              "SAC": lambda: {"policy": MLPGaussianPolicy(o, a, "cpu", clip_actions=True, **h), "critic_1": critic(),
                              "critic_2": critic(), "target_critic_1": critic(), "target_critic_2": critic()},
              }[agent_name]()
    cls = {"DQN": DQN, "DDPG": DDPG, "TD3": TD3, "SAC": SAC}[agent_name]
    cfg = {"batch_size": 8, "learning_starts": 4, "random_timesteps": 2, "state_preprocessor": "RunningStandardScaler"}
    if agent_name in ("DDPG", "TD3"):
        cfg["exploration"] = {"noise": {"class": "GaussianNoise", "mean": 0.0, "std": 0.1}}
    if agent_name == "TD3":
        cfg["smooth_regularization_noise"] = {"class": "OrnsteinUhlenbeckNoise", "theta": 0.15, "sigma": 0.2,
                                              "base_scale": 1.0}
    return cls, env, models, RandomMemory(memory_size=16, num_envs=NUM_ENVS), cfg


def run_hot_path(agent_name: str, tmp_path, timesteps: int = 16) -> HostSyncGuard:
    """Train ``timesteps`` steps under the guard (the writers at the interval boundaries allowed);
    return the guard (its ``violations``)."""
    cls, env, models, memory, cfg = build(agent_name)
    cfg["experiment"] = {"directory": str(tmp_path), "experiment_name": "run", "write_interval": 8,
                         "checkpoint_interval": 8, "checkpoint_policy_only": False}
    agent = cls(models=models, memory=memory, cfg=cfg, observation_space=env.observation_space,
                action_space=env.action_space, device="cpu")
    trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": timesteps, "disable_progressbar": True,
                                                            "summary": False})
    guard = HostSyncGuard()
    try:
        with guard:
            guard.allow(agent, "write_tracking_data")
            guard.allow(agent, "write_checkpoint")
            guard.allow(agent, "check_finite")  # PPO: one read per update (its NaN/inf check), none per env step
            trainer.train()
    except AssertionError:
        assert guard.violations  # raised by the guard, not by something else
    return guard


AGENTS = ["PPO", "DQN", "DDPG", "TD3", "SAC"]
AGENT_CLASSES = {"PPO": PPO, "DQN": DQN, "DDPG": DDPG, "TD3": TD3, "SAC": SAC}


@pytest.mark.parametrize("agent_name", AGENTS)
def test_hot_path_holds_the_invariant(agent_name, tmp_path):
    """act, env.step, record_transition (memory.add_samples) and post_interaction with its updates,
    between the write boundaries: no host read. (The run reaches the boundaries: checkpoints exist.)"""
    guard = run_hot_path(agent_name, tmp_path)
    assert guard.violations == []
    assert (tmp_path / "run" / "checkpoints" / "16_agent.pt").is_file()


def inject(monkeypatch, owner, method: str, read, arg: int | None = None):
    """Make ``owner.method`` do ``read`` on a tensor argument (or on its first tensor output) after its own work."""
    original = getattr(owner, method)

    def with_read(*args, **kwargs):
        out = original(*args, **kwargs)
        tensors = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.Tensor)]
        if not tensors:
            tensors = [o for o in (out if isinstance(out, tuple) else (out,)) if isinstance(o, torch.Tensor)]
        if not tensors:  # post_interaction: a tensor the agent holds
            tensors = [next(p for m in args[0].models.values() if m is not None for p in m.parameters()).detach()]
        read(tensors[0])
        return out

    monkeypatch.setattr(owner, method, with_read)


@pytest.mark.parametrize("name", list(FORBIDDEN))
def test_each_read_added_to_ppo_record_transition_fails(name, tmp_path, monkeypatch):
    inject(monkeypatch, PPO, "record_transition", FORBIDDEN[name])
    assert run_hot_path("PPO", tmp_path, timesteps=4).violations


@pytest.mark.parametrize("method", ["act", "record_transition", "post_interaction"])
@pytest.mark.parametrize("name", NAMED)
@pytest.mark.parametrize("agent_name", AGENTS)
def test_each_named_read_added_to_each_agent_fails(agent_name, name, method, tmp_path, monkeypatch):
    inject(monkeypatch, AGENT_CLASSES[agent_name], method, FORBIDDEN[name])
    assert run_hot_path(agent_name, tmp_path, timesteps=2).violations


@pytest.mark.parametrize("name", NAMED)
def test_a_read_added_to_the_memory_fails(name, tmp_path, monkeypatch):
    inject(monkeypatch, RandomMemory, "add_samples", FORBIDDEN[name])
    assert run_hot_path("SAC", tmp_path, timesteps=2).violations


# -- the memory and the embedded environments on their own -----------------------------------------
def test_memory_add_samples_and_sample_hold_the_invariant():
    memory = RandomMemory(memory_size=5, num_envs=3)
    memory.create_tensor("states", 4, torch.float32)
    memory.create_tensor("done", 1, torch.bool)
    with HostSyncGuard() as guard:
        for k in range(12):  # wraps around twice
            memory.add_samples(states=torch.full((3, 4), float(k)), done=torch.zeros(3, 1, dtype=torch.bool))
        memory.sample(["states", "done"], batch_size=4)
        memory.sample_all(["states"], mini_batches=2)
    assert guard.violations == []
    assert torch.equal(memory.get_tensor_by_name("states", keepdim=False)[:, 0].sort().values,
                       torch.tensor([7.0, 8, 9, 10, 11]).repeat_interleave(3))


#: task -> (config, steps): Ant and Humanoid time out after 10 steps, Cartpole falls pushed one way
ENV_CFG = {"Ant": ({"env": {"episodeLength": 10}}, 25), "Humanoid": ({"env": {"episodeLength": 10}}, 25),
           "Cartpole": (None, 100), "CartpoleDiscrete": (None, 100)}


@pytest.mark.parametrize("task", list(ENV_CFG))
def test_embedded_env_step_holds_the_invariant(task):
    """The wrapped embedded task's step, including its resets."""
    cfg, steps = ENV_CFG[task]
    env = wrap_env(envs.make(task, 4, seed=0, cfg=cfg))
    gen = torch.Generator().manual_seed(0)
    if task.startswith("Cartpole"):
        action = torch.ones(4, 1, dtype=torch.long if task == "CartpoleDiscrete" else torch.float32)
        actions = [action] * steps
    else:
        actions = [torch.rand((4, env.action_space.shape[0]), generator=gen) * 2 - 1 for _ in range(steps)]
    env.reset()
    ended = torch.zeros(4, 1, dtype=torch.bool)
    with HostSyncGuard() as guard:
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            ended |= terminated | truncated
    assert guard.violations == []
    assert ended.all()  # every env went through a reset inside the guarded region


@pytest.mark.parametrize("name", NAMED)
def test_a_read_added_to_the_env_step_fails(name, monkeypatch):
    task = envs.make("Cartpole", 4, seed=0)
    inject(monkeypatch, type(task), "step", FORBIDDEN[name])
    env = wrap_env(task)
    env.reset()
    with pytest.raises(AssertionError, match="host sync"), HostSyncGuard():
        env.step(torch.zeros(4, 1))
