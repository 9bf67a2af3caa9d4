"""Exploration noises: shapes, device, statistics, Ornstein-Uhlenbeck dynamics."""

from __future__ import annotations

import pytest
import torch

from skrl_isaac.resources.noises.torch import GaussianNoise, Noise, OrnsteinUhlenbeckNoise


def test_gaussian_noise_shape_device_and_statistics(device):
    torch.manual_seed(0)
    noise = GaussianNoise(mean=0.5, std=0.2, device=device)
    sample = noise.sample((20000, 3))
    assert sample.shape == (20000, 3) and sample.device.type == torch.device(device).type
    assert abs(float(sample.mean()) - 0.5) < 0.01
    assert abs(float(sample.std()) - 0.2) < 0.01
    like = noise.sample_like(torch.zeros((7, 2), device=device))
    assert like.shape == (7, 2) and like.device == sample.device


def test_gaussian_noise_rejects_non_positive_std():
    with pytest.raises(ValueError, match="std must be > 0"):
        GaussianNoise(0, 0, device="cpu")


def test_ornstein_uhlenbeck_follows_its_recursion(device):
    noise = OrnsteinUhlenbeckNoise(theta=0.15, sigma=0.2, base_scale=0.5, mean=0.0, std=1.0, device=device)
    torch.manual_seed(1)
    samples = [noise.sample((4, 2)) for _ in range(3)]
    torch.manual_seed(1)
    state = torch.zeros((4, 2), device=device)
    for sample in samples:
        state = state - 0.15 * state + 0.2 * torch.randn((4, 2), device=device)
        torch.testing.assert_close(sample, 0.5 * state)


def test_ornstein_uhlenbeck_is_correlated_and_restarts_on_new_shape(device):
    torch.manual_seed(0)
    noise = OrnsteinUhlenbeckNoise(theta=0.05, sigma=0.1, base_scale=1.0, device=device)
    xs = torch.stack([noise.sample((1000,)) for _ in range(50)])
    lag1 = torch.corrcoef(torch.stack((xs[10:-1].flatten(), xs[11:].flatten())))[0, 1]
    assert float(lag1) > 0.8  # consecutive samples are strongly correlated, unlike white noise
    first = noise.sample_like(torch.zeros(3, device=device))  # new shape: the process restarts at 0
    assert first.shape == (3,) and float(first.abs().max()) < 1.0


def test_noise_base_is_abstract():
    with pytest.raises(NotImplementedError):
        Noise("cpu").sample((1,))
