"""MuJoCo's interactive viewer on environment 0 of an embedded task (``headless=False``)."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from skrl_isaac.video.frames import has_mujoco_state, unwrapped


class ViewerError(RuntimeError):
    """The viewer cannot open (no display): the message suggests recording a video instead."""


def display_available() -> bool:
    """Whether a window can open: a ``DISPLAY`` (or ``WAYLAND_DISPLAY``) on Linux; assumed elsewhere."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _probe_display() -> None:
    """Open the X display once (libX11) before the viewer's thread does: that thread would wait forever on a
    display that fails. Nothing to probe without X11 (Wayland, macOS, Windows)."""
    import ctypes
    import ctypes.util

    if not os.environ.get("DISPLAY"):
        return
    name = ctypes.util.find_library("X11")
    if name is None:
        return
    xlib = ctypes.CDLL(name)
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = xlib.XOpenDisplay(None)
    if not handle:
        raise ViewerError(f"headless=False: the display {os.environ['DISPLAY']!r} cannot be opened; on a "
                          "machine without one, record the policy instead with video=True")
    xlib.XCloseDisplay(handle)


class LiveViewer:
    """Shows env 0 of ``task`` in MuJoCo's passive viewer; :meth:`sync` after each step copies its state in.

    :param task: an embedded task (or a wrapper around one)
    :raises ViewerError: without a display
    """

    def __init__(self, task: Any) -> None:
        if not display_available():
            raise ViewerError("headless=False needs a display (DISPLAY is not set); on a machine without one, "
                              "record the policy instead with video=True")
        import mujoco
        import mujoco.viewer

        _probe_display()
        self.task = unwrapped(task)
        if not has_mujoco_state(self.task):
            raise ViewerError(f"the live viewer shows the embedded MuJoCo tasks; {type(self.task).__name__} hands out "
                              "no MuJoCo state")
        self._data = mujoco.MjData(self.task.model)
        self._mujoco = mujoco
        before = set(threading.enumerate())
        self.handle = mujoco.viewer.launch_passive(self.task.model, self._data)
        # the viewer's own thread, joined by close(): left running, it would meet GLFW's exit handler at shutdown
        self._threads = [t for t in threading.enumerate() if t not in before]

    @property
    def running(self) -> bool:
        return self.handle.is_running()

    def sync(self) -> None:
        """Show the current state of env 0 (one small device-to-host copy)."""
        if not self.running:
            return
        with self.handle.lock():
            self._data.qpos[:] = self.task.render_qpos(1)[0]
            self._mujoco.mj_kinematics(self.task.model, self._data)
            self._mujoco.mj_comPos(self.task.model, self._data)
        self.handle.sync()

    def close(self) -> None:
        """Close the window and wait for the viewer's thread to end."""
        self.handle.close()
        for thread in self._threads:
            thread.join(timeout=10.0)
