"""One PPO update on the same rollout, by our PPO and by rl_games' PPO: how far apart the results are.

rl_games (1.6.5) collects one rollout of an embedded task with its own ``play_steps``. Our PPO gets the same
starting point (rl_games' weights copied into our shared-trunk actor-critic, ``models.separate: False``; its
observation and value statistics; its Adam state) and the same transitions (observations, actions,
log-probabilities, rewards after rl_games' reward scale and time-out bootstrap, dones). Both then run one update
(``learning_epochs`` x ``mini_batches`` gradient steps) and the script prints, per parameter, the size of each
learner's step and the distance between the two results, with the values, log-probabilities, returns and
advantages each computed.

Three of rl_games' update details are held alike on both sides, because they are known and chosen differences
rather than the arithmetic under test (``docs/learning-vs-rl-games.md`` measures them in training):

* minibatches: rl_games takes contiguous blocks of environments (all their steps), never shuffled; ours follows
  that order here;
* learning-rate schedule: rl_games adapts it after every minibatch, ours after every epoch; both are held at the
  rollout's learning rate here;
* observation statistics: rl_games folds every minibatch into them before its forward pass, in every epoch
  (``train_actor_critic`` calls ``set_train()``, which switches the statistics back to training after the first
  epoch's ``eval()``); ours folds the rollout in once after the update. Held fixed during the update here
  (``--rl-games-statistics`` lets rl_games move them, to see what that alone changes).

    python benchmarks/update_parity.py --task Humanoid --warmup 2
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "benchmarks")):
    if path not in sys.path:
        sys.path.insert(0, path)

from vs_rl_games import rl_games_ppo_run_config, train_cfg  # noqa: E402


@dataclass
class Rollout:
    """One rollout as rl_games stored it, time-major: ``(steps, envs, ...)``."""

    states: torch.Tensor
    actions: torch.Tensor
    neg_log_prob: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor  # the step ended the episode
    next_states: torch.Tensor
    batch: dict  # rl_games' own batch (its prepare_dataset input)


@dataclass
class Parity:
    """Largest differences (ours - rl_games) and, per parameter, ``(name, rl_games step, our step, distance)``."""

    values: float
    log_prob: float
    returns: float
    advantages: float
    losses: list[tuple[float, float, float, float]]  # (rl policy, ours policy, rl value, ours value) per minibatch
    parameters: list[tuple[str, float, float, float]]

    def worst_relative(self) -> float:
        """The largest ``distance / rl_games step`` over the parameters that moved."""
        return max(d / s for _, s, _, d in self.parameters if s > 0)


def rl_games_agent(task: str, num_envs: int, seed: int, out: str) -> tuple[Any, dict]:
    """rl_games' PPO agent for ``task`` with our train config's settings (as ``vs_rl_games.py`` runs it)."""
    from rl_games.torch_runner import Runner

    from skrl_isaac.interop.rl_games import float32_matmul_kept, register_rl_games_env

    cfg = train_cfg(task)
    env_name = register_rl_games_env(task, num_envs=num_envs, device="cpu", seed=seed)
    config = rl_games_ppo_run_config(cfg, env_name, num_envs, "rl_games", out, iterations=1, seed=seed)
    config["params"]["config"]["bounds_loss_coef"] = float(cfg["agent"].get("bounds_loss_scale", 0.0))
    with float32_matmul_kept():
        runner = Runner()
        runner.load(config)
        rl_agent = runner.algo_factory.create(runner.algo_name, base_name="run", params=runner.params)
    rl_agent.init_tensors()
    rl_agent.obs = rl_agent.env_reset()
    rl_agent.curr_frames = rl_agent.batch_size_envs
    return rl_agent, cfg


def collect(rl_agent: Any) -> Rollout:
    """One rollout by rl_games' ``play_steps``."""
    rl_agent.set_eval()
    with torch.no_grad():
        batch = rl_agent.play_steps()
    stored = {k: v.clone() for k, v in rl_agent.experience_buffer.tensor_dict.items() if torch.is_tensor(v)}
    # rl_games stores before each step the dones of the step before it
    dones = torch.cat((stored["dones"][1:], rl_agent.dones.unsqueeze(0))).bool()
    return Rollout(stored["obses"], stored["actions"], stored["neglogpacs"], stored["values"], stored["rewards"],
                   dones, rl_agent.obs["obs"].clone(), batch)


def our_agent(rl_agent: Any, cfg: dict, task: str, out: str) -> tuple[Any, list[tuple[str, torch.Tensor, torch.Tensor]]]:
    """Our PPO with rl_games' current weights, statistics, learning rate and Adam state; returns it and the
    ``(rl_games name, rl_games parameter, our parameter)`` pairs."""
    from skrl_isaac.builders import build_agent
    from skrl_isaac.envs.torch import wrap_env

    cfg = copy.deepcopy(cfg)
    cfg["models"]["separate"] = False  # rl_games' separate: False (IsaacGymEnvs' configs)
    cfg["agent"]["learning_rate_scheduler"] = None  # held at the rollout's learning rate (see the docstring)
    cfg["agent"]["experiment"].update(directory=out, experiment_name="ours", write_interval=0,
                                      checkpoint_interval=0)
    agent = build_agent(cfg, wrap_env(rl_agent.vec_env.env, verbose=False), torch.device("cpu"), task)
    hidden = [m for m in agent.policy.net if isinstance(m, torch.nn.Linear)][:-1]
    rl_params = dict(rl_agent.model.named_parameters())
    layers = {f"a2c_network.actor_mlp.{2 * i}": layer for i, layer in enumerate(hidden)}
    layers.update({"a2c_network.mu": agent.policy.net[-1], "a2c_network.value": agent.value.net[-1]})
    pairs = [(f"{name}.{kind}", rl_params[f"{name}.{kind}"], getattr(layer, kind))
             for name, layer in layers.items() for kind in ("weight", "bias")]
    pairs.append(("a2c_network.sigma", rl_params["a2c_network.sigma"], agent.policy.log_std_parameter))
    model = rl_agent.model
    with torch.no_grad():
        for _, theirs, ours in pairs:
            ours.copy_(theirs)
        for ours, theirs in ((agent._state_preprocessor, model.running_mean_std),
                             (agent._value_preprocessor, model.value_mean_std)):
            ours.running_mean.copy_(theirs.running_mean)
            ours.running_variance.copy_(theirs.running_var)
            ours.current_count.copy_(theirs.count)
            ours.epsilon = theirs.epsilon
        for group in agent.optimizer.param_groups:
            if torch.is_tensor(group["lr"]):
                group["lr"].fill_(rl_agent.last_lr)
            else:
                group["lr"] = rl_agent.last_lr
    for _, theirs, ours in pairs:
        state = rl_agent.optimizer.state.get(theirs)
        if state:
            agent.optimizer.state[ours] = {k: v.clone().reshape(()) if k == "step" else v.clone()
                                           for k, v in state.items()}
    return agent, pairs


def rl_games_update(rl_agent: Any, rollout: Rollout, move_statistics: bool) -> list[tuple[float, float]]:
    """rl_games' update (its ``train_epoch`` after ``play_steps``) at a fixed learning rate; its losses per
    minibatch (policy, value)."""
    rl_agent.set_train()
    if not move_statistics:
        statistics = rl_agent.model.running_mean_std
        rl_agent.set_train = lambda: (rl_agent.model.train(), statistics.eval())
        statistics.eval()
    rl_agent.prepare_dataset(rollout.batch)
    losses = []
    for _ in range(rl_agent.mini_epochs_num):
        for i in range(len(rl_agent.dataset)):
            result = rl_agent.train_actor_critic(rl_agent.dataset[i])
            rl_agent.dataset.update_mu_sigma(result[6], result[7])
            losses.append((float(result[0].detach()), float(result[1].detach())))
    return losses


def our_update(agent: Any, rollout: Rollout) -> list[tuple[float, float]]:
    """Our update on ``rollout`` with rl_games' minibatch order; our losses per minibatch (policy, value)."""
    steps, envs = rollout.rewards.shape[:2]
    memory = agent.memory
    agent.init({"timesteps": 1})
    for t in range(steps):
        memory.add_samples(states=rollout.states[t], actions=rollout.actions[t], rewards=rollout.rewards[t],
                           terminated=rollout.dones[t].unsqueeze(-1),
                           truncated=torch.zeros(envs, 1, dtype=torch.bool),  # rewards already bootstrapped
                           log_prob=-rollout.neg_log_prob[t].unsqueeze(-1))
    agent._current_next_states = rollout.next_states
    agent._compute_values()
    flat = torch.arange(steps * envs)
    order = (flat % steps) * envs + flat // steps  # rl_games' flat index env * steps + t, in our (t, env) layout
    memory.minibatch_indexes = lambda mini_batches, shuffle=True: list(order.tensor_split(mini_batches))
    losses = []
    step = agent._minibatch_step

    def recorded(indexes: torch.Tensor) -> tuple:
        out = step(indexes)
        losses.append((float(out[0][0]), float(out[0][1]) / agent.config.value_loss_scale))
        return out
    agent._minibatch_step = recorded
    agent.set_mode("train")
    agent._update(0, 1)
    return losses


def compare(task: str = "Humanoid", num_envs: int = 512, warmup: int = 2, seed: int = 1,
            move_statistics: bool = False) -> Parity:
    """Train rl_games ``warmup`` iterations, then one update each from the same point on the same rollout."""
    with tempfile.TemporaryDirectory(prefix="update_parity_") as out:  # both learners' (empty) run folders
        rl_agent, cfg = rl_games_agent(task, num_envs, seed, out)
        agent = None
        try:
            for _ in range(warmup):
                rl_agent.epoch_num = rl_agent.update_epoch()
                rl_agent.train_epoch()
            agent, pairs = our_agent(rl_agent, cfg, task, out)
            return _update_both(rl_agent, agent, pairs, move_statistics)
        finally:  # their files are closed before the folder goes
            rl_agent.writer.close()
            if agent is not None:
                agent.close()


def _update_both(rl_agent: Any, agent: Any, pairs: list, move_statistics: bool) -> Parity:
    """rl_games collects a rollout; both learners update on it from the same point; the differences."""
    before = {name: theirs.detach().clone() for name, theirs, _ in pairs}
    rollout = collect(rl_agent)

    steps, envs = rollout.rewards.shape[:2]
    time_major = lambda x: x.reshape(envs, steps, *x.shape[1:]).transpose(0, 1)  # noqa: E731 - rl_games' flat order
    with torch.no_grad():
        _, log_prob, _ = agent.policy.act(agent._state_preprocessor(rollout.states.reshape(steps * envs, -1)),
                                          taken_actions=rollout.actions.reshape(steps * envs, -1))
    log_prob_gap = (log_prob.reshape(steps, envs) + rollout.neg_log_prob).abs().max().item()

    rl_losses = rl_games_update(rl_agent, rollout, move_statistics)
    our_losses = our_update(agent, rollout)
    dataset = rl_agent.dataset.values_dict
    memory = agent.memory
    gap = lambda name, theirs: (memory.get_tensor_by_name(name).reshape(steps, envs)  # noqa: E731
                                - time_major(theirs).reshape(steps, envs)).abs().max().item()
    parameters = [(name, (theirs.detach() - before[name]).norm().item(), (ours.detach() - before[name]).norm().item(),
                   (ours.detach() - theirs.detach()).norm().item()) for name, theirs, ours in pairs]
    return Parity(values=gap("values", dataset["old_values"]), log_prob=log_prob_gap,
                  returns=gap("returns", dataset["returns"]), advantages=gap("advantages", dataset["advantages"]),
                  losses=[(r[0], o[0], r[1], o[1]) for r, o in zip(rl_losses, our_losses)], parameters=parameters)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="Humanoid", choices=["Ant", "Cartpole", "Humanoid"])
    parser.add_argument("--num-envs", type=int, default=512)
    parser.add_argument("--warmup", type=int, default=2, help="rl_games iterations before the compared update")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rl-games-statistics", action="store_true",
                        help="let rl_games fold each minibatch into its observation statistics, as it does")
    args = parser.parse_args(argv)
    parity = compare(args.task, args.num_envs, args.warmup, args.seed, args.rl_games_statistics)
    print(f"largest |ours - rl_games|: values {parity.values:.3g} (normalized), log-probabilities "
          f"{parity.log_prob:.3g}, returns {parity.returns:.3g} (normalized), advantages {parity.advantages:.3g}")
    print("first minibatches, policy loss rl_games / ours, value loss rl_games / ours:")
    for rl_policy, our_policy, rl_value, our_value in parity.losses[:4]:
        print(f"  {rl_policy:+.6f} / {our_policy:+.6f}   {rl_value:.6f} / {our_value:.6f}")
    print("parameter | rl_games step | our step | |ours - rl_games| | relative to the step")
    for name, theirs, ours, distance in parity.parameters:
        print(f"{name} | {theirs:.4g} | {ours:.4g} | {distance:.3g} | {distance / theirs if theirs else 0:.2e}")
    print(f"largest distance relative to rl_games' step: {parity.worst_relative():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
