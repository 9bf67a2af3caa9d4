"""Replay an agent's optimization step as a CUDA graph: one launch instead of hundreds of kernels.

On a GPU the PPO update of small MLPs is bound by the host: each of the hundreds of kernels of one
minibatch step (forward, losses, backward, gradient clipping, fused Adam) costs the Python dispatcher
and a launch, which take longer than the GPU needs to run it. :class:`CudaGraphStep` runs a step function
eagerly for a few warm-up calls (on a side stream, as CUDA graph capture requires), then captures it
once into a ``torch.cuda.CUDAGraph`` and from then on copies the new inputs into the captured ones
and replays the graph. The replay launches the captured kernels with the same arguments in the same
order, so it computes what the eager calls would (the agent's tests check parameters after several
updates against eager training).

What the step reads besides its inputs (parameters, gradients, optimizer state, learning-rate tensor,
the memory's tensors, the normalizers' buffers) is read *at the captured addresses*. Everything that
writes those in place (``copy_``, ``load_state_dict`` of a module, the optimizer's own updates,
in-place schedulers) is seen by the next replay; a *new* tensor (``optimizer.load_state_dict``, a
reassigned buffer) is not. So the caller passes ``storage``, a function returning the data pointers
of everything the step reads: when they change, the graphs are dropped, and the step warms up and is
captured again.

Capture needs a step without host synchronization (no ``.item()``, no data-dependent shapes) and an
optimizer that supports capture (fused or capturable Adam). The last warm-up call runs under torch's
sync debug mode (warnings): a step that synchronizes is never captured, a warning says so and it runs
eagerly from then on. A capture that fails for another reason does the same (a failed capture
executes nothing, the step then runs eagerly).
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from typing import Callable, Hashable, Iterator, Sequence

import torch

from skrl_isaac import logger
from skrl_isaac.models.torch.adapter import unwrap

StepFn = Callable[..., tuple[torch.Tensor, ...]]


class CudaGraphStep:
    """Call ``step(*inputs)`` eagerly ``warmup_calls`` times per input shape, then capture it and replay it.

    :param step: the function of one optimization step; it takes device tensors whose *values* change
                 from call to call (e.g. a minibatch's indexes) and returns a tuple of tensors
    :param storage: returns a hashable fingerprint (data pointers) of every other tensor the step reads
                    or writes; a change drops the captured graphs
    :param optimizers: optimizers stepped inside ``step`` (their ``capturable`` flag is set during capture)
    :param warmup_calls: eager calls per input shape before capture (CUDA graphs need warmed-up
                         libraries and allocated optimizer state; PyTorch's docs use 3)
    :param check_every_call: compare ``storage()`` on every call (host time per call, over every tensor of
                             the models and optimizers); with False the caller calls :meth:`check_storage` itself
    :param name: what the step is, for the warning when it cannot be captured (e.g. ``"PPO update step"``)
    :param variant: what else makes the step run other kernels, each value getting its own graph (e.g. the
                    models' train/eval modes: dropout); the grad mode and the inputs' shapes always do

    The returned tensors are copies (the graph's own outputs are overwritten by the next replay).
    :attr:`captures` and :attr:`replays` count what happened; :attr:`enabled` turns False for good
    after a failed capture.
    """

    def __init__(self, step: StepFn, storage: Callable[[], tuple], optimizers: Sequence[torch.optim.Optimizer] = (),
                 warmup_calls: int = 3, check_every_call: bool = True, name: str = "step",
                 variant: Callable[[], Hashable] | None = None) -> None:
        if warmup_calls < 1:
            raise ValueError(f"warmup_calls must be >= 1 (capture needs warmed-up state), got {warmup_calls}")
        self.step = step
        self.storage = storage
        self.optimizers = list(optimizers)
        self.warmup_calls = int(warmup_calls)
        self.check_every_call = check_every_call
        self.name = name
        self.variant = variant
        self.enabled = True
        self.captures = 0
        self.replays = 0
        self._fingerprint: tuple | None = None
        self._warm: dict[tuple, int] = {}
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor], tuple[torch.Tensor, ...]]] = {}
        self._side_stream: torch.cuda.Stream | None = None

    def reset(self) -> None:
        """Drop the captured graphs (and their memory pools); the next calls warm up and capture again."""
        self._graphs.clear()
        self._warm.clear()

    def check_storage(self) -> None:
        """Drop the graphs if a tensor the step reads was replaced since the last check (every call does
        this unless built with ``check_every_call=False``; the caller then calls it at its own points)."""
        fingerprint = self.storage()
        if fingerprint != self._fingerprint:
            self.reset()
            self._fingerprint = fingerprint

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not self.enabled:
            return self.step(*inputs)
        if self.check_every_call:
            self.check_storage()
        shapes = (torch.is_grad_enabled(), self.variant() if self.variant is not None else None) \
            + tuple((tuple(t.shape), t.dtype, t.device) for t in inputs)
        entry = self._graphs.get(shapes)
        if entry is None:
            calls = self._warm.get(shapes, 0)
            if calls < self.warmup_calls:
                self._warm[shapes] = calls + 1
                if calls + 1 < self.warmup_calls:
                    outputs = self._on_side_stream(inputs)
                else:
                    with _host_syncs() as syncs:  # the last warm-up: would capture fail?
                        outputs = self._on_side_stream(inputs)
                    if syncs:
                        self._disable(f"the step synchronizes with the host ({syncs[0]})")
                # a first step creates the optimizer's state: that is no reason to warm up again
                self._fingerprint = self.storage()
                return outputs
            entry = self._capture(shapes, inputs)
            if entry is None:
                return self.step(*inputs)
        graph, static_inputs, outputs = entry
        for static, value in zip(static_inputs, inputs):
            static.copy_(value)
        graph.replay()
        self.replays += 1
        return tuple(output.clone() for output in outputs)

    def _on_side_stream(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """An eager warm-up call on a side stream (where libraries and autograd set up what capture reuses)."""
        device = inputs[0].device if inputs else torch.device("cuda", torch.cuda.current_device())
        if self._side_stream is None:
            self._side_stream = torch.cuda.Stream(device)
        side, current = self._side_stream, torch.cuda.current_stream(device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            outputs = self.step(*inputs)
        current.wait_stream(side)
        return outputs

    def _disable(self, reason: str) -> None:
        self.enabled = False
        self.reset()
        logger.warning(f"CUDA graph of the {self.name}: {reason}; running it eagerly from now on. A step captured in "
                       "a graph must not read values back to the host (.item(), .tolist(), data-dependent shapes); "
                       "set the agent's cfg['cuda_graph'] = False to skip the attempt")

    def _capture(self, shapes: tuple, inputs: Sequence[torch.Tensor]):
        static_inputs = [t.clone() for t in inputs]
        graph = torch.cuda.CUDAGraph()
        try:
            # capture synchronizes the device once (by design, not per step): exempt from sync debugging
            with _sync_debug_mode(0), _capturable(self.optimizers), \
                    torch.cuda.graph(graph, stream=self._side_stream, capture_error_mode="thread_local"):
                outputs = self.step(*static_inputs)
        except Exception as error:  # noqa: BLE001 - any capture failure falls back to eager steps
            self._disable(f"capturing raised {type(error).__name__}: {error}")
            return None
        if not isinstance(outputs, tuple) or not all(isinstance(o, torch.Tensor) for o in outputs):
            self._disable(f"the step returned {type(outputs).__name__} "
                          f"{[type(o).__name__ for o in outputs] if isinstance(outputs, tuple) else ''}, "
                          "not a tuple of tensors")
            return None
        self.captures += 1
        sizes = ", ".join("x".join(map(str, t.shape)) or "scalar" for t in static_inputs)
        logger.info(f"{self.name}: captured as a CUDA graph (inputs {sizes}), replayed from now on")
        torch.cuda.current_stream(static_inputs[0].device if static_inputs else None).wait_stream(self._side_stream)
        entry = (graph, static_inputs, outputs)
        self._graphs[shapes] = entry
        return entry


@contextlib.contextmanager
def _capturable(optimizers: Sequence[torch.optim.Optimizer]) -> Iterator[None]:
    """Mark the optimizers' groups capturable while capturing (their step checks it), then restore the
    flag so checkpoints keep the optimizer's own settings."""
    saved = [[group.get("capturable", False) for group in opt.param_groups] for opt in optimizers]
    for opt in optimizers:
        for group in opt.param_groups:
            group["capturable"] = True
    try:
        yield
    finally:
        for opt, flags in zip(optimizers, saved):
            for group, flag in zip(opt.param_groups, flags):
                group["capturable"] = flag


_SYNC_WARNING = "called a synchronizing CUDA operation"  # torch's sync debug mode (c10/cuda/CUDAFunctions.cpp)


@contextlib.contextmanager
def _host_syncs() -> Iterator[list[str]]:
    """Collect the host synchronizations torch's sync debug mode reports in this block (as warnings, so
    the block runs to its end); yields the list of their messages."""
    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _sync_debug_mode("warn"):
            yield found
    found += [str(w.message) for w in caught if _SYNC_WARNING in str(w.message)]
    for w in caught:  # the other warnings go on as usual
        if _SYNC_WARNING not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


@contextlib.contextmanager
def _sync_debug_mode(mode: int | str) -> Iterator[None]:
    """torch's CUDA sync debug mode set to ``mode`` in this block (0: off, ``"warn"``), then restored."""
    saved = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(saved)


def tensor_fingerprint(*groups: object) -> tuple:
    """Data pointers (and shapes) of every tensor in ``groups``: tensors, modules (parameters and buffers),
    optimizers (state and tensor hyperparameters), dicts/lists of those. Used as a :class:`CudaGraphStep`
    ``storage`` fingerprint."""
    keys: list = []

    def visit(obj: object) -> None:
        obj = unwrap(obj)  # a skrl mixin model's adapter: the user's module
        if isinstance(obj, torch.Tensor):
            keys.append((obj.data_ptr(), tuple(obj.shape)))
        elif isinstance(obj, torch.nn.Module):
            for tensor in itertools.chain(obj.parameters(), obj.buffers()):
                visit(tensor)
        elif isinstance(obj, torch.optim.Optimizer):
            for group in obj.param_groups:
                visit(group["params"])
                visit([v for k, v in group.items() if k != "params" and isinstance(v, torch.Tensor)])
            for state in obj.state.values():
                visit(list(state.values()))
        elif isinstance(obj, dict):
            for value in obj.values():
                visit(value)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                visit(value)

    for group in groups:
        visit(group)
    return tuple(keys)
