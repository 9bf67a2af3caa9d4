"""RunningStandardScaler: its standardization always follows the current statistics, however they change,
while the float32 mean/std are converted only when they do."""

from __future__ import annotations

import numpy as np
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


# -- the running statistics against a float64 reference computed from the raw data ----------------
def pooled_reference(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, variance and count of the raw ``data`` (float64, all at once) pooled with the scaler's prior
    (one pseudo-sample of mean 0 and variance 1, which its initial buffers stand for)."""
    n = data.shape[0]
    mean = data.sum(axis=0) / (n + 1)
    m2 = 1.0 + mean**2 + ((data - mean) ** 2).sum(axis=0)  # prior: variance 1 + its offset from the mean
    return mean, m2 / (n + 1), float(n + 1)


def assert_matches_reference(scaler: RunningStandardScaler, data: np.ndarray) -> None:
    mean, variance, count = pooled_reference(data)
    np.testing.assert_allclose(scaler.running_mean.cpu().numpy(), mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scaler.running_variance.cpu().numpy(), variance, rtol=1e-10, atol=1e-12)
    assert scaler.current_count.item() == count


def test_statistics_of_one_batch_match_the_float64_reference(device):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((257, SIZE), generator=gen) * torch.tensor([1.0, 3.0, 0.1, 50.0, 2.0]) + torch.arange(SIZE) * 7
    scaler = RunningStandardScaler(SIZE, device=device)
    scaler.update(x.to(device))
    assert_matches_reference(scaler, x.double().numpy())


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(2, 300), cuts=st.lists(st.integers(1, 299), max_size=6), seed=st.integers(0, 2**31 - 1),
       offset=st.floats(1.0, 1000.0), sign=st.sampled_from([-1.0, 1.0]), scale=st.floats(1e-3, 100.0),
       drift=st.floats(0.0, 10.0))
def test_statistics_over_random_batch_splits_match_the_float64_reference(rows, cuts, seed, offset, sign, scale, drift):
    """The same data fed in random batch splits (the batches' means drift apart, so the cross term
    ``delta^2 * n_a * n_b / n`` of the parallel update matters) gives the all-at-once statistics."""
    gen = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0.0, drift, rows).unsqueeze(1)  # later rows sit elsewhere: batch means differ
    x = (torch.randn((rows, SIZE), generator=gen) * scale + sign * offset + ramp * scale).float()
    bounds = sorted({c for c in cuts if c < rows} | {0, rows})
    scaler = RunningStandardScaler(SIZE, device="cpu")
    for start, stop in zip(bounds, bounds[1:]):
        scaler(x[start:stop], train=True)  # float32 in, as an agent's states
    assert_matches_reference(scaler, x.double().numpy())
