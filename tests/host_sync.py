"""A complete CPU stand-in for ``torch.cuda.set_sync_debug_mode("error")``: every way Python code or a
torch operator can read tensor data back to the host raises inside the guarded region.

Three layers, because a host read can enter torch at three levels:

* Python methods of ``torch.Tensor`` that hand data to Python or numpy (``item``, ``tolist``, ``numpy``,
  ``cpu``, ``__bool__``, ``__float__``, ``__int__``, ``__index__``, ``__array__``, ``__repr__``, ``__str__``,
  ``__format__``) are replaced by raisers;
* a ``TorchFunctionMode`` sees the device moves: ``.to(...)`` towards the CPU and ``.copy_`` from another
  device into a CPU tensor. On a CPU-only run the agent's device *is* the CPU, so a ``.to(cpu)`` cannot
  be told from a real device-to-host copy by its effect. The guard tells them apart by what the code
  asked for: a move to a device the calling object was configured with (the very ``torch.device``
  object held by one of its attributes, e.g. ``self.device`` of a wrapper or ``self._host`` of a
  simulator that stages on the host by design) is allowed; a move spelled as the host (``"cpu"``,
  ``torch.device("cpu")``, another tensor's device) is a read-back on an accelerator, and raises;
* a ``TorchDispatchMode`` sees the operators whose result depends on the data on the host: the scalar
  read every ``bool(t)``/``float(t)``/``int(t)`` ends in (``aten._local_scalar_dense``), ``nonzero``,
  ``masked_select``, boolean-mask indexing and assignment, ``unique``, ``equal``, ``allclose`` and the
  other operators with data-dependent output shapes.

Use ``HostSyncGuard()`` as a context manager; ``allow(obj, name)`` wraps ``obj.name`` so that calls
inside it may read back (the once-per-interval writers). A violation raises ``AssertionError`` at the
call and is also appended to ``violations`` (so a caller that swallows exceptions still fails the test).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any, Callable

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

#: Tensor methods through which Python code reads values back to the host
PYTHON_READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__", "__array__",
                "__repr__", "__str__", "__format__")

_aten = torch.ops.aten
#: operators that read data on the host (a scalar, or an output shape that depends on the values)
DATA_DEPENDENT_OPS = {
    _aten._local_scalar_dense.default, _aten.is_nonzero.default, _aten.equal.default,
    _aten.nonzero.default, _aten.nonzero.out, _aten.argwhere.default, _aten.masked_select.default,
    _aten.masked_select.out, _aten.unique_dim.default, _aten._unique.default, _aten._unique2.default,
    _aten.unique_consecutive.default, _aten.unique_dim_consecutive.default, _aten.allclose.default,
    _aten.repeat_interleave.Tensor, _aten.bincount.default, _aten.histc.default,
}
_BOOL_DTYPES = (torch.bool, torch.uint8)


def _has_mask(indices: Any) -> bool:
    return any(isinstance(i, torch.Tensor) and i.dtype in _BOOL_DTYPES for i in (indices or ()))


def _target_device(args: tuple, kwargs: dict) -> torch.device | None:
    """The device a ``Tensor.to(...)`` call moves to (None: a dtype-only or same-device call)."""
    if "device" in kwargs and kwargs["device"] is not None:
        return torch.device(kwargs["device"])
    for a in args:
        if isinstance(a, (str, torch.device)):
            return torch.device(a)
        if isinstance(a, int) and not isinstance(a, bool):
            return torch.device("cuda", a)
        if isinstance(a, torch.Tensor):
            return a.device
    return None


_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep


def _user_frame():
    """The innermost frame outside torch and this module (the code that made the call)."""
    frame = sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename == __file__
                                 or frame.f_code.co_filename.startswith(_TORCH_DIR)):
        frame = frame.f_back
    return frame


def _called_from_torch() -> bool:
    """Whether the innermost frame outside this module is torch's own code (e.g. ``clip_grad_norm_``
    moving per-parameter norms to the first parameter's device: a no-op when everything is on the CPU)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(_TORCH_DIR)


def _configured_device(raw: Any) -> bool:
    """Whether ``raw`` (a ``.to`` argument) is a ``torch.device`` the calling object holds as an attribute."""
    if not isinstance(raw, torch.device):
        return False
    frame = _user_frame()
    owner = frame.f_locals.get("self") if frame is not None else None
    if owner is None:
        return False
    held = list(getattr(owner, "__dict__", {}).values())
    try:
        held.append(getattr(owner, "device", None))
    except Exception:  # a property that fails: nothing configured
        pass
    return any(value is raw for value in held)


def _raw_device(args: tuple, kwargs: dict) -> Any:
    if kwargs.get("device") is not None:
        return kwargs["device"]
    return next((a for a in args if isinstance(a, (str, torch.device, torch.Tensor))
                 or (isinstance(a, int) and not isinstance(a, bool))), None)


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()[:-3]):
        if frame.filename != __file__ and not frame.filename.startswith(_TORCH_DIR):
            return f"{frame.filename}:{frame.lineno}"
    return "?"


class HostSyncGuard:
    """Raise on every host read inside the ``with`` block, except inside :meth:`allow`-ed methods."""

    def __init__(self) -> None:
        self.allowed = 0
        self.violations: list[str] = []
        self._orig: dict[str, Any] = {}
        self._wrapped: list[tuple[Any, str]] = []
        self._function_mode = _DeviceMoves(self)
        self._dispatch_mode = _DataDependentOps(self)

    # -- reporting ----------------------------------------------------------------------------
    def violation(self, what: str) -> None:
        message = f"host sync: {what} at {_caller()}"
        self.violations.append(message)
        raise AssertionError(message)

    @property
    def active(self) -> bool:
        return self.allowed == 0

    def allow(self, obj: Any, name: str) -> None:
        """Let ``obj.name(...)`` read back to the host (a writer that syncs once per interval by design)."""
        fn = getattr(obj, name)
        guard = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            guard.allowed += 1
            try:
                return fn(*args, **kwargs)
            finally:
                guard.allowed -= 1

        setattr(obj, name, wrapper)
        self._wrapped.append((obj, name))

    # -- context ------------------------------------------------------------------------------
    def __enter__(self) -> "HostSyncGuard":
        guard = self
        for name in PYTHON_READS:
            orig = getattr(torch.Tensor, name)
            self._orig[name] = orig

            def patched(t: torch.Tensor, *args: Any, __orig: Callable = orig, __name: str = name, **kwargs: Any):
                if guard.active:
                    guard.violation(f"Tensor.{__name}")
                return __orig(t, *args, **kwargs)

            setattr(torch.Tensor, name, patched)
        self._function_mode.__enter__()
        self._dispatch_mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> bool:
        self._dispatch_mode.__exit__(*exc)
        self._function_mode.__exit__(*exc)
        for name, orig in self._orig.items():
            setattr(torch.Tensor, name, orig)
        for obj, name in self._wrapped:
            try:
                delattr(obj, name)
            except AttributeError:
                pass
        return False


class _DeviceMoves(TorchFunctionMode):
    """``.to`` towards the CPU and ``.copy_`` from another device into a CPU tensor."""

    def __init__(self, guard: HostSyncGuard) -> None:
        super().__init__()
        self.guard = guard

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.guard.active:
            if func is torch.Tensor.to:
                target = _target_device(args[1:], kwargs)
                if target is not None and target.type == "cpu" and not (args[0].device.type == "cpu" and (
                        _called_from_torch() or _configured_device(_raw_device(args[1:], kwargs)))):
                    self.guard.violation(f"Tensor.to({target}) from {args[0].device}")
            elif func in (torch.Tensor.copy_, torch.Tensor.set_):
                dst, src = args[0], (args[1] if len(args) > 1 else kwargs.get("src"))
                if isinstance(src, torch.Tensor) and dst.device.type == "cpu" and src.device.type != "cpu":
                    self.guard.violation(f"Tensor.{func.__name__} from {src.device} to the CPU")
        return func(*args, **kwargs)


class _DataDependentOps(TorchDispatchMode):
    """Operators that read values on the host (scalars, data-dependent output shapes, boolean masks)."""

    def __init__(self, guard: HostSyncGuard) -> None:
        super().__init__()
        self.guard = guard

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.guard.active:
            if func in DATA_DEPENDENT_OPS:
                self.guard.violation(f"aten.{func.__name__}")
            if func.overloadpacket in (_aten.index, _aten.index_put, _aten.index_put_, _aten._index_put_impl_) \
                    and _has_mask(args[1] if len(args) > 1 else kwargs.get("indices")):
                self.guard.violation(f"boolean-mask indexing (aten.{func.__name__})")
            if func.overloadpacket is _aten.repeat_interleave and kwargs.get("output_size") is None \
                    and len(args) > 1 and isinstance(args[1], torch.Tensor):
                self.guard.violation("aten.repeat_interleave without output_size")
        return func(*args, **kwargs)
