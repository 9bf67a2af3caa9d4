"""skrl_isaac.utils.distributed: one process without torchrun; the collectives under a real 2-rank torchrun (gloo)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from skrl_isaac.utils import distributed as dist_utils

ROOT = Path(__file__).resolve().parents[2]


def test_one_process_without_torchrun(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    info = dist_utils.init("cpu")
    assert info == dist_utils.ProcessInfo(0, 0, 1) and info.is_main and not info.is_distributed
    assert not dist_utils.is_initialized()
    model = torch.nn.Linear(2, 2)
    before = [p.clone() for p in model.parameters()]
    dist_utils.broadcast_parameters([model])
    model.weight.grad = torch.ones_like(model.weight)
    dist_utils.all_reduce_gradients(model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert torch.equal(model.weight.grad, torch.ones_like(model.weight))
    count, mean, m2 = torch.tensor(3.0), torch.tensor([1.0]), torch.tensor([2.0])
    assert dist_utils.merge_moments(count, mean, m2) == (count, mean, m2)


def test_bad_torchrun_environment(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK=2 is not valid for WORLD_SIZE=2"):
        dist_utils.process_info()
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ValueError, match="RANK='one' is not an integer"):
        dist_utils.process_info()


def test_collectives_under_torchrun_with_two_ranks(tmp_path):
    from skrl_isaac.utils.processes import python_env

    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(ROOT / "tests" / "utils" / "distributed_worker.py"), str(tmp_path)],
                          cwd=tmp_path, env=python_env(str(ROOT), OMP_NUM_THREADS="1"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for rank, result in enumerate(results):
        assert result["rank"] == rank and result["world_size"] == 2 and result["local_rank"] == rank
        assert result["is_main"] == (rank == 0)
        assert result["broadcast_equal_rank0"] and result["buffers_from_rank0"] == [0.0] * 4
        assert result["grad_weight"] == [1.5]  # (1 + 2) / 2
        assert result["grad_bias_missing_on_rank1"] == [0.5]  # (1 + 0) / 2
        assert result["kl_mean"] == 1.0
        assert result["moments_count"] == 5 + 8
        assert result["moments_mean_error"] < 1e-12 and result["moments_var_error"] < 1e-12
        assert result["same_device_type"]


def test_rank_seed_path_and_folder(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert dist_utils.rank_seed(42) == 44
    assert dist_utils.rank_path("/run/checkpoints/24_agent.pt") == "/run/checkpoints/24_agent.rank2.pt"
    assert dist_utils.rank_folder("memory") == "memory/rank2"
    from skrl_isaac.memories.torch import RandomMemory
    from skrl_isaac.utils import set_seed

    assert RandomMemory(memory_size=2, num_envs=1, device="cpu", export_directory="dumps").export_directory == \
        "dumps/rank2"
    assert set_seed(5) == 7
    monkeypatch.setenv("RANK", "0")
    assert dist_utils.rank_path("24_agent.pt") == "24_agent.pt"  # rank 0 writes the run's own file
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name)
    assert dist_utils.rank_seed(42) == 42 and dist_utils.rank_folder("memory") == "memory" and set_seed(5) == 5
