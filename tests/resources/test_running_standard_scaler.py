"""RunningStandardScaler: its standardization always follows the current statistics, however they change,
while the float32 mean/std are converted only when they do."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DEVICES
from skrl_isaac.resources.preprocessors.torch import RunningStandardScaler

SIZE = 5


def reference(scaler: RunningStandardScaler, x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """The formula, straight from the buffers."""
    mean = scaler.running_mean.to(x.dtype)
    std = torch.sqrt(scaler.running_variance.to(x.dtype) + scaler.epsilon)
    if inverse:
        return torch.clamp(x, -scaler.clip_threshold, scaler.clip_threshold) * std + mean
    return torch.clamp((x - mean) / std, -scaler.clip_threshold, scaler.clip_threshold)


def change(scaler: RunningStandardScaler, how: str, gen: torch.Generator) -> None:
    device = scaler.running_mean.device
    values = torch.randn(SIZE, generator=gen, dtype=torch.float64).to(device)
    if how == "update":
        scaler(torch.randn((7, SIZE), generator=gen).to(device) * 3 + 1, train=True)
    elif how == "load_state_dict":
        other = RunningStandardScaler(SIZE, device=device)
        other.update(torch.randn((9, SIZE), generator=gen).to(device) * 2 - 1)
        scaler.load_state_dict(other.state_dict())
    elif how == "copy_":
        scaler.running_mean.copy_(values)
    elif how == "variance add_":
        scaler.running_variance.add_(values.abs())
    elif how == ".data":
        scaler.running_variance.data = values.abs() + 0.5
    elif how == "reassign":
        scaler.running_mean = values.clone()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["none", "update", "load_state_dict", "copy_", "variance add_", ".data",
                                 "reassign"]), min_size=1, max_size=8),
       st.integers(0, 2**31 - 1), st.sampled_from(DEVICES))
def test_standardization_follows_every_change_of_the_statistics(changes, seed, device):
    gen = torch.Generator().manual_seed(seed)
    scaler = RunningStandardScaler(SIZE, device=device)
    for how in changes:  # float32 throughout, as an agent's states: the cached conversion carries over
        change(scaler, how, gen)
        x = torch.randn((4, SIZE), generator=gen).to(device) * 4
        assert torch.equal(scaler(x), reference(scaler, x))
        assert torch.equal(scaler(x, inverse=True), reference(scaler, x, inverse=True))
    x64 = torch.randn((4, SIZE), generator=gen, dtype=torch.float64).to(device)  # another dtype: converted anew
    assert torch.equal(scaler(x64), reference(scaler, x64))
    assert torch.equal(scaler(x64[:, :].float()), reference(scaler, x64.float()))


def test_the_statistics_are_converted_once_between_changes(device):
    scaler = RunningStandardScaler(SIZE, device=device)
    scaler.update(torch.randn(10, SIZE, device=device))
    x = torch.randn(3, SIZE, device=device)
    scaler(x)
    mean, std = scaler._moments[1], scaler._moments[2]
    scaler(x)
    scaler(x, inverse=True)
    assert scaler._moments[1] is mean and scaler._moments[2] is std  # reused, not converted again
    scaler(x, train=True)
    assert scaler._moments[1] is not mean  # the update changed them


def test_a_traced_scaler_reads_its_buffers_not_a_cached_copy():
    """The policy export traces the scaler: the traced graph must compute from the buffers."""
    scaler = RunningStandardScaler(SIZE, device="cpu")
    x = torch.randn(3, SIZE)
    scaler(x)  # a cached conversion exists before tracing
    traced = torch.jit.trace(scaler, (x,), check_trace=False)
    scaler.running_mean.add_(1.0)
    assert torch.equal(traced(x), reference(scaler, x))


def test_inference_mode_statistics_still_standardize():
    with torch.inference_mode():
        scaler = RunningStandardScaler(SIZE, device="cpu")
        scaler.update(torch.randn(10, SIZE) + 2)
        x = torch.randn(3, SIZE)
        assert torch.equal(scaler(x), reference(scaler, x))


@pytest.mark.parametrize("no_grad", [True, False])
def test_gradients_reach_the_input_only(no_grad):
    scaler = RunningStandardScaler(SIZE, device="cpu")
    scaler.update(torch.randn(10, SIZE))
    x = torch.randn(3, SIZE, requires_grad=True)
    y = scaler(x, no_grad=no_grad)
    assert y.requires_grad is (not no_grad)
    if not no_grad:
        y.sum().backward()
        assert x.grad is not None and scaler.running_mean.grad is None
