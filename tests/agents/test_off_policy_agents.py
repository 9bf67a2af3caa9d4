"""Off-policy agents (DQN, DDPG, TD3, SAC): TensorBoard tags, checkpoints, learning, no host sync per step.

Everything runs on the embedded Cartpole (``CartpoleDiscrete`` for DQN), with one torch thread and
one MuJoCo thread so that the timings hold on a 2-core CI machine.
"""

from __future__ import annotations

import os
import time

import pytest
import torch
from conftest import python_env
import skrl_isaac_envs as envs
from skrl_isaac.envs.torch import wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy
from skrl_isaac.resources.noises.torch import GaussianNoise, OrnsteinUhlenbeckNoise
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.utils import set_seed

AGENTS = ("DQN", "DDPG", "TD3", "SAC")
MODEL_NAMES = {
    "DQN": ("q_network", "target_q_network"),
    "DDPG": ("policy", "target_policy", "critic", "target_critic"),
    "TD3": ("policy", "target_policy", "critic_1", "critic_2", "target_critic_1", "target_critic_2"),
    "SAC": ("policy", "critic_1", "critic_2", "target_critic_1", "target_critic_2"),
}


def stats(tag: str) -> set[str]:
    return {f"{tag} ({s})" for s in ("max", "min", "mean")}


COMMON_TAGS = stats("Reward / Instantaneous reward") | stats("Reward / Total reward") | stats("Episode / Total timesteps")
# the spec's "Tracked metrics" table, one column per agent ("+" rows)
SPEC_TAGS = {
    "DQN": {"Exploration / Exploration epsilon", "Loss / Q-network loss"} | stats("Target / Target"),
    "DDPG": stats("Exploration / Exploration noise") | {"Loss / Policy loss", "Loss / Critic loss"}
    | stats("Q-network / Q1") | stats("Target / Target"),
    "TD3": stats("Exploration / Exploration noise") | {"Loss / Policy loss", "Loss / Critic loss"}
    | stats("Q-network / Q1") | stats("Q-network / Q2") | stats("Target / Target"),
    "SAC": {"Coefficient / Entropy coefficient", "Loss / Policy loss", "Loss / Critic loss"}
    | stats("Q-network / Q1") | stats("Q-network / Q2") | stats("Target / Target"),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # (tests/conftest.py)


def make_env(agent_name: str, num_envs: int, device: str, seed: int = 0):
    task = "CartpoleDiscrete" if agent_name == "DQN" else "Cartpole"
    return wrap_env(envs.make(task, num_envs=num_envs, device=device, seed=seed,
                              cfg={"sim": {"mujoco": {"nthread": 1}}}))


def make_models(agent_name: str, env, device: str, hiddens=(64, 64)) -> dict:
    o, a = env.observation_space, env.action_space
    h = dict(hiddens=list(hiddens), activation="relu")

    def policy():
        return MLPDeterministic(o, a, device, clip_actions=True, output_activation="tanh", **h)

    def critic():
        return MLPDeterministic(o, a, device, outputs=1, critic=True, **h)

    if agent_name == "DQN":
        return {n: MLPDeterministic(o, a, device, outputs=int(a.n), **h) for n in MODEL_NAMES["DQN"]}
    if agent_name == "SAC":
        gaussian = MLPGaussianPolicy(o, a, device, clip_actions=True, **h)
        gaussian.net.append(torch.nn.Tanh())  # bounded mean actions
        return {"policy": gaussian, **{n: critic() for n in MODEL_NAMES["SAC"][1:]}}
    return {n: (policy() if "policy" in n else critic()) for n in MODEL_NAMES[agent_name]}


def make_agent(agent_name: str, env, device: str, memory_size: int = 1000, **cfg):
    from skrl_isaac.agents.torch.ddpg import DDPG
    from skrl_isaac.agents.torch.dqn import DQN
    from skrl_isaac.agents.torch.sac import SAC
    from skrl_isaac.agents.torch.td3 import TD3

    cls = {"DQN": DQN, "DDPG": DDPG, "TD3": TD3, "SAC": SAC}[agent_name]
    memory = RandomMemory(memory_size=memory_size, num_envs=env.num_envs, device=device)
    return cls(models=make_models(agent_name, env, device), memory=memory, cfg=cfg,
               observation_space=env.observation_space, action_space=env.action_space, device=device)


def train(agent, env, timesteps: int) -> None:
    SequentialTrainer(env=env, agents=agent, cfg={"timesteps": timesteps, "disable_progressbar": True,
                                                  "summary": False}).train()


# -- (1) TensorBoard tags: exactly the spec's column --------------------------------------------
VARIANTS = {
    "DQN": [{}, {"state_preprocessor": "RunningStandardScaler", "update_interval": 2}],
    "DDPG": [{}, {"exploration": {"noise": {"class": "OrnsteinUhlenbeckNoise", "theta": 0.15, "sigma": 0.1,
                                            "base_scale": 0.5}}}],
    "TD3": [{}, {"exploration": {"noise": {"class": "GaussianNoise", "mean": 0, "std": 0.1}},
                 "smooth_regularization_noise": {"class": "GaussianNoise", "mean": 0, "std": 0.2}}],
    "SAC": [{"learn_entropy": False}, {"learn_entropy": True, "state_preprocessor": "RunningStandardScaler"}],
}


@pytest.mark.parametrize("agent_name,variant", [(a, i) for a in AGENTS for i in range(2)])
def test_tensorboard_tags_match_spec(agent_name, variant, device, tmp_path, scalars_reader):
    set_seed(0)
    env = make_env(agent_name, num_envs=4, device=device)
    cfg = dict(VARIANTS[agent_name][variant])
    cfg.update(batch_size=32, learning_starts=20, random_timesteps=10,
               experiment={"directory": str(tmp_path), "experiment_name": "run", "write_interval": 50,
                           "checkpoint_interval": 0})
    agent = make_agent(agent_name, env, device, memory_size=200, **cfg)
    train(agent, env, 150)

    expected = SPEC_TAGS[agent_name] | COMMON_TAGS
    if agent_name == "SAC" and cfg["learn_entropy"]:
        expected = expected | {"Loss / Entropy loss"}
    # read back with tensorboard's own reader (EventAccumulator)
    assert set(scalars_reader(tmp_path / "run")) == expected


# -- (2) checkpoints: every model with checkpoint_policy_only=False -----------------------------
@pytest.mark.parametrize("agent_name", AGENTS)
@pytest.mark.parametrize("policy_only", [False, True])
def test_checkpoints(agent_name, policy_only, device, tmp_path):
    set_seed(0)
    env = make_env(agent_name, num_envs=2, device=device)
    agent = make_agent(agent_name, env, device, memory_size=100, batch_size=16, learning_starts=5,
                       state_preprocessor="RunningStandardScaler",
                       experiment={"directory": str(tmp_path), "experiment_name": "run", "write_interval": 0,
                                   "checkpoint_interval": 20, "checkpoint_policy_only": policy_only})
    train(agent, env, 40)

    folder = tmp_path / "run" / "checkpoints"
    names = set(MODEL_NAMES[agent_name]) | {"state_preprocessor"}
    if policy_only:
        names = {"q_network" if agent_name == "DQN" else "policy", "state_preprocessor"}
    expected = {f"{t}_{n}.pt" for t in (20, 40) for n in names}
    if not policy_only:
        expected |= {"20_agent.pt", "40_agent.pt"}  # the whole training state, beside the models
    assert set(os.listdir(folder)) == expected
    # each file is a plain state_dict that loads back into its model
    for name in names - {"state_preprocessor"}:
        state = torch.load(folder / f"40_{name}.pt", weights_only=True)
        assert set(state) == set(agent.models[name].state_dict())
        agent.models[name].load(folder / f"40_{name}.pt")


RESUME_CFG = {
    "DQN": {"update_interval": 2, "target_update_interval": 3},
    "DDPG": {"exploration": {"noise": {"class": "OrnsteinUhlenbeckNoise", "theta": 0.15, "sigma": 0.2,
                                       "base_scale": 0.5}}},
    "TD3": {"policy_delay": 3, "exploration": {"noise": {"class": "OrnsteinUhlenbeckNoise", "theta": 0.15,
                                                         "sigma": 0.2, "base_scale": 0.5}},
            "smooth_regularization_noise": {"class": "GaussianNoise", "mean": 0, "std": 0.2}},
    "SAC": {"learn_entropy": True},
}


@pytest.mark.parametrize("agent_name", AGENTS)
def test_resume_from_agent_checkpoint_is_exact(agent_name, device, tmp_path):
    """Training 30 steps, then resuming <30>_agent.pt for 20 more, equals training 50 steps in one go."""

    def run(name: str, resume: str | None = None):
        set_seed(0)
        env = make_env(agent_name, num_envs=3, device=device, seed=5)
        agent = make_agent(agent_name, env, device, memory_size=100, batch_size=16, learning_starts=5,
                           random_timesteps=3, state_preprocessor="RunningStandardScaler",
                           learning_rate_scheduler="StepLR", learning_rate_scheduler_kwargs={"step_size": 7},
                           experiment={"directory": str(tmp_path), "experiment_name": name, "write_interval": 10,
                                       "checkpoint_interval": 30, "checkpoint_policy_only": False},
                           **RESUME_CFG[agent_name])
        trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": 50, "disable_progressbar": True,
                                                                "summary": False})
        if resume:
            set_seed(123)  # the checkpoint's RNG states must win over the current ones
            assert trainer.resume(resume) == 30
        trainer.train()
        return agent

    full = run("full")
    resumed = run("resumed", resume=str(tmp_path / "full" / "checkpoints" / "30_agent.pt"))
    for name in MODEL_NAMES[agent_name]:
        for (key, a), b in zip(full.models[name].state_dict().items(), resumed.models[name].state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{name}.{key}")
    torch.testing.assert_close(full.memory.get_tensor_by_name("states"), resumed.memory.get_tensor_by_name("states"),
                               rtol=0, atol=0)


# -- (3) learning on the embedded Cartpole ------------------------------------------------------
NUM_ENVS = 16
LEARNING = {
    # agent: (timesteps, config)
    "DQN": (4000, {"batch_size": 256, "learning_rate": 1e-3, "learning_starts": 100, "target_update_interval": 10,
                   "exploration": {"initial_epsilon": 1.0, "final_epsilon": 0.05, "timesteps": 2000}}),
    "DDPG": (4000, {"batch_size": 256, "learning_starts": 100,
                    "exploration": {"noise": {"class": "GaussianNoise", "mean": 0, "std": 0.2},
                                    "initial_scale": 1.0, "final_scale": 0.1}}),
    "TD3": (4000, {"batch_size": 256, "learning_starts": 100,
                   "exploration": {"noise": {"class": "GaussianNoise", "mean": 0, "std": 0.2},
                                   "initial_scale": 1.0, "final_scale": 0.1},
                   "smooth_regularization_noise": {"class": "GaussianNoise", "mean": 0, "std": 0.2}}),
    "SAC": (4000, {"batch_size": 256, "learning_starts": 100}),
}


def random_policy_return(agent_name: str, device: str, timesteps: int = 300) -> float:
    """Mean return of the episodes a uniformly random policy finishes on the same task."""
    env = make_env(agent_name, NUM_ENVS, device, seed=1)
    env.reset()
    space = env.action_space
    episode_return = torch.zeros(NUM_ENVS, device=device)
    total, count = torch.zeros((), device=device), torch.zeros((), device=device)
    for _ in range(timesteps):
        if agent_name == "DQN":
            actions = torch.randint(int(space.n), (NUM_ENVS, 1), device=device)
        else:
            actions = torch.rand((NUM_ENVS, 1), device=device) * 2 - 1
        _, rewards, terminated, truncated, _ = env.step(actions)
        episode_return += rewards.view(-1)
        done = (terminated | truncated).view(-1)
        total += episode_return[done].sum()
        count += done.sum()
        episode_return[done] = 0
    env.close()
    return float(total / count)


@pytest.mark.parametrize("agent_name", AGENTS)
def test_learns_cartpole(agent_name, device, tmp_path):
    baseline = random_policy_return(agent_name, device)
    set_seed(0)
    timesteps, cfg = LEARNING[agent_name]
    env = make_env(agent_name, NUM_ENVS, device)
    agent = make_agent(agent_name, env, device, memory_size=20000 // NUM_ENVS, **cfg,
                       experiment={"directory": str(tmp_path), "experiment_name": "run", "write_interval": 250,
                                   "checkpoint_interval": 0})
    start = time.perf_counter()
    train(agent, env, timesteps)
    elapsed = time.perf_counter() - start

    # the last write interval's finished episodes (exploration on)
    final = agent.last_tracking["Reward / Total reward (mean)"]
    print(f"{agent_name}: random policy {baseline:.1f}, trained {final:.1f} "
          f"({agent.last_summary.finished_episodes} episodes) in {elapsed:.1f} s")
    assert final > baseline + 50.0, (final, baseline)
    assert final > 2 * baseline


# -- (4) no host synchronization per step -------------------------------------------------------
@pytest.mark.parametrize("agent_name", AGENTS)
def test_no_host_sync_per_step(agent_name, device, tmp_path, host_sync_guard):
    set_seed(0)
    env = make_env(agent_name, num_envs=4, device=device)
    cfg = {"batch_size": 32, "learning_starts": 10, "random_timesteps": 5,
           "state_preprocessor": "RunningStandardScaler",
           "experiment": {"directory": str(tmp_path), "experiment_name": "run", "write_interval": 40,
                          "checkpoint_interval": 40, "checkpoint_policy_only": False}}
    if agent_name in ("DDPG", "TD3"):
        cfg["exploration"] = {"noise": GaussianNoise(0, 0.1, device=device)}
    if agent_name == "TD3":
        cfg["smooth_regularization_noise"] = OrnsteinUhlenbeckNoise(0.15, 0.2, 1.0, device=device)
    agent = make_agent(agent_name, env, device, memory_size=100, **cfg)
    with host_sync_guard() as guard:
        guard.allow(agent, "write_tracking_data")
        guard.allow(agent, "write_checkpoint")
        train(agent, env, 80)  # 2 write/checkpoint intervals, updates from step 10 on
    assert guard.violations == []
    assert "Target / Target (mean)" in agent.last_tracking
    assert (tmp_path / "run" / "checkpoints" / f"80_{MODEL_NAMES[agent_name][-1]}.pt").is_file()


# -- CLI: the shipped train configs run ---------------------------------------------------------
@pytest.mark.parametrize("task,train_cfg,agent_name", [
    ("Cartpole", "CartpoleSAC", "SAC"), ("Cartpole", "CartpoleTD3", "TD3"), ("Cartpole", "CartpoleDDPG", "DDPG"),
    ("CartpoleDiscrete", "CartpoleDiscreteDQN", "DQN"), ("Cartpole", None, "PPO"), ("Ant", "AntSAC", "SAC"),
])
def test_cli_train_configs(task, train_cfg, agent_name, tmp_path, scalars_reader):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    iterations = 4  # 16 timesteps per iteration: PPO's rollouts, the off-policy configs' horizon
    overrides = [f"task={task}", "num_envs=4", f"max_iterations={iterations}", "experiment=smoke", "write_interval=32",
                 "checkpoint_interval=64", "rl_device=cpu", "task.sim.mujoco.nthread=1"]
    if train_cfg is not None:
        overrides += [f"train={train_cfg}", "train.agent.learning_starts=8", "train.agent.batch_size=16",
                      "train.horizon=16", "train.agent.random_timesteps=4"]  # AntSAC's are 8 and 40
    env = python_env(root)
    result = subprocess.run([sys.executable, str(root / "train_isaac.py"), *overrides], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"agent {agent_name}" in result.stdout
    run = tmp_path / "runs" / "smoke"
    policy = "q_network" if agent_name == "DQN" else "policy"
    assert os.path.isfile(run / "checkpoints" / f"64_{policy}.pt")
    assert os.path.isfile(run / "checkpoints" / "64_agent.pt")  # the CLI's configs checkpoint everything
    tags = set(scalars_reader(run))
    if agent_name != "PPO":
        assert SPEC_TAGS[agent_name] <= tags


# -- (4b) with CUDA: torch's sync debug mode on the agent's per-step path -------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
@pytest.mark.parametrize("agent_name", AGENTS)
def test_no_host_sync_on_cuda(agent_name, tmp_path):
    """act / record_transition / post_interaction (incl. updates) run under ``set_sync_debug_mode("error")``,
    except at the write/checkpoint boundaries; ``env.step`` (MuJoCo on the CPU) runs outside the checked region."""
    device = "cuda"
    set_seed(0)
    env = make_env(agent_name, num_envs=16, device=device)
    cfg = {"batch_size": 64, "learning_starts": 8, "random_timesteps": 4, "state_preprocessor": "RunningStandardScaler",
           "learning_rate_scheduler": "StepLR", "learning_rate_scheduler_kwargs": {"step_size": 10},
           "experiment": {"directory": str(tmp_path), "experiment_name": "cuda", "write_interval": 32,
                          "checkpoint_interval": 64, "checkpoint_policy_only": False},
           **RESUME_CFG[agent_name]}
    agent = make_agent(agent_name, env, device, memory_size=64, **cfg)
    agent.init()
    states, _ = env.reset()
    timesteps = 128
    try:
        for t in range(timesteps):
            boundary = (t + 1) % 32 == 0
            torch.cuda.set_sync_debug_mode("error")
            with torch.no_grad():
                actions = agent.act(states, t, timesteps)[0]
            torch.cuda.set_sync_debug_mode(0)
            next_states, rewards, terminated, truncated, infos = env.step(actions)
            torch.cuda.set_sync_debug_mode("error")
            with torch.no_grad():
                agent.record_transition(states, actions, rewards, next_states, terminated, truncated, infos,
                                        t, timesteps)
            torch.cuda.set_sync_debug_mode(0 if boundary else "error")
            agent.post_interaction(t, timesteps)
            torch.cuda.set_sync_debug_mode(0)
            states = next_states
    finally:
        torch.cuda.set_sync_debug_mode(0)
    agent.close()
    assert (tmp_path / "cuda" / "checkpoints" / "128_agent.pt").is_file()
    assert "Target / Target (mean)" in agent.last_tracking


# -- mixed precision: the update steps under bfloat16 autocast, acting in float32 -----------------
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("agent_name", AGENTS)
def test_mixed_precision_runs_the_updates_in_low_precision(agent_name, dtype, device, tmp_path, monkeypatch):
    from skrl_isaac.agents.torch import base
    from skrl_isaac.agents.torch.precision import cpu_has_bfloat16

    if dtype == torch.float16:  # as on a GPU without bfloat16: float16 + GradScaler (the CPU has float16 autocast)
        monkeypatch.setattr(base, "autocast_dtype", lambda device: torch.float16)
    elif not (cpu_has_bfloat16() if device == "cpu" else torch.cuda.is_bf16_supported()):
        pytest.skip(f"no bfloat16 on {device}")
    set_seed(0)
    env = make_env(agent_name, num_envs=4, device=device)
    agent = make_agent(agent_name, env, device, memory_size=100, batch_size=32, learning_starts=10,
                       mixed_precision=True, experiment={"directory": str(tmp_path), "experiment_name": "run",
                                                         "write_interval": 0, "checkpoint_interval": 0})
    seen = {"act": set(), "update": set()}
    phase = ["act"]
    inner = agent.post_interaction

    def post_interaction(*args, **kwargs):
        phase[0] = "update"
        try:
            inner(*args, **kwargs)
        finally:
            phase[0] = "act"

    agent.post_interaction = post_interaction
    for model in agent.models.values():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.register_forward_hook(lambda m, i, o: seen[phase[0]].add(o.dtype))
    train(agent, env, 30)
    assert seen["update"] == {dtype}
    assert seen["act"] == {torch.float32}
    assert (agent.grad_scaler is not None) == (dtype == torch.float16)
    for name, model in agent.models.items():
        for p in model.parameters():
            assert p.dtype == torch.float32 and bool(torch.isfinite(p).all()), name
    trained = [agent.models[n] for n in MODEL_NAMES[agent_name] if not n.startswith("target")]
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for m in trained for p in m.parameters())


# -- default configs: composed from off_policy.py's shared sections ---------------------------------
def test_default_configs_share_no_nested_dict():
    from skrl_isaac.agents.torch.ddpg import DDPG_DEFAULT_CONFIG
    from skrl_isaac.agents.torch.dqn import DQN_DEFAULT_CONFIG
    from skrl_isaac.agents.torch.off_policy import NOISE_EXPLORATION_CONFIG, UPDATE_CONFIG, default_config
    from skrl_isaac.agents.torch.sac import SAC_DEFAULT_CONFIG
    from skrl_isaac.agents.torch.td3 import TD3_DEFAULT_CONFIG

    configs = [DDPG_DEFAULT_CONFIG, TD3_DEFAULT_CONFIG, SAC_DEFAULT_CONFIG, DQN_DEFAULT_CONFIG]
    for cfg in configs:
        assert list(cfg)[-5:] == [*UPDATE_CONFIG, "experiment"]  # the shared tail, in its order
    nested = [id(v) for cfg in configs for v in cfg.values() if isinstance(v, dict)]
    assert len(nested) == len(set(nested))  # editing one agent's exploration/experiment leaves the others alone
    cfg = default_config(NOISE_EXPLORATION_CONFIG)
    cfg["exploration"]["noise"] = "changed"
    assert NOISE_EXPLORATION_CONFIG["exploration"]["noise"] is None and DDPG_DEFAULT_CONFIG["exploration"]["noise"] is None
    assert TD3_DEFAULT_CONFIG["policy_delay"] == 2 and "exploration" not in SAC_DEFAULT_CONFIG
    assert DQN_DEFAULT_CONFIG["polyak"] == 1.0 and "actor_learning_rate" not in DQN_DEFAULT_CONFIG
