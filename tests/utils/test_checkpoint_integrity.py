"""verify_checkpoint_file: every damaged, cut or foreign checkpoint is one line naming the file; good ones pass."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
import torch

from skrl_isaac.utils.files import atomic_torch_save
from skrl_isaac.utils.integrity import IntegrityError, tensors_digest, verify_checkpoint_file

PATTERN = torch.arange(4096, dtype=torch.float32) * 0.25 + 1.0


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "2500_policy.pt"
    atomic_torch_save({"net.weight": PATTERN.clone(), "net.bias": torch.zeros(3)}, path)
    return path


def one_line(exc: IntegrityError, path) -> str:
    text = str(exc)
    assert "\n" not in text and str(path) in text
    assert "weights_only" not in text and "inline_container" not in text and "PytorchStreamReader" not in text
    return text


def test_a_good_checkpoint_verifies_and_loads(checkpoint):
    assert verify_checkpoint_file(checkpoint) == "verified"
    assert torch.equal(torch.load(checkpoint, weights_only=True)["net.weight"], PATTERN)


def test_a_checkpoint_saved_by_plain_torch_save_verifies(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"w": torch.ones(5)}, path)  # as files written before this check existed
    assert verify_checkpoint_file(path) == "verified"


def test_a_legacy_format_file_is_passed_as_not_verified(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(5)}, path, _use_new_zipfile_serialization=False)
    assert verify_checkpoint_file(path).startswith("not verified")


def test_flipped_bytes_inside_a_tensor_name_the_member(checkpoint):
    data = bytearray(checkpoint.read_bytes())
    at = data.find(PATTERN.numpy().tobytes()[:64])
    assert at > 0
    for i in range(8):  # 8 flipped bytes inside the weight tensor
        data[at + 100 + i] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    # torch itself does not notice: the damage would load as weights
    assert not torch.equal(torch.load(checkpoint, weights_only=True)["net.weight"], PATTERN)
    with pytest.raises(IntegrityError) as e:
        verify_checkpoint_file(checkpoint)
    text = one_line(e.value, checkpoint)
    assert "CRC-32" in text and e.value.member is not None and "/data/" in e.value.member
    assert repr(e.value.member) in text


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.999])
def test_a_truncated_checkpoint_is_cut_short(checkpoint, keep):
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(IntegrityError) as e:
        verify_checkpoint_file(checkpoint)
    assert "cut short" in one_line(e.value, checkpoint)


def test_a_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("step,env,obs.0\n0,0,1.5\n")
    with pytest.raises(IntegrityError) as e:
        verify_checkpoint_file(path)
    assert "not a PyTorch checkpoint: it is a text file" in one_line(e.value, path)


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(IntegrityError) as e:
        verify_checkpoint_file(path)
    assert "not a PyTorch checkpoint: it is binary data of another kind" in one_line(e.value, path)


def test_an_empty_file_is_empty(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(IntegrityError) as e:
        verify_checkpoint_file(path)
    assert "empty (0 bytes)" in one_line(e.value, path)


def test_a_zip_that_is_not_a_torch_file(tmp_path):
    path = tmp_path / "other.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(IntegrityError) as e:
        verify_checkpoint_file(path)
    assert "no data.pkl" in one_line(e.value, path)


def test_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no PyTorch checkpoint file at"):
        verify_checkpoint_file(tmp_path / "nope.pt")


def test_the_digest_sees_values_shapes_dtypes_names_and_order():
    a, b = np.arange(6, dtype=np.float32).reshape(1, 2, 3), np.zeros((1, 2, 1), dtype=bool)
    base = tensors_digest([("obs", a), ("done", b)])
    assert base == tensors_digest([("obs", a.copy()), ("done", b.copy())])
    changed = a.copy()
    changed.reshape(-1).view(np.uint8)[5] ^= 1
    others = [tensors_digest([("obs", changed), ("done", b)]),
              tensors_digest([("obs", a.reshape(1, 3, 2)), ("done", b)]),
              tensors_digest([("obs", a.astype(np.float64)), ("done", b)]),
              tensors_digest([("obs2", a), ("done", b)]),
              tensors_digest([("done", b), ("obs", a)])]
    assert len({base, *others}) == 6
