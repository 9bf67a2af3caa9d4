"""Run by tests/agents/test_distributed_training.py under torchrun (2 ranks, gloo, CPU): a library user's script,
unchanged. Each rank trains PPO (then SAC) on the embedded Cartpole and saves what it saw to <out>/<agent>_rank<r>.pt.

    python -m torch.distributed.run --standalone --nproc_per_node=2 distributed_training.py OUT MODE [CHECKPOINT]

MODE: ``train`` (PPO then SAC), ``resume`` (PPO from CHECKPOINT), ``kill`` (rank 1 kills itself with SIGKILL),
``diverge`` (rank 1 alone tracks a NaN loss: every rank must stop with TrainingDiverged).
"""

import os
import signal
import sys

import torch

from skrl_isaac.agents.torch.base import TrainingDiverged
from skrl_isaac.agents.torch.ppo import PPO
from skrl_isaac.agents.torch.sac import SAC
from skrl_isaac.envs.torch import load_embedded_env, wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy
from skrl_isaac.trainers.torch import SequentialTrainer
from skrl_isaac.utils import distributed, set_seed

NUM_ENVS = 4
TIMESTEPS = 64


class Recorder:
    """Wraps the env's step: keeps each step's rewards and dones (host copies: a test, not the hot path)."""

    def __init__(self, env):
        self.env, self.rewards, self.dones, self.first_states = env, [], [], None
        self._step = env.step

    def step(self, actions):
        out = self._step(actions)
        self.rewards.append(out[1].reshape(-1).clone())
        self.dones.append((out[2] | out[3]).reshape(-1).clone())
        return out


def make_env(seed):
    env = wrap_env(load_embedded_env("Cartpole", num_envs=NUM_ENVS, device="cpu", seed=seed))
    recorder = Recorder(env)
    env.step = recorder.step
    return env, recorder


def experiment(out, name, checkpoint_interval=24):
    return {"directory": out, "experiment_name": name, "write_interval": 16,
            "checkpoint_interval": checkpoint_interval, "checkpoint_policy_only": False, "best_window": 4}


def ppo(out, name, seed):
    set_seed(seed)
    env, recorder = make_env(seed)
    models = {"policy": MLPGaussianPolicy(env.observation_space, env.action_space, "cpu", hiddens=[16, 16]),
              "value": MLPDeterministic(env.observation_space, env.action_space, "cpu", outputs=1, hiddens=[16, 16])}
    cfg = {"rollouts": 8, "learning_epochs": 2, "mini_batches": 2, "learning_rate_scheduler": "KLAdaptiveRL",
           "state_preprocessor": "RunningStandardScaler", "value_preprocessor": "RunningStandardScaler",
           "grad_norm_clip": 0.5, "experiment": experiment(out, name)}
    memory = RandomMemory(memory_size=8, num_envs=NUM_ENVS, device="cpu", export=True, export_format="pt",
                          export_directory=os.path.join(out, "memory"))
    agent = PPO(models=models, memory=memory, cfg=cfg, observation_space=env.observation_space,
                action_space=env.action_space, device="cpu")
    return agent, env, recorder


def sac(out, name, seed):
    set_seed(seed)
    env, recorder = make_env(seed)
    obs, act = env.observation_space, env.action_space
    critic = lambda: MLPDeterministic(obs, act, "cpu", outputs=1, hiddens=[16, 16], critic=True)  # noqa: E731
    models = {"policy": MLPGaussianPolicy(obs, act, "cpu", hiddens=[16, 16]), "critic_1": critic(),
              "critic_2": critic(), "target_critic_1": critic(), "target_critic_2": critic()}
    cfg = {"batch_size": 16, "learning_starts": 8, "learn_entropy": True, "grad_norm_clip": 1.0,
           "state_preprocessor": "RunningStandardScaler", "experiment": experiment(out, name)}
    agent = SAC(models=models, memory=RandomMemory(memory_size=32, num_envs=NUM_ENVS, device="cpu"), cfg=cfg,
                observation_space=obs, action_space=act, device="cpu")
    return agent, env, recorder


def train(agent, env, recorder, out, tag, checkpoint=None, kill_at=None):
    summaries = []
    write = agent.recorder.write_tracking

    def write_tracking(timestep):
        summary = write(timestep)
        summaries.append((timestep, dict(summary.scalars), summary.finished_episodes))
        return summary

    agent.recorder.write_tracking = write_tracking
    trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": TIMESTEPS, "disable_progressbar": True,
                                                            "summary": False})
    if checkpoint:
        trainer.resume(checkpoint)
    if kill_at is not None and distributed.rank() == 1:
        step = env.step

        def dying_step(actions):
            if len(recorder.rewards) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return step(actions)

        env.step = dying_step
    first = env.reset
    env.reset = lambda: (lambda out: (setattr(recorder, "first_states", out[0].clone()), out)[1])(first())
    trainer.train()
    torch.save({"models": {n: m.state_dict() for n, m in agent.models.items()},
                "objects": {n: m.state_dict() for n, m in agent.checkpoint_modules.items()},
                "lr": [float(g["lr"]) for o in (getattr(agent, "optimizer", None),) if o is not None
                       for g in o.param_groups],
                "rewards": torch.stack(recorder.rewards), "dones": torch.stack(recorder.dones),
                "first_states": recorder.first_states, "summaries": summaries, "experiment_dir": agent.experiment_dir},
               os.path.join(out, f"{tag}_rank{distributed.rank()}.pt"))


def main(out, mode, checkpoint=None):
    if mode == "train":
        train(*ppo(out, "ppo", seed=7), out, "ppo")
        train(*sac(out, "sac", seed=7), out, "sac")
    elif mode == "resume":
        train(*ppo(out, "ppo_resumed", seed=1234), out, "ppo_resumed", checkpoint=checkpoint)
    elif mode == "diverge":
        agent, env, recorder = ppo(out, "ppo_diverged", seed=7)
        if distributed.rank() == 1:
            track = agent.track_data
            agent.track_data = lambda tag, value: track(tag, value * float("nan") if tag == "Loss / Value loss"
                                                        else value)
        try:
            train(agent, env, recorder, out, "ppo_diverged")
        except TrainingDiverged as e:
            with open(os.path.join(out, f"diverged_rank{distributed.rank()}.txt"), "w") as f:
                f.write(str(e))
    elif mode == "kill":
        train(*ppo(out, "ppo_killed", seed=7), out, "ppo_killed", kill_at=40)
    distributed.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
