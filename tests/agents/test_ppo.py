"""PPO on the Agent base: tags, intervals, episode statistics, no host sync per step."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DEVICES
from skrl_isaac.agents.torch.ppo import PPO, PPO_DEFAULT_CONFIG
from skrl_isaac.agents.torch.ppo.ppo import generalized_advantages
from skrl_isaac.envs.torch import wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy
from skrl_isaac.trainers.torch import SequentialTrainer

PPO_TAGS = {
    "Reward / Instantaneous reward (max)", "Reward / Instantaneous reward (min)", "Reward / Instantaneous reward (mean)",
    "Reward / Total reward (max)", "Reward / Total reward (min)", "Reward / Total reward (mean)",
    "Episode / Total timesteps (max)", "Episode / Total timesteps (min)", "Episode / Total timesteps (mean)",
    "Loss / Policy loss", "Loss / Value loss", "Policy / Standard deviation",
}


def make_ppo(env, device, tmp_path, rollouts=8, **cfg):
    experiment = {"directory": str(tmp_path), "experiment_name": "exp", **cfg.pop("experiment", {})}
    models = {"policy": MLPGaussianPolicy(env.observation_space, env.action_space, device, hiddens=[16]),
              "value": MLPDeterministic(env.observation_space, env.action_space, device, outputs=1, hiddens=[16])}
    memory = RandomMemory(memory_size=rollouts, num_envs=env.num_envs, device=device)
    config = {"rollouts": rollouts, "learning_epochs": 2, "mini_batches": 2, "experiment": experiment, **cfg}
    return PPO(models=models, memory=memory, cfg=config, observation_space=env.observation_space,
               action_space=env.action_space, device=device)


def counting_env(counting_task, device, num_envs=6):
    lengths = [2 + (i % 5) for i in range(num_envs)]
    rewards = [0.5 * (i + 1) for i in range(num_envs)]
    return wrap_env(counting_task(num_envs, lengths, rewards, device=device)), lengths, rewards


def train(agent, env, timesteps):
    SequentialTrainer(env=env, agents=agent, cfg={"timesteps": timesteps, "disable_progressbar": True,
                                                  "close_environment_at_exit": False}).train()


@pytest.mark.parametrize("entropy", [0.0, 0.01])
def test_ppo_writes_exactly_the_spec_tags(counting_task, device, tmp_path, scalars_reader, entropy):
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, entropy_loss_scale=entropy,
                     state_preprocessor="RunningStandardScaler", value_preprocessor="RunningStandardScaler",
                     learning_rate_scheduler="KLAdaptiveRL", experiment={"write_interval": 16})
    train(agent, env, 48)
    tags = set(scalars_reader(tmp_path / "exp"))
    expected = PPO_TAGS | ({"Loss / Entropy loss"} if entropy else set())
    assert tags == expected


def test_scalars_only_at_write_interval_multiples(counting_task, device, tmp_path, scalars_reader):
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, experiment={"write_interval": 10, "checkpoint_interval": 0})
    train(agent, env, 45)
    scalars = scalars_reader(tmp_path / "exp")
    steps = {step for values in scalars.values() for step, _ in values}
    assert steps == {10, 20, 30, 40}
    assert [s for s, _ in scalars["Reward / Instantaneous reward (mean)"]] == [10, 20, 30, 40]
    assert not (tmp_path / "exp" / "checkpoints").exists()


@pytest.mark.parametrize("interval", [0, -5])
def test_no_tensorboard_when_write_interval_disabled(counting_task, device, tmp_path, interval):
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, experiment={"write_interval": interval, "checkpoint_interval": 0})
    train(agent, env, 20)
    assert agent.writer is None
    assert not (tmp_path / "exp").exists() or not any("tfevents" in f for f in os.listdir(tmp_path / "exp"))


@pytest.mark.parametrize("interval", [0, -1])
def test_no_checkpoints_when_checkpoint_interval_disabled(counting_task, device, tmp_path, interval):
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, experiment={"write_interval": 0, "checkpoint_interval": interval})
    train(agent, env, 20)
    assert not (tmp_path / "exp" / "checkpoints").exists()


@pytest.mark.parametrize("policy_only", [True, False])
def test_checkpoints_exactly_at_multiples(counting_task, device, tmp_path, policy_only):
    env, _, _ = counting_env(counting_task, device)
    agent = make_ppo(env, device, tmp_path, state_preprocessor="RunningStandardScaler",
                     value_preprocessor="RunningStandardScaler",
                     experiment={"write_interval": 0, "checkpoint_interval": 7, "checkpoint_policy_only": policy_only})
    train(agent, env, 30)
    files = sorted(os.listdir(tmp_path / "exp" / "checkpoints"))
    names = ["policy", "state_preprocessor"] + ([] if policy_only else ["value", "value_preprocessor", "agent"])
    assert files == sorted(f"{t}_{n}.pt" for t in (7, 14, 21, 28, 30) for n in names)  # 30: the final one
    # a policy file is a plain state_dict that torch.load(weights_only=True) and Model.load read
    state = torch.load(tmp_path / "exp" / "checkpoints" / "28_policy.pt", weights_only=True)
    assert set(state) == set(agent.policy.state_dict())
    fresh = MLPGaussianPolicy(env.observation_space, env.action_space, device, hiddens=[16])
    fresh.load(tmp_path / "exp" / "checkpoints" / "28_policy.pt")
    for k, v in agent.policy.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v)


def test_episode_statistics_count_only_finished_episodes(counting_task, device, tmp_path, scalars_reader):
    num_envs, window, timesteps = 24, 9, 36
    env, lengths, rewards = counting_env(counting_task, device, num_envs)
    agent = make_ppo(env, device, tmp_path, experiment={"write_interval": window, "checkpoint_interval": 0})
    train(agent, env, timesteps)
    scalars = scalars_reader(tmp_path / "exp")
    for end in range(window, timesteps + 1, window):
        finished = [(lengths[i] * rewards[i], lengths[i]) for i in range(num_envs)
                    for step in range(end - window + 1, end + 1) if step % lengths[i] == 0]
        returns = [r for r, _ in finished]
        lens = [n for _, n in finished]
        got = {tag: dict(values)[end] for tag, values in scalars.items()
               if tag.startswith(("Reward / Total", "Episode /")) and "(last" not in tag}
        so_far = [lengths[i] * rewards[i] for step in range(1, end + 1) for i in range(num_envs)
                  if step % lengths[i] == 0]  # every finished episode, in step then env order
        window_tag = "Reward / Total reward (last 100 episodes)"
        if len(so_far) >= 100:  # the mean return of the last 100 finished episodes, once 100 have finished
            assert dict(scalars[window_tag])[end] == pytest.approx(sum(so_far[-100:]) / 100)
        else:
            assert end not in dict(scalars.get(window_tag, []))
        assert got["Reward / Total reward (max)"] == pytest.approx(max(returns))
        assert got["Reward / Total reward (min)"] == pytest.approx(min(returns))
        assert got["Reward / Total reward (mean)"] == pytest.approx(sum(returns) / len(returns))
        assert got["Episode / Total timesteps (max)"] == max(lens)
        assert got["Episode / Total timesteps (min)"] == min(lens)
        assert got["Episode / Total timesteps (mean)"] == pytest.approx(sum(lens) / len(lens))


def test_unfinished_envs_are_never_counted(counting_task, device, tmp_path, scalars_reader):
    # env 0 finishes every 2 steps; env 1 never finishes within the run (length 1000)
    env = wrap_env(counting_task(2, [2, 1000], [1.0, 100.0], device=device))
    agent = make_ppo(env, device, tmp_path, experiment={"write_interval": 8, "checkpoint_interval": 0})
    train(agent, env, 16)
    scalars = scalars_reader(tmp_path / "exp")
    assert [v for _, v in scalars["Reward / Total reward (max)"]] == [2.0, 2.0]
    assert [v for _, v in scalars["Episode / Total timesteps (max)"]] == [2.0, 2.0]


def test_no_host_sync_between_write_boundaries(counting_task, device, tmp_path, host_sync_guard):
    env, _, _ = counting_env(counting_task, device, num_envs=8)
    agent = make_ppo(env, device, tmp_path, state_preprocessor="RunningStandardScaler",
                     value_preprocessor="RunningStandardScaler", learning_rate_scheduler="KLAdaptiveRL",
                     entropy_loss_scale=0.01, experiment={"write_interval": 16, "checkpoint_interval": 32})
    with host_sync_guard() as guard:
        guard.allow(agent, "write_tracking_data")
        guard.allow(agent, "write_checkpoint")
        guard.allow(agent, "check_finite")  # PPO: one read per update (its NaN/inf check), none per env step
        train(agent, env, 64)
    assert guard.violations == []
    assert (tmp_path / "exp" / "checkpoints" / "64_policy.pt").is_file()


def test_unknown_config_key_names_the_closest(counting_task, tmp_path):
    env, _, _ = counting_env(counting_task, "cpu")
    with pytest.raises(ValueError, match="did you mean 'learning_epochs'"):
        make_ppo(env, "cpu", tmp_path, learning_epoch=3)
    with pytest.raises(ValueError, match="memory_size"):
        PPO(models={"policy": MLPGaussianPolicy(env.observation_space, env.action_space, "cpu"),
                    "value": MLPDeterministic(env.observation_space, env.action_space, "cpu", outputs=1)},
            memory=RandomMemory(memory_size=3, num_envs=env.num_envs, device="cpu"),
            cfg={"rollouts": 16}, observation_space=env.observation_space, action_space=env.action_space)


def test_default_experiment_config_is_the_spec():
    spec = {"directory": "", "experiment_name": "", "write_interval": 250, "checkpoint_interval": 1000,
            "checkpoint_policy_only": True}
    assert {k: PPO_DEFAULT_CONFIG["experiment"][k] for k in spec} == spec
    assert set(PPO_DEFAULT_CONFIG["experiment"]) - set(spec) == {"best_window"}  # our one addition


def test_update_starts_from_the_rollout_policy(counting_task, tmp_path):
    """The observation normalizer is frozen over a rollout and its update: before the first gradient
    step the stored log-probabilities equal the policy's (a KL of exactly 0), so the KL-adaptive
    learning rate reacts only to real policy changes."""
    env, _, _ = counting_env(counting_task, "cpu", num_envs=8)
    agent = make_ppo(env, "cpu", tmp_path, state_preprocessor="RunningStandardScaler",
                     learning_rate_scheduler="KLAdaptiveRL", experiment={"write_interval": 0, "checkpoint_interval": 0})
    gaps, means = [], []
    update = agent._update

    def checked_update(timestep, timesteps):
        m = agent.memory
        with torch.no_grad():
            _, log_prob, _ = agent.policy.act(agent._state_preprocessor(m.get_tensor_by_name("states", False)),
                                              taken_actions=m.get_tensor_by_name("actions", False))
        gaps.append((log_prob - m.get_tensor_by_name("log_prob", False)).abs().max().item())
        means.append(agent._state_preprocessor.running_mean.clone())
        update(timestep, timesteps)

    agent._update = checked_update
    train(agent, env, 32)
    assert len(gaps) == 4 and max(gaps) < 1e-5
    assert not torch.equal(means[0], means[-1])  # the statistics do follow the data, between rollouts


@pytest.mark.parametrize("kl_since", ["rollout", "epoch"])
def test_the_kl_of_the_schedule_is_measured_from_kl_since(counting_task, tmp_path, kl_since):
    """kl_since="rollout": every minibatch's KL is from the policy that collected the rollout; "epoch": from the
    sample's log-probability at its previous minibatch visit (the rollout's in the first epoch), as rl_games."""
    env, _, _ = counting_env(counting_task, "cpu", num_envs=8)
    agent = make_ppo(env, "cpu", tmp_path, learning_epochs=3, kl_since=kl_since, learning_rate=3e-2,
                     learning_rate_scheduler="KLAdaptiveRL", experiment={"write_interval": 0, "checkpoint_interval": 0})
    step, checked = agent._minibatch_step, []
    reference: dict = {}

    def checked_step(mb_indexes):
        m = agent.memory
        states = m.get_tensor_by_name("states", False)[mb_indexes]
        with torch.no_grad():
            _, log_prob, _ = agent.policy.act(agent._state_preprocessor(states),
                                              taken_actions=m.get_tensor_by_name("actions", False)[mb_indexes])
        rollout = m.get_tensor_by_name("log_prob", False)[mb_indexes]
        since = rollout if kl_since == "rollout" else torch.stack(
            [reference.get(int(i), r) for i, r in zip(mb_indexes, rollout)])
        expected = ((torch.exp(log_prob - since) - 1) - (log_prob - since)).mean()
        reference.update({int(i): lp for i, lp in zip(mb_indexes, log_prob)})
        losses = step(mb_indexes)
        checked.append((losses[0][3].item(), expected.item()))
        return losses

    update = agent._update

    def fresh_update(timestep, timesteps):
        reference.clear()  # a new rollout: the first epoch measures from it
        update(timestep, timesteps)

    agent._minibatch_step, agent._update = checked_step, fresh_update
    train(agent, env, 16)
    assert len(checked) == 2 * 3 * 2  # 2 updates x 3 epochs x 2 minibatches
    for got, expected in checked:
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-7)
    assert max(got for got, _ in checked[2:6]) > 1e-5  # the policy moved (the checks compare real KLs)


def test_bounds_loss_pulls_mean_actions_back_towards_1_1(counting_task, tmp_path):
    """rl_games' bounds loss: mean actions far beyond the action bounds come back; without it they stay."""
    means = {}
    for scale in (0.0, 1.0):
        torch.manual_seed(0)
        env, _, _ = counting_env(counting_task, "cpu", num_envs=8)
        agent = make_ppo(env, "cpu", tmp_path / str(scale), bounds_loss_scale=scale, learning_rate=1e-2,
                         state_preprocessor="RunningStandardScaler",
                         experiment={"write_interval": 0, "checkpoint_interval": 0})
        with torch.no_grad():
            agent.policy.net[-1].bias.fill_(4.0)  # every mean action at ~4
        train(agent, env, 128)
        states = agent.memory.get_tensor_by_name("states", False)
        with torch.no_grad():
            means[scale] = agent.policy.act(agent._state_preprocessor(states))[2].abs().mean().item()
    assert means[0.0] > 2.5 and means[1.0] < means[0.0] - 1.0, means


def test_kl_since_is_rollout_or_epoch(counting_task, tmp_path):
    env, _, _ = counting_env(counting_task, "cpu")
    with pytest.raises(ValueError, match=r"cfg\['kl_since'\]='step' is not valid: expected 'rollout' or 'epoch'"):
        make_ppo(env, "cpu", tmp_path, kl_since="step")
    with pytest.raises(ValueError, match=r"cfg\['bounds_loss_scale'\]=-1(\.0)? is not valid: expected >= 0"):
        make_ppo(env, "cpu", tmp_path, bounds_loss_scale=-1)


@pytest.mark.parametrize("bootstrap", [False, True])
def test_rollout_values_are_the_value_models_step_by_step(counting_task, device, tmp_path, bootstrap):
    """The values PPO computes for a whole rollout at its end equal the value model's output for each
    recorded step's states, and with ``time_limit_bootstrap`` the time-out steps' rewards get
    ``discount_factor * value`` added (odd envs of the counting task end by time-out)."""
    env, _, rewards = counting_env(counting_task, device, num_envs=8)
    agent = make_ppo(env, device, tmp_path, state_preprocessor="RunningStandardScaler",
                     value_preprocessor="RunningStandardScaler", time_limit_bootstrap=bootstrap,
                     discount_factor=0.9, experiment={"write_interval": 0, "checkpoint_interval": 0})
    expected_values, expected_rewards, checked = [], [], []
    record, update = agent.record_transition, agent._update

    def reference_record(states, actions, rewards_, next_states, terminated, truncated, *args):
        with torch.no_grad():  # the value model, step by step, as the rollout goes
            v = agent._value_preprocessor(agent.value.act(agent._state_preprocessor(states))[0], inverse=True)
        expected_values.append(v)
        expected_rewards.append(rewards_.view(-1, 1) + (0.9 * v * truncated.view(-1, 1) if bootstrap else 0))
        record(states, actions, rewards_, next_states, terminated, truncated, *args)

    def checked_update(timestep, timesteps):
        m = agent.memory
        torch.testing.assert_close(m.get_tensor_by_name("values"), torch.stack(expected_values), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(m.get_tensor_by_name("rewards"), torch.stack(expected_rewards), rtol=1e-6, atol=1e-6)
        checked.append(bool((m.get_tensor_by_name("truncated")).any()))
        expected_values.clear()
        expected_rewards.clear()
        update(timestep, timesteps)

    agent.record_transition, agent._update = reference_record, checked_update
    train(agent, env, 24)
    assert len(checked) == 3 and all(checked)  # three rollouts, each with time-outs


def _step_by_step_advantages(rewards, values, last_values, not_dones, gamma, lam):
    """The textbook GAE loop (PPO's form before the vectorized one): one step at a time."""
    advantages = torch.empty_like(rewards)
    advantage = torch.zeros_like(last_values)
    next_values = last_values
    for i in reversed(range(rewards.shape[0])):
        delta = rewards[i] + gamma * next_values * not_dones[i] - values[i]
        advantage = delta + gamma * lam * not_dones[i] * advantage
        advantages[i] = advantage
        next_values = values[i]
    return advantages


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 9), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_generalized_advantages_equal_the_step_by_step_loop(rollouts, num_envs, gamma, lam, seed):
    gen = torch.Generator().manual_seed(seed)
    for device in DEVICES:
        rewards, values = (torch.randn((rollouts, num_envs, 1), generator=gen).to(device) for _ in range(2))
        last_values = torch.randn((num_envs, 1), generator=gen).to(device)
        not_dones = (torch.rand((rollouts, num_envs, 1), generator=gen) > 0.3).float().to(device)
        got = generalized_advantages(rewards, values, last_values, not_dones, gamma, lam)
        assert torch.equal(got, _step_by_step_advantages(rewards, values, last_values, not_dones, gamma, lam))
        # and the definition, in float64: A_t = sum_k (gamma lambda)^k prod(not_done) delta_{t+k}
        r, v, nd = (t.double().cpu().numpy()[..., 0] for t in (rewards, values, not_dones))
        nv = np.concatenate([v[1:], last_values.double().cpu().numpy().T])
        delta = r + gamma * nv * nd - v
        expected = np.zeros_like(delta)
        for t in range(rollouts):
            weight = np.ones(num_envs)
            for k in range(t, rollouts):
                expected[t] += weight * delta[k]
                weight = weight * gamma * lam * nd[k]
        np.testing.assert_allclose(got.double().cpu().numpy()[..., 0], expected, rtol=1e-5, atol=1e-5)
