"""``torchrun --nproc_per_node=2 train_isaac.py ...`` (gloo, CPU): the same command as one process, rank 0's lines
only, a run folder written by rank 0, a resume that restores both ranks, and bad device input as one error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from skrl_isaac.cli.errors import CLIError
from skrl_isaac.utils.processes import python_env

ROOT = Path(__file__).resolve().parents[2]
RUN = ["task=Cartpole", "num_envs=4", "seed=3", "rl_device=cpu", "write_interval=16", "checkpoint_interval=32",
       "train.agent.rollouts=16", "headless=True"]


def torchrun(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(ROOT / "train_isaac.py"), *overrides], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=python_env(ROOT, OMP_NUM_THREADS="1", SKRL_ISAAC_COLLECTIVE_TIMEOUT="30"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("torchrun_cli")
    straight = torchrun(*RUN, "max_iterations=4", "experiment=straight", cwd=cwd)
    assert straight.returncode == 0, straight.stderr[-3000:]
    short = torchrun(*RUN, "max_iterations=2", "experiment=short", cwd=cwd)
    assert short.returncode == 0, short.stderr[-3000:]
    resumed = torchrun("checkpoint=runs/short/checkpoints/32_agent.pt", "max_iterations=4", cwd=cwd)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return cwd, straight, resumed


def test_rank0_speaks_and_writes_the_run(runs):
    cwd, straight, _ = runs
    out = straight.stdout
    assert out.count("[skrl_isaac] task Cartpole") == 1  # one start line, from rank 0
    assert "4 envs per rank x 2 ranks = 8 envs on cpu" in out
    assert out.count("[skrl_isaac] 2 ranks:") == 1 and "MuJoCo thread(s) per rank" in out
    assert out.count("timestep        16 |") == 1  # one summary line per write
    files = sorted(p.name for p in (cwd / "runs" / "straight" / "checkpoints").iterdir())
    assert files == sorted(f"{t}_{name}.pt" for t in (32, 64) for name in (
        "agent", "agent.rank1", "policy", "state_preprocessor", "value", "value_preprocessor"))
    assert (cwd / "runs" / "straight" / "config.yaml").is_file()
    assert len(list((cwd / "runs" / "straight").glob("events.out.tfevents.*"))) == 1


def test_resume_restores_every_rank(runs):
    cwd, _, resumed = runs
    assert resumed.stdout.count("resuming") == 1
    for name in ("64_agent.pt", "64_agent.rank1.pt"):  # rank 0's state and rank 1's own (RNG, env, episodes)
        straight = torch.load(cwd / "runs" / "straight" / "checkpoints" / name, weights_only=False)
        again = torch.load(cwd / "runs" / "short" / "checkpoints" / name, weights_only=False)
        for model, state in straight["models"].items():
            for key, value in state.items():
                assert torch.equal(value, again["models"][model][key]), f"{name}: {model}.{key}"
        assert torch.equal(straight["rng"]["torch"], again["rng"]["torch"]), name


def test_more_ranks_than_gpus_is_one_error(monkeypatch):
    from skrl_isaac.cli import distributed as cli_distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(CLIError, match=r"rank 1 \(local rank 1\) has no GPU of its own: this machine has 1 CUDA"):
        cli_distributed.rank_device("cuda:0", "rl_device")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert cli_distributed.rank_device("cuda:0", "rl_device") == "cuda:0"
    assert cli_distributed.rank_device("cpu", "rl_device") == "cpu"
