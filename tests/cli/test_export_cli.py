"""``export=onnx|torchscript|all`` from the command line: exactly those files, saying it does not play; the
exported graphs compute the checkpoint's policy (PPO's normalized Gaussian mean, DQN's greedy action)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch
import yaml
from test_train_cli import run_cli

ort = pytest.importorskip("onnxruntime", reason="install the [onnx] extra")

FILES = {"onnx": ["policy.onnx"], "torchscript": ["policy.pt"], "all": ["policy.onnx", "policy.pt"]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("export")
    for args in (["task=Ant", "experiment=ppo"],
                 ["task=CartpoleDiscrete", "train=CartpoleDiscreteDQN", "experiment=dqn", "train.agent.learning_starts=4",
                  "train.agent.batch_size=8"]):
        result = run_cli(*args, "num_envs=4", "max_iterations=1", "rl_device=cpu", "write_interval=0", cwd=cwd)
        assert result.returncode == 0, result.stderr[-3000:]
    return cwd


def export(cwd, run, fmt, task="task=Ant", extra=()):
    checkpoint = f"runs/{run}/checkpoints/16_{'q_network' if run == 'dqn' else 'policy'}.pt"
    folder = cwd / "runs" / run / "exported"
    shutil.rmtree(folder, ignore_errors=True)
    result = run_cli(task, *extra, "num_envs=2", "test=True", f"checkpoint={checkpoint}", f"export={fmt}",
                     "rl_device=cpu", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, folder


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "all"])
def test_export_writes_exactly_the_asked_formats(runs, fmt):
    result, folder = export(runs, "ppo", fmt)
    assert sorted(os.listdir(folder)) == FILES[fmt]
    formats = {"onnx": "onnx", "torchscript": "torchscript", "all": "onnx and torchscript"}[fmt]
    assert (f"[skrl_isaac] export={fmt}: writing {formats} to {folder}, then exiting without playing "
            "(leave export= out to play)") in result.stdout
    assert "played" not in result.stdout and "episode" not in result.stdout
    if fmt == "all":  # both graphs compute the same normalized deterministic policy
        obs = np.random.default_rng(0).normal(size=(5, 60)).astype(np.float32)
        onnx_actions = ort.InferenceSession(str(folder / "policy.onnx")).run(None, {"observations": obs})[0]
        script_actions = torch.jit.load(folder / "policy.pt")(torch.from_numpy(obs)).detach().numpy()
        assert onnx_actions.shape == (5, 8)
        np.testing.assert_allclose(onnx_actions, script_actions, rtol=1e-5, atol=1e-5)


def test_dqn_greedy_model_through_onnxruntime(runs):
    from gymnasium.spaces import Box, Discrete

    from skrl_isaac.models.torch.mlp import MLPDeterministic

    _, folder = export(runs, "dqn", "onnx", task="task=CartpoleDiscrete", extra=("train=CartpoleDiscreteDQN",))
    assert sorted(os.listdir(folder)) == ["policy.onnx"]
    config = yaml.safe_load((runs / "runs" / "dqn" / "config.yaml").read_text())
    session = ort.InferenceSession(str(folder / "policy.onnx"))
    num_obs = session.get_inputs()[0].shape[1]
    q_network = MLPDeterministic(Box(-np.inf, np.inf, (num_obs,)), Discrete(2), "cpu", outputs=2,
                                 **config["train"]["models"]["q_network"])
    q_network.load(runs / "runs" / "dqn" / "checkpoints" / "16_q_network.pt")
    obs = np.random.default_rng(1).normal(scale=3.0, size=(64, num_obs)).astype(np.float32)
    greedy = session.run(None, {"observations": obs})[0]
    with torch.no_grad():
        q_values = q_network.compute(torch.from_numpy(obs), None)
    expected = q_values.argmax(dim=-1, keepdim=True).numpy()
    assert greedy.shape == (64, 1) and len(np.unique(expected)) == 2  # both actions occur: a real comparison
    np.testing.assert_array_equal(greedy, expected)
