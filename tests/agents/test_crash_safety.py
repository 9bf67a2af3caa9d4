"""Divergence stops training cleanly; best checkpoints; policy export with the normalizer inside."""

from __future__ import annotations

import math
import os

import pytest
import torch

from skrl_isaac.agents.torch.base import TrainingDiverged
from skrl_isaac.models.torch.export import export_policy, parse_formats
from skrl_isaac.models.torch.mlp import MLPGaussianPolicy

from test_ppo import counting_env, make_ppo, train


def test_nan_loss_stops_training_and_keeps_last_good_checkpoint(counting_task, tmp_path):
    env, _, _ = counting_env(counting_task, "cpu")

    def shaper(rewards, timestep, timesteps):  # the reward turns NaN from timestep 40 on
        return rewards * (math.nan if timestep >= 40 else 1.0)

    agent = make_ppo(env, "cpu", tmp_path, rewards_shaper=shaper,
                     experiment={"write_interval": 0, "checkpoint_interval": 16})
    with pytest.raises(TrainingDiverged) as e:
        train(agent, env, 96)
    message = str(e.value)
    assert "training stopped at timestep 48" in message
    assert "'Loss / Value loss' became NaN/inf at timestep 48" in message
    files = sorted(os.listdir(tmp_path / "exp" / "checkpoints"))
    assert files == ["16_policy.pt", "32_policy.pt"]  # nothing written after the divergence
    state = torch.load(tmp_path / "exp" / "checkpoints" / "32_policy.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state.values())


def test_nan_parameters_are_named(counting_task, tmp_path):
    env, _, _ = counting_env(counting_task, "cpu")
    agent = make_ppo(env, "cpu", tmp_path, experiment={"write_interval": 0, "checkpoint_interval": 8})
    with torch.no_grad():
        agent.value.net[0].weight[0, 0] = math.inf
    with pytest.raises(TrainingDiverged, match=r"parameters of \[.*'value'\] are NaN/inf"):
        train(agent, env, 8)


def test_best_checkpoint_written_exactly_on_each_improvement(counting_task, tmp_path):
    """Every ``best`` write happens at a TensorBoard write where the mean return of the last
    ``best_window`` finished episodes beats every earlier one, and every such write happens.

    The episodes' rewards rise and fall over time, so the window mean improves, falls back and
    improves again; the reference window is kept here from the env's own outputs."""
    from skrl_isaac.envs.torch import wrap_env

    class WavyTask(counting_task):
        def step(self, actions):
            obs, rew, reset, extras = super().step(actions)
            self.t = getattr(self, "t", 0) + 1
            return obs, rew * (1.0 + 0.8 * math.sin(self.t / 9.0)), reset, extras

    lengths = [2 + (i % 5) for i in range(6)]
    env = wrap_env(WavyTask(6, lengths, [0.5 * (i + 1) for i in range(6)], device="cpu"))
    window, interval = 12, 5
    agent = make_ppo(env, "cpu", tmp_path, experiment={"write_interval": interval, "checkpoint_interval": 1000,
                                                       "best_window": window})
    finished, running = [], torch.zeros(6)
    step = env.step

    def recording_step(actions):
        out = step(actions)
        _, rewards, terminated, truncated, _ = out
        running.add_(rewards.view(-1))
        done = (terminated | truncated).view(-1)
        finished.extend(running[done].tolist())  # step, then env order: the tracker's order
        running[done] = 0.0
        return out

    env.step = recording_step
    expected, best, writes = [], -math.inf, []
    write_tracking_data = agent.write_tracking_data

    def reference_then_write(timestep, timesteps):
        nonlocal best
        if len(finished) >= window:
            mean = sum(finished[-window:]) / window
            if mean > best:
                best = mean
                expected.append((timestep, mean))
        write_tracking_data(timestep, timesteps)

    write_checkpoint = agent.write_checkpoint

    def spy(timestep, timesteps, include_agent=True):
        if timestep == "best":
            writes.append((agent.last_written_timestep, agent.best_return))
        return write_checkpoint(timestep, timesteps, include_agent)

    agent.write_tracking_data, agent.write_checkpoint = reference_then_write, spy
    train(agent, env, 150)
    assert [t for t, _ in writes] == [t for t, _ in expected]
    for (_, got), (_, want) in zip(writes, expected):
        assert got == pytest.approx(want, rel=1e-6)
    assert all(b > a for (_, a), (_, b) in zip(writes, writes[1:]))  # each write an improvement
    assert len(writes) >= 3 and writes[-1][0] < 150 - interval  # several improvements, then none to the end
    assert (tmp_path / "exp" / "checkpoints" / "best_policy.pt").is_file()


@pytest.mark.parametrize("formats", ["onnx", "torchscript", "all", "onnx,torchscript"])
def test_parse_formats(formats):
    assert set(parse_formats(formats)) <= {"onnx", "torchscript"}


def test_parse_formats_rejects_unknown():
    with pytest.raises(ValueError, match="expected onnx, torchscript, all"):
        parse_formats("tflite")


def test_exported_policies_match_the_model_on_real_observations(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="install the [onnx] extra")
    from skrl_isaac.envs.torch import load_embedded_env, wrap_env
    from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler

    env = wrap_env(load_embedded_env("Ant", num_envs=16, device="cpu", seed=0))
    policy = MLPGaussianPolicy(env.observation_space, env.action_space, "cpu", hiddens=[64, 32])
    scaler = RunningStandardScaler(env.observation_space, device="cpu")
    states, _ = env.reset()
    observations = []
    for _ in range(30):  # real observations from a random rollout
        scaler(states, train=True)
        observations.append(states)
        states = env.step(torch.rand(16, 8) * 2 - 1)[0]
    observations = torch.cat(observations)
    paths = export_policy(policy, scaler, str(tmp_path / "exported"))
    with torch.no_grad():
        expected = policy.deterministic_act(scaler(observations))
        scripted = torch.jit.load(paths["torchscript"])(observations)
    onnx = ort.InferenceSession(paths["onnx"]).run(None, {"observations": observations.numpy()})[0]
    torch.testing.assert_close(scripted, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.from_numpy(onnx), expected, atol=1e-5, rtol=0)
    # outside no_grad too, the TorchScript policy's actions are plain tensors (``.numpy()`` works on them)
    actions = torch.jit.load(paths["torchscript"])(observations)
    assert not actions.requires_grad and actions.numpy().shape == (observations.shape[0], 8)
    assert all(p.requires_grad for p in policy.parameters())  # the live policy keeps training
    env.close()


def test_exported_q_network_returns_greedy_actions(tmp_path):
    import gymnasium
    import numpy as np

    from skrl_isaac.models.torch.mlp import MLPDeterministic

    obs = gymnasium.spaces.Box(-np.inf, np.inf, (4,), dtype=np.float32)
    q_network = MLPDeterministic(obs, gymnasium.spaces.Discrete(3), "cpu", hiddens=[16], outputs=3)
    paths = export_policy(q_network, None, str(tmp_path), ("torchscript",), greedy=True)
    states = torch.randn(20, 4)
    with torch.no_grad():
        actions = torch.jit.load(paths["torchscript"])(states)
        expected = q_network.compute(states, None).argmax(dim=-1, keepdim=True)
    assert actions.shape == (20, 1) and torch.equal(actions, expected)
