"""A file that is not a checkpoint: the error says what the file is not, never torch's internal message."""

from __future__ import annotations

import pickle

import pytest
import torch

from skrl_isaac.models.torch.base import CheckpointError, load_state_dict_file


def write_truncated(path):
    torch.save({"a": torch.zeros(100)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_text("hello world\nthis is text\n"),
     "a text file, not a torch file (torch.save writes a zip archive)"),
    (lambda p: p.write_bytes(b""), "the file is empty"),
    (write_truncated, "a zip archive that is truncated or corrupt (the end of the file is missing)"),
    (lambda p: p.write_bytes(bytes(range(256))), "not a torch file: neither a zip archive (torch.save's format) "
                                                 "nor a pickle"),
    (lambda p: p.write_bytes(pickle.dumps({"a": 1}, protocol=2)[:5]),
     "a pickle, not torch's zip format with plain tensors (or it is truncated)"),
])
def test_the_error_says_what_the_file_is_not(tmp_path, make, reason):
    path = tmp_path / "x_policy.pt"
    make(path)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_file(path)
    assert str(info.value) == f"{path}: not a readable checkpoint ({reason})"
