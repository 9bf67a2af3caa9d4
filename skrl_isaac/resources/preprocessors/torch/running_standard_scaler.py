"""Running standard scaler: normalizes inputs with running mean/variance kept as module buffers."""

from __future__ import annotations

from typing import Any

import torch

from skrl_isaac.utils import distributed
from skrl_isaac.utils.compiling import compiling
from skrl_isaac.utils.spaces import flatten_size


class RunningStandardScaler(torch.nn.Module):
    """Standardize inputs with running statistics (parallel Welford update over each batch).

    Under torchrun (an initialized process group) each update merges the batches of every rank
    (:func:`~skrl_isaac.utils.distributed.merge_moments`, one device collective), so the statistics stay
    identical on every rank.

    The statistics are buffers (``running_mean``, ``running_variance``, ``current_count``), so they
    ride in ``state_dict`` and in checkpoints.

    :param size: input size, or a space whose flattened size is used
    :param epsilon: small value that avoids division by zero
    :param clip_threshold: clip the standardized values to ``[-clip_threshold, clip_threshold]``
    :param device: device of the buffers
    """

    def __init__(self, size: Any, epsilon: float = 1e-8, clip_threshold: float = 5.0,
                 device: str | torch.device | None = None) -> None:
        super().__init__()
        self.epsilon = float(epsilon)
        self.clip_threshold = float(clip_threshold)
        size = flatten_size(size)
        device = torch.device("cuda:0" if device is None and torch.cuda.is_available() else (device or "cpu"))
        self.register_buffer("running_mean", torch.zeros(size, dtype=torch.float64, device=device))
        self.register_buffer("running_variance", torch.ones(size, dtype=torch.float64, device=device))
        self.register_buffer("current_count", torch.ones((), dtype=torch.float64, device=device))
        self._moments: tuple[Any, torch.Tensor, torch.Tensor] | None = None  # see _mean_std

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold the batch ``x`` (``(..., size)``) into the running statistics, on the device."""
        x = x.reshape(-1, self.running_mean.shape[0]).to(torch.float64)
        batch_var, batch_mean = torch.var_mean(x, dim=0, correction=0)
        batch_count = x.shape[0]
        if distributed.is_initialized():  # the batch of every rank (under torchrun): the ranks stay identical
            count, batch_mean, m2 = distributed.merge_moments(torch.tensor(float(batch_count), dtype=torch.float64,
                                                                           device=x.device),
                                                              batch_mean, batch_var * batch_count)
            batch_count, batch_var = count, m2 / count
        delta = batch_mean - self.running_mean
        total = self.current_count + batch_count
        m2 = (self.running_variance * self.current_count + batch_var * batch_count
              + delta.square() * self.current_count * batch_count / total)
        self.running_mean.add_(delta * batch_count / total)
        self.running_variance.copy_(m2 / total)
        self.current_count.copy_(total)

    def forward(self, x: torch.Tensor, train: bool = False, inverse: bool = False, no_grad: bool = True) -> torch.Tensor:
        """Standardize ``x`` (or undo it with ``inverse=True``); with ``train=True`` update the statistics first."""
        if train:
            self.update(x)
        with torch.set_grad_enabled(not no_grad and torch.is_grad_enabled()):
            mean, std = self._mean_std(x.dtype)
            if inverse:
                return torch.clamp(x, -self.clip_threshold, self.clip_threshold) * std + mean
            return torch.clamp((x - mean) / std, -self.clip_threshold, self.clip_threshold)

    def _mean_std(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean and ``sqrt(variance + epsilon)`` in ``dtype``, converted from the float64 statistics
        only when those changed since the last call.

        Between two updates PPO standardizes every step's states (and the update's minibatches) with the
        same statistics; converting them each time is 4 kernels per call, which a GPU pays in launches.
        A change is any in-place write to ``running_mean``/``running_variance`` (``update``,
        ``load_state_dict``, a user's ``copy_``: each bumps the tensor's version counter) or a new tensor
        (``.to(device)``, a reassigned buffer, ``.data =``). Traced, compiled or CUDA-graph-captured code (the
        policy export, ``torch.compile``, PPO's CUDA graphs) and inference tensors always convert: their
        kernels must read the statistics themselves, not a cached copy that a later change replaces.
        """
        mean, variance = self.running_mean, self.running_variance
        key = None
        if not (torch.jit.is_tracing() or compiling() or mean.is_inference() or variance.is_inference()
                or (mean.is_cuda and torch.cuda.is_current_stream_capturing())):
            key = (dtype, self.epsilon, id(mean), mean.data_ptr(), mean._version,
                   id(variance), variance.data_ptr(), variance._version)
            if self._moments is not None and self._moments[0] == key:
                return self._moments[1], self._moments[2]
        mean, std = mean.to(dtype), torch.sqrt(variance.to(dtype) + self.epsilon)  # (buffers: no autograd graph)
        if key is not None:
            self._moments = (key, mean, std)
        return mean, std
