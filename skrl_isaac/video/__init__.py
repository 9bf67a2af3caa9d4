"""Headless video of the embedded tasks: offscreen MuJoCo rendering and mp4 files.

:class:`~skrl_isaac.video.render.OffscreenRenderer` draws a model's state without a display (EGL, OSMesa or a
GLFW window, chosen and reported); :class:`~skrl_isaac.video.recorder.VideoRecorder` turns the states of the
first environments of a task into an mp4 (imageio-ffmpeg), one frame per control step.
"""

from skrl_isaac.video.recorder import VideoRecorder, frames_per_second
from skrl_isaac.video.render import OffscreenRenderer, RenderError, gl_backends
from skrl_isaac.video.schedule import VideoSchedule

__all__ = ["OffscreenRenderer", "RenderError", "VideoRecorder", "VideoSchedule", "frames_per_second", "gl_backends"]
