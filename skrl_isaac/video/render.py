"""Offscreen rendering of a MuJoCo model's states, without a display.

The OpenGL backend is chosen when the first renderer is made: ``MUJOCO_GL`` when it is set, else a GLFW
window when ``DISPLAY`` is set, else EGL, then OSMesa (software rendering works with either on a machine
without a GPU). The choice is logged once; when none works, :class:`RenderError` names the system packages
to install.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import mujoco
import numpy as np

logger = logging.getLogger("skrl_isaac")

_INSTALL_HINT = ("install an OpenGL library for offscreen rendering, e.g. on Debian/Ubuntu "
                 "`apt-get install libegl1 libgl1-mesa-dri` (EGL) or `apt-get install libosmesa6` (OSMesa), "
                 "or set MUJOCO_GL to a backend that works here")
_context_class: Any = None
_backend: str | None = None


class RenderError(RuntimeError):
    """No OpenGL backend could render offscreen; the message says what was tried and what to install."""


def gl_backends() -> list[str]:
    """The backends to try, in order: ``MUJOCO_GL`` alone when set, else glfw (with a ``DISPLAY``), egl, osmesa."""
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen:
        return [chosen]
    return (["glfw"] if os.environ.get("DISPLAY") else []) + ["egl", "osmesa"]


def _import_context(backend: str) -> Any:
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    elif backend in ("glfw", "glx"):
        from mujoco.glfw import GLContext
    else:
        raise ImportError(f"unknown backend {backend!r} (valid: egl, osmesa, glfw)")
    return GLContext


def _make_context(width: int, height: int) -> Any:
    """A current GL context of the first backend that works (remembered for the next renderers)."""
    global _context_class, _backend
    if _context_class is not None:
        context = _context_class(width, height)
        context.make_current()
        return context
    failures = []
    for backend in gl_backends():
        try:
            cls = _import_context(backend)
            context = cls(width, height)
            context.make_current()
        except Exception as e:  # noqa: BLE001 (each backend fails in its own way: ImportError, OSError, GL errors)
            failures.append(f"{backend}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            continue
        _context_class, _backend = cls, backend
        logger.info("offscreen rendering with MuJoCo's %s OpenGL backend", backend)
        return context
    raise RenderError(f"no OpenGL backend could render offscreen (tried {'; '.join(failures)}): {_INSTALL_HINT}")


def rendering_backend() -> str | None:
    """The OpenGL backend in use (None before the first renderer)."""
    return _backend


class OffscreenRenderer:
    """Renders ``(width, height)`` RGB frames of ``model`` with a camera that follows one body.

    :param model: the MuJoCo model (its offscreen buffer is enlarged on a copy when too small)
    :param width: frame width in pixels
    :param height: frame height in pixels
    :param track_body: the body the camera follows (default: the first body after the world, the robot's root)
    """

    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480, track_body: int = 1) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"the frame size must be positive, got {width}x{height}")
        if model.vis.global_.offwidth < width or model.vis.global_.offheight < height:
            model = _copy_model(model)
            model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
            model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        self.model, self.width, self.height = model, int(width), int(height)
        self._context = _make_context(self.width, self.height)
        self._data = mujoco.MjData(model)
        self._scene = mujoco.MjvScene(model, maxgeom=10000)
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        self._camera.trackbodyid = min(track_body, model.nbody - 1)
        self._camera.distance = min(max(3.0 * float(model.stat.extent), 2.0), 5.0)
        self._camera.elevation, self._camera.azimuth = -20.0, 135.0
        self._mjr = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._mjr)
        self._viewport = mujoco.MjrRect(0, 0, self.width, self.height)
        self._pixels = np.empty((self.height, self.width, 3), dtype=np.uint8)

    @property
    def backend(self) -> str | None:
        return _backend

    def render(self, qpos: np.ndarray) -> np.ndarray:
        """One ``(height, width, 3)`` uint8 frame of the state ``qpos`` (positions only: kinematics, no dynamics)."""
        self._context.make_current()
        self._data.qpos[:] = qpos
        mujoco.mj_kinematics(self.model, self._data)
        mujoco.mj_comPos(self.model, self._data)  # the subtree centres the tracking camera looks at
        mujoco.mj_camlight(self.model, self._data)
        mujoco.mjv_updateScene(self.model, self._data, self._option, None, self._camera,
                               mujoco.mjtCatBit.mjCAT_ALL, self._scene)
        mujoco.mjr_render(self._viewport, self._scene, self._mjr)
        mujoco.mjr_readPixels(self._pixels, None, self._viewport, self._mjr)
        return np.flipud(self._pixels).copy()

    def render_grid(self, qpos_rows: np.ndarray) -> np.ndarray:
        """The frames of several states tiled in a near-square grid (black tiles fill the last row)."""
        tiles = [self.render(row) for row in qpos_rows]
        columns = math.ceil(math.sqrt(len(tiles)))
        rows = math.ceil(len(tiles) / columns)
        tiles += [np.zeros_like(tiles[0])] * (rows * columns - len(tiles))
        return np.concatenate([np.concatenate(tiles[r * columns:(r + 1) * columns], axis=1) for r in range(rows)], axis=0)

    def close(self) -> None:
        """Free the GL resources, in this renderer's own context (freed in another renderer's current context,
        they would delete that renderer's textures and buffers)."""
        context = getattr(self, "_context", None)
        if context is not None:
            self._context = None
            context.make_current()
            self._mjr.free()
            context.free()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 (interpreter shutdown: GL may be gone already)
            pass


def _copy_model(model: mujoco.MjModel) -> mujoco.MjModel:
    import copy

    return copy.copy(model)
