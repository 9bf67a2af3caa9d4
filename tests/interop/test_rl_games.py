"""rl_games interop: rl_games' own Runner trains an embedded task; its checkpoint converts to our policy exactly."""

from __future__ import annotations

import glob
import os
import types

import pytest
import torch

pytest.importorskip("rl_games")

from conftest import python_env  # noqa: E402
import skrl_isaac_envs as envs  # noqa: E402
from skrl_isaac.interop.rl_games import (  # noqa: E402
    apply_rl_games_checkpoint,
    float32_matmul_kept,
    load_rl_games_checkpoint,
    read_rl_games_checkpoint,
    register_rl_games_env,
    rl_games_policy_state,
    rl_games_ppo_config,
)
from skrl_isaac.models.torch.mlp import MLPGaussianPolicy  # noqa: E402
from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
UNITS = [16, 8]


class Payload:
    """Not a tensor, number or numpy scalar."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two epochs of rl_games PPO (4 envs, horizon 8) on the embedded Ant; returns (runner, config, .pth path)."""
    from rl_games.torch_runner import Runner

    train_dir = str(tmp_path_factory.mktemp("rl_games"))
    env_name = register_rl_games_env("Ant", num_envs=4, device="cpu", seed=0, env_name="skrl_isaac_test_ant")
    config = rl_games_ppo_config(env_name, 4, "cpu", name="ant_tiny", train_dir=train_dir, units=UNITS,
                                 horizon_length=8, max_epochs=2, mini_epochs=1, torch_compile=False)
    with float32_matmul_kept():  # Runner() turns TF32 on process-wide (see the README)
        runner = Runner()
        runner.load(config)
        runner.reset()
        runner.run({"train": True, "play": False, "checkpoint": None, "sigma": None})
    files = glob.glob(os.path.join(train_dir, "ant_tiny", "nn", "*.pth"))
    return runner, config, files


def test_float32_matmul_kept_restores_what_runner_changes():
    from rl_games.torch_runner import Runner

    before = (torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision())
    with float32_matmul_kept():
        Runner()
        assert torch.get_float32_matmul_precision() == "high"  # what Runner() does, so there is work to undo
    assert (torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision()) == before


def _observations(n_steps=6):
    """Real Ant observations (random actions) plus a few far outside the statistics (clipping)."""
    task = envs.make("Ant", 8, device="cpu", seed=1)
    gen = torch.Generator().manual_seed(0)
    obs = [task.reset()["obs"]]
    for _ in range(n_steps):
        obs.append(task.step(torch.rand((8, 8), generator=gen) * 2 - 1)[0]["obs"])
    obs = torch.cat(obs)
    return torch.cat([obs, obs[:4] * 50.0, -obs[:4] * 50.0])


def _rl_games_player(runner, path):
    player = runner.create_player()
    player.restore(path)
    player.has_batch_dimension = True
    return player


def test_rl_games_trains_embedded_task_and_writes_checkpoint(trained):
    _, _, files = trained
    assert len(files) == 1 and files[0].endswith(".pth")
    state = read_rl_games_checkpoint(files[0])  # weights_only=True
    assert state["epoch"] == 2
    model = state["model"]
    assert any(k.endswith("running_mean_std.count") for k in model)
    count = next(v for k, v in model.items() if k.endswith("running_mean_std.count"))
    assert float(count) > 4 * 8  # the statistics really saw the rollouts


@pytest.mark.parametrize("device", DEVICES)
def test_converted_policy_matches_rl_games_mus(trained, device):
    runner, _, files = trained
    player = _rl_games_player(runner, files[0])
    obs = _observations()
    with torch.no_grad():
        mus = player.model({"is_train": False, "prev_actions": None, "obs": obs.clone(), "rnn_states": None})["mus"]
        played = player.get_action(obs.clone(), is_deterministic=True)

    space = envs.make("Ant", 1, device="cpu", seed=0)
    policy, scaler = load_rl_games_checkpoint(files[0], space.observation_space, space.action_space, device,
                                              hiddens=UNITS)
    assert isinstance(policy, MLPGaussianPolicy) and isinstance(scaler, RunningStandardScaler)
    with torch.no_grad():
        mean, log_std = policy.compute(scaler(obs.to(device)))
    torch.testing.assert_close(mean.cpu(), mus, atol=1e-5, rtol=0)
    torch.testing.assert_close(mean.clamp(-1, 1).cpu(), played, atol=1e-5, rtol=0)
    sigma = next(v for k, v in player.model.state_dict().items() if k.endswith("a2c_network.sigma"))
    torch.testing.assert_close(log_std.cpu(), sigma.float())


def test_apply_to_agent_like_object_and_orig_mod_prefix(trained, tmp_path):
    runner, _, files = trained
    state = read_rl_games_checkpoint(files[0])
    # torch.compile'd rl_games models save keys with "_orig_mod."; both layouts convert alike
    prefixed = dict(state, model={("_orig_mod." + k if not k.startswith("_orig_mod.") else k): v
                                  for k, v in state["model"].items()})
    other = tmp_path / "compiled.pth"
    torch.save(prefixed, other)
    assert rl_games_policy_state(str(other))["hiddens"] == UNITS

    space = envs.make("Ant", 1, device="cpu", seed=0)
    policy = MLPGaussianPolicy(space.observation_space, space.action_space, "cpu", hiddens=UNITS)
    scaler = RunningStandardScaler(space.observation_space, device="cpu")
    agent = types.SimpleNamespace(models={"policy": policy}, checkpoint_modules={"state_preprocessor": scaler},
                                  device=torch.device("cpu"))
    apply_rl_games_checkpoint(agent, str(other))
    obs = _observations(2)
    player = _rl_games_player(runner, files[0])
    with torch.no_grad():
        mus = player.model({"is_train": False, "prev_actions": None, "obs": obs.clone(), "rnn_states": None})["mus"]
        torch.testing.assert_close(policy.compute(scaler(obs))[0], mus, atol=1e-5, rtol=0)

    wrong = types.SimpleNamespace(models={"policy": MLPGaussianPolicy(space.observation_space, space.action_space,
                                                                      "cpu", hiddens=[32])},
                                  checkpoint_modules={}, device=torch.device("cpu"))
    with pytest.raises(ValueError, match=r"hiddens \[16, 8\]"):
        apply_rl_games_checkpoint(wrong, files[0])


def test_checkpoint_errors(trained, tmp_path):
    _, _, files = trained
    space = envs.make("Ant", 1, device="cpu", seed=0)
    with pytest.raises(ValueError, match="hiddens=\\[64\\]"):
        load_rl_games_checkpoint(files[0], space.observation_space, space.action_space, hiddens=[64])
    with pytest.raises(ValueError, match="takes 60 observations"):
        load_rl_games_checkpoint(files[0], 59, space.action_space)

    bad = tmp_path / "bad.pth"
    torch.save({"model": {}, "payload": Payload()}, bad)  # an arbitrary object: weights_only refuses it
    with pytest.raises(ValueError, match="weights_only=True"):
        read_rl_games_checkpoint(str(bad))
    plain = tmp_path / "plain.pth"
    torch.save({"a": torch.zeros(1)}, plain)
    with pytest.raises(ValueError, match="not an rl_games checkpoint"):
        read_rl_games_checkpoint(str(plain))


def test_cli_plays_the_rl_games_checkpoint(trained, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (path,) = trained[2]
    result = subprocess.run([sys.executable, str(root / "train_isaac.py"), "task=Ant", "num_envs=2", "test=True",
                             f"checkpoint={path}", "rl_device=cpu", "task.env.episodeLength=8", "test_timesteps=16"],
                            cwd=tmp_path, capture_output=True, text=True,
                            env=python_env(root),
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not [line for line in result.stdout.splitlines() if line.startswith("episode ")]  # a summary only
    assert "played 4 episodes: return mean " in result.stdout
