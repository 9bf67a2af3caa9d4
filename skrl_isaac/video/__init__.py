"""Headless video: offscreen MuJoCo rendering of the embedded tasks, a task's own rendering otherwise, mp4 files.

:class:`~skrl_isaac.video.render.OffscreenRenderer` draws a model's state without a display (EGL, OSMesa or a
GLFW window, chosen and reported); :func:`~skrl_isaac.video.frames.frame_source` picks it, or the task's own
``render(mode="rgb_array")`` (IsaacGymEnvs' virtual screen); :class:`~skrl_isaac.video.recorder.VideoRecorder`
turns the frames into an mp4 (imageio-ffmpeg), one frame per control step.
"""

from skrl_isaac.video.frames import frame_source, frames_per_second
from skrl_isaac.video.recorder import VideoRecorder
from skrl_isaac.video.render import OffscreenRenderer, RenderError, gl_backends
from skrl_isaac.video.schedule import VideoSchedule

__all__ = ["OffscreenRenderer", "RenderError", "VideoRecorder", "VideoSchedule", "frame_source", "frames_per_second", "gl_backends"]
