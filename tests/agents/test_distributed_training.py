"""Training under a real 2-rank torchrun (gloo, CPU), launched as a user would: a library script runs unchanged.

One launch trains PPO then SAC (identical parameters, different observations, rank-0-only files, episode statistics
of both ranks); a second resumes PPO from the first's checkpoint on both ranks (exactly the uninterrupted
parameters); a third loses a rank to SIGKILL (the others stop within a bounded time, naming it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from skrl_isaac.agents.torch.state import read_state_file
from skrl_isaac.dumps import load_dump
from skrl_isaac.dumps.cli import main as dumps_cli
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.utils.processes import python_env

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "agents" / "distributed_training.py"


def torchrun(out: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(WORKER), str(out), *args], cwd=out, capture_output=True, text=True, timeout=timeout,
                          env=python_env(str(ROOT), OMP_NUM_THREADS="1", SKRL_ISAAC_COLLECTIVE_TIMEOUT="30"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun")
    proc = torchrun(out, "train")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def load(out: Path, tag: str) -> list[dict]:
    return [torch.load(out / f"{tag}_rank{r}.pt", weights_only=False) for r in range(2)]


def assert_same_state(a: dict, b: dict, what: str) -> None:
    for name, state in a.items():
        for key, value in state.items():
            assert torch.equal(value, b[name][key]), f"{what}: {name}.{key} differs"


@pytest.mark.parametrize("tag", ["ppo", "sac"])
def test_ranks_stay_bit_identical_and_see_different_data(trained, tag):
    rank0, rank1 = load(trained, tag)
    assert_same_state(rank0["models"], rank1["models"], f"{tag} models across ranks")
    assert_same_state(rank0["objects"], rank1["objects"], f"{tag} preprocessors/models across ranks")
    assert rank0["lr"] == rank1["lr"]  # PPO's KL-adaptive rate follows the all-reduced KL
    assert not torch.equal(rank0["first_states"], rank1["first_states"])  # seed + rank: different resets
    assert not torch.equal(rank0["rewards"], rank1["rewards"])
    # and they learned: the parameters moved from their initialization on both ranks alike
    assert rank0["summaries"] and rank0["summaries"] == rank1["summaries"]


def test_only_rank0_writes_the_run_files(trained):
    rank0, rank1 = load(trained, "ppo")
    assert rank0["experiment_dir"] == rank1["experiment_dir"] == str(trained / "ppo")
    files = sorted(p.name for p in (trained / "ppo" / "checkpoints").iterdir())
    assert "24_agent.pt" in files and "24_agent.rank1.pt" in files and "24_policy.pt" in files
    assert not any("rank0" in f for f in files)
    assert [f for f in files if "rank1" in f] == [f"{t}_agent.rank1.pt" for t in (24, 48, 64)]  # resume state only
    assert len(list((trained / "ppo").glob("events.out.tfevents.*"))) == 1  # one TensorBoard writer
    # every rank exports its own memory dumps, and they load back
    for r in range(2):
        dumps = sorted((trained / "memory" / f"rank{r}").glob("*.pt"))
        assert dumps, f"rank {r} exported nothing"
        saved = load_dump(str(dumps[0]))  # the dump's tensors (its integrity record checked and left out)
        saved = {name: torch.from_numpy(array) for name, array in saved.items()}
        memory = RandomMemory(memory_size=8, num_envs=4, device="cpu")
        for name, tensor in saved.items():
            memory.create_tensor(name, tensor.shape[-1], tensor.dtype)
        memory.load(dumps[0])
        assert memory.filled and torch.equal(memory.get_tensor_by_name("states"), saved["states"])
        assert dumps_cli(["inspect", str(dumps[0])]) == 0


def test_episode_statistics_cover_every_rank(trained):
    rank0, rank1 = load(trained, "ppo")
    rewards = torch.stack([rank0["rewards"], rank1["rewards"]], dim=1)  # (steps, ranks, envs)
    dones = torch.stack([rank0["dones"], rank1["dones"]], dim=1)
    returns = torch.zeros(rewards.shape[1:], dtype=torch.float64)
    lengths = torch.zeros(rewards.shape[1:], dtype=torch.float64)
    finished: list[tuple[float, float]] = []
    expected = {}
    for step in range(rewards.shape[0]):
        returns += rewards[step]
        lengths += 1
        done = dones[step]
        finished += list(zip(returns[done].tolist(), lengths[done].tolist()))
        returns[done], lengths[done] = 0.0, 0.0
        if (step + 1) % 16 == 0:
            expected[step + 1] = finished
            finished = []
    checked = 0
    for timestep, scalars, count in rank0["summaries"]:
        episodes = expected[timestep]
        assert count == len(episodes), timestep
        if episodes:
            checked += 1
            assert scalars["Reward / Total reward (mean)"] == pytest.approx(sum(r for r, _ in episodes) / len(episodes),
                                                                           rel=1e-5)
            assert scalars["Reward / Total reward (max)"] == pytest.approx(max(r for r, _ in episodes), rel=1e-5)
            assert scalars["Reward / Total reward (min)"] == pytest.approx(min(r for r, _ in episodes), rel=1e-5)
            assert scalars["Episode / Total timesteps (mean)"] == pytest.approx(
                sum(n for _, n in episodes) / len(episodes))
    assert checked, "no episode finished: the test saw nothing"
    # episodes of both ranks were counted (neither rank alone explains the total)
    per_rank = [int(d.sum()) for d in (rank0["dones"], rank1["dones"])]
    assert sum(c for _, _, c in rank0["summaries"]) == sum(per_rank) and min(per_rank) > 0


def test_resumed_two_rank_run_reaches_the_uninterrupted_parameters(trained):
    checkpoint = trained / "ppo" / "checkpoints" / "24_agent.pt"
    proc = torchrun(trained, "resume", str(checkpoint))
    assert proc.returncode == 0, proc.stderr[-4000:]
    straight, resumed = load(trained, "ppo"), load(trained, "ppo_resumed")
    for r in range(2):
        assert_same_state(straight[r]["models"], resumed[r]["models"], f"rank {r} resumed vs uninterrupted")
        assert_same_state(straight[r]["objects"], resumed[r]["objects"], f"rank {r} resumed vs uninterrupted")
        # each rank continued its own episodes (its own RNG and simulator state)
        assert torch.equal(straight[r]["rewards"][24:], resumed[r]["rewards"])


def test_a_nan_on_one_rank_stops_every_rank_at_the_same_point(tmp_path):
    proc = torchrun(tmp_path, "diverge")
    assert proc.returncode == 0, proc.stderr[-4000:]
    messages = [(tmp_path / f"diverged_rank{r}.txt").read_text() for r in range(2)]
    assert messages[0] == messages[1]
    # PPO checks right after the update that made the NaN (timestep 8), before the write at 16
    assert messages[0].startswith("training stopped at timestep 8: 'Loss / Value loss' became NaN/inf at timestep 8")


def test_a_killed_rank_stops_the_run_in_bounded_time(tmp_path):
    start = time.monotonic()
    proc = torchrun(tmp_path, "kill", timeout=240)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert elapsed < 120, f"the surviving rank took {elapsed:.0f}s to stop"
    log = proc.stdout + proc.stderr
    assert "local_rank: 1" in log and "Signal 9 (SIGKILL)" in log, log[-3000:]
    # every checkpoint on disk still loads
    checkpoints = sorted((tmp_path / "ppo_killed" / "checkpoints").glob("*_agent*.pt"))
    assert checkpoints
    for path in checkpoints:
        assert read_state_file(path)["timestep"] == 24


AGENTS = ["DDPG", "DQN", "PPO", "SAC", "TD3"]


def test_five_agents_hot_paths_under_torchrun(tmp_path):
    """The host-sync guard of test_host_sync.py over all five agents' hot paths on both ranks of a torchrun: no
    host read, and each agent's models end bit-identical on both ranks."""
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(ROOT / "tests" / "agents" / "distributed_host_sync.py"), str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env=python_env(str(ROOT), OMP_NUM_THREADS="1", SKRL_ISAAC_COLLECTIVE_TIMEOUT="30"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = [json.loads((tmp_path / f"host_sync_rank{r}.json").read_text()) for r in range(2)]
    for name in AGENTS:  # and every agent's models are bit-identical on both ranks after its updates
        assert results[0][name]["digest"] == results[1][name]["digest"], name
    for r, result in enumerate(results):
        assert sorted(result) == AGENTS
        for name, found in result.items():
            assert found["violations"] == [], (r, name)
            assert found["checkpoint"]  # the runs reached their write boundaries (16_agent.pt, 16_agent.rank1.pt)
