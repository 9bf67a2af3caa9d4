"""RandomMemory: allocation, validation, wrap-around and on-device sampling."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

from skrl_isaac.memories.torch import Memory, RandomMemory


def filled_memory(device, size=4, envs=3, replacement=True):
    memory = RandomMemory(memory_size=size, num_envs=envs, device=device, replacement=replacement)
    memory.create_tensor("row", 1, torch.int64)
    memory.create_tensor("states", 2)
    for step in range(size):
        row = torch.arange(envs, device=device) + step * envs  # flattened row index
        memory.add_samples(row=row, states=row.float().unsqueeze(-1).repeat(1, 2))
    return memory


def test_tensors_are_allocated_on_the_device_with_their_shape_and_dtype(device):
    memory = RandomMemory(memory_size=5, num_envs=3, device=device)
    assert isinstance(memory, Memory)
    assert memory.create_tensor("states", gymnasium.spaces.Box(-1, 1, (2, 3)))
    assert memory.create_tensor("actions", 4)
    assert memory.create_tensor("terminated", 1, torch.bool)
    assert memory.create_tensor("action", gymnasium.spaces.Discrete(5), torch.int64)
    assert not memory.create_tensor("actions", 4)  # same again: nothing to do
    shapes = {n: (tuple(t.shape), t.dtype) for n, t in memory.tensors.items()}
    assert shapes == {"states": ((5, 3, 6), torch.float32), "actions": ((5, 3, 4), torch.float32),
                      "terminated": ((5, 3, 1), torch.bool), "action": ((5, 3, 1), torch.int64)}
    for tensor in memory.tensors.values():
        assert tensor.device.type == torch.device(device).type
    assert memory.get_tensor_names() == ("action", "actions", "states", "terminated")
    assert memory.get_tensor_by_name("states", keepdim=False).shape == (15, 6)
    assert memory.get_tensor_by_name("states", keepdim=False).data_ptr() == memory.tensors["states"].data_ptr()
    assert len(memory) == 0 and not memory.filled


@pytest.mark.parametrize("kwargs, match", [
    ({"memory_size": 0}, "memory_size"),
    ({"memory_size": 2.0}, "memory_size"),
    ({"memory_size": True}, "memory_size"),
    ({"memory_size": 2, "num_envs": 0}, "num_envs"),
    ({"memory_size": 2, "export": "yes"}, "export"),
    ({"memory_size": 2, "export_format": "parquet"}, r"'pt', 'np', 'csv'"),
    ({"memory_size": 2, "export_directory": 3}, "export_directory"),
])
def test_constructor_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomMemory(device="cpu", **kwargs)


def test_default_export_directory_is_memory():
    assert RandomMemory(memory_size=2, device="cpu").export_directory == "memory"


def test_create_tensor_and_name_validation():
    memory = RandomMemory(memory_size=2, device="cpu")
    memory.create_tensor("states", 3)
    with pytest.raises(ValueError, match="exists with size 3"):
        memory.create_tensor("states", 4)
    with pytest.raises(ValueError, match="dtype"):
        memory.create_tensor("states", 3, torch.float64)
    with pytest.raises(ValueError, match="size must be >= 1"):
        memory.create_tensor("empty", 0)
    with pytest.raises(KeyError, match="states"):
        memory.get_tensor_by_name("nope")
    with pytest.raises(ValueError, match="at least one tensor"):
        memory.add_samples()


def test_add_samples_wraps_around_and_overwrites_the_oldest_step(device):
    memory = RandomMemory(memory_size=3, num_envs=2, device=device)
    memory.create_tensor("x", 1)
    for step in range(3):
        assert not memory.filled and memory.memory_index == step and len(memory) == step
        memory.add_samples(x=torch.full((2,), float(step), device=device), unknown=torch.zeros(2))
    assert memory.filled and memory.memory_index == 0 and memory.fill_cycles == 1 and len(memory) == 3
    for step in range(3, 8):
        memory.add_samples(x=torch.full((2, 1), float(step), device=device))
    assert memory.fill_cycles == 2 and memory.memory_index == 2 and len(memory) == 3
    assert memory.tensors["x"][:, 0, 0].tolist() == [6.0, 7.0, 5.0]
    memory.reset()
    assert not memory.filled and len(memory) == 0


def test_sample_stays_on_the_device_with_the_asked_shapes(device):
    memory = filled_memory(device)
    batches = memory.sample(["states", "row"], batch_size=8, mini_batches=2)
    assert len(batches) == 2
    for states, row in batches:
        assert states.shape == (4, 2) and row.shape == (4, 1)
        assert states.device.type == torch.device(device).type
        assert torch.equal(states[:, 0].long(), row[:, 0])  # rows stay aligned across tensors
    assert memory.sample(["row"], 5)[0][0].shape == (5, 1)


def test_sample_only_draws_stored_rows(device):
    memory = RandomMemory(memory_size=10, num_envs=2, device=device)
    memory.create_tensor("row", 1, torch.int64)
    for step in range(3):
        memory.add_samples(row=torch.arange(2, device=device) + 2 * step)
    rows = memory.sample(["row"], 500)[0][0]
    assert int(rows.max()) < 6


def test_sample_validation():
    memory = RandomMemory(memory_size=2, device="cpu")
    memory.create_tensor("x", 1)
    with pytest.raises(ValueError, match="empty"):
        memory.sample(["x"], 4)
    memory.add_samples(x=torch.zeros(1))
    with pytest.raises(ValueError, match="batch_size"):
        memory.sample(["x"], 0)
    with pytest.raises(KeyError):
        memory.sample(["nope"], 1)


def test_sampling_without_replacement_draws_distinct_rows(device):
    memory = filled_memory(device, replacement=False)
    rows = memory.sample(["row"], batch_size=12)[0][0].flatten().cpu()
    assert sorted(rows.tolist()) == list(range(12))


@pytest.mark.parametrize("mini_batches", [1, 3, 5, 12])
@pytest.mark.parametrize("shuffle", [True, False])
def test_sample_all_partitions_every_row_exactly_once(device, mini_batches, shuffle):
    memory = filled_memory(device)
    batches = memory.sample_all(["row", "states"], mini_batches=mini_batches, shuffle=shuffle)
    assert len(batches) == mini_batches
    rows = torch.cat([row for row, _ in batches]).flatten().cpu()
    assert sorted(rows.tolist()) == list(range(12))
    if not shuffle:
        assert rows.tolist() == list(range(12))
    for row, states in batches:
        assert row.device.type == torch.device(device).type
        assert torch.equal(states[:, 1].long(), row[:, 0])


def test_sample_all_of_a_partial_memory_and_validation(device):
    memory = RandomMemory(memory_size=5, num_envs=2, device=device)
    memory.create_tensor("row", 1, torch.int64)
    for step in range(2):
        memory.add_samples(row=torch.arange(2, device=device) + 2 * step)
    (rows,), = memory.sample_all(["row"])
    assert sorted(rows.flatten().tolist()) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="mini_batches"):
        memory.sample_all(["row"], mini_batches=5)
    with pytest.raises(ValueError, match="mini_batches"):
        memory.sample_all(["row"], mini_batches=0)


def test_set_tensor_by_name_copies_in_place():
    memory = RandomMemory(memory_size=2, num_envs=2, device="cpu")
    memory.create_tensor("x", 1)
    before = memory.tensors["x"].data_ptr()
    memory.set_tensor_by_name("x", torch.ones(2, 2, 1))
    assert memory.tensors["x"].data_ptr() == before and bool((memory.tensors["x"] == 1).all())
    assert np.array_equal(memory.tensors["x"].numpy(), np.ones((2, 2, 1), np.float32))


def test_close_without_export_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default export directory ("memory") would land here
    memory = RandomMemory(memory_size=2, num_envs=2, device="cpu")
    memory.create_tensor("x", 1)
    for step in range(3):  # one full cycle and one step into the next
        memory.add_samples(x=torch.full((2,), float(step)))
    before = memory.tensors["x"].clone()
    memory.close()
    memory.close()
    assert list(tmp_path.iterdir()) == []  # no file, no folder
    assert torch.equal(memory.tensors["x"], before)
    assert (memory.filled, memory.memory_index, memory.fill_cycles, len(memory)) == (True, 1, 1, 2)
    memory.add_samples(x=torch.full((2,), 9.0))  # still usable after close
    assert memory.tensors["x"][1, :, 0].tolist() == [9.0, 9.0]
