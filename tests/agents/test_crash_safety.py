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


def test_best_checkpoint_written_only_after_window_and_on_improvement(counting_task, tmp_path, scalars_reader):
    # returns grow over time: env i gets reward that the shaper does not touch, but the tracker sees
    # the raw rewards, which are constant per env -> the window mean is constant once full
    env, lengths, rewards = counting_env(counting_task, "cpu", num_envs=6)
    agent = make_ppo(env, "cpu", tmp_path, experiment={"write_interval": 5, "checkpoint_interval": 1000,
                                                       "best_window": 40})
    writes = []
    original = agent.write_checkpoint

    def spy(timestep, timesteps, include_agent=True):
        writes.append((timestep, agent.last_written_timestep, agent.best_return))
        return original(timestep, timesteps, include_agent)

    agent.write_checkpoint = spy
    train(agent, env, 60)
    # episodes per step over the 6 envs: sum(1 / L_i); 40 finished episodes take ~ 20 steps
    per_step = sum(1 / n for n in lengths)
    first_possible = math.ceil(40 / per_step / 5) * 5
    assert writes and writes[0][0] == "best"
    assert writes[0][1] >= first_possible - 5
    assert len(writes) <= 3  # written again only when the window mean improves
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
