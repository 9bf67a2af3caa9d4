"""mp4 videos of a task's first environments (or of its own rendering), one frame per control step."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from skrl_isaac.video.frames import frame_source, frames_per_second


class VideoRecorder:
    """Records the first ``num_envs`` environments of ``task`` into mp4 files.

    :param task: an embedded task (or a wrapper around one) with ``model``, ``dt`` and ``render_qpos(count)``,
        drawn offscreen by MuJoCo; or a task that renders itself (``render(mode="rgb_array")``, e.g. an
        IsaacGymEnvs task with its virtual screen capture)
    :param width: frame width in pixels (of one environment's tile)
    :param height: frame height in pixels
    :param num_envs: environments shown, tiled in a grid (1: env 0 alone; embedded tasks only)

    Call :meth:`start` with the file to write, :meth:`capture` after each step (for an embedded task it reads
    the positions of ``num_envs`` environments: one small device-to-host copy per frame), then :meth:`finish`.
    """

    def __init__(self, task: Any, width: int = 640, height: int = 480, num_envs: int = 1) -> None:
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise ImportError('video needs imageio and imageio-ffmpeg: pip install -e ".[video]"') from None
        self.source = frame_source(task, width, height, num_envs)
        self.task = self.source.task
        self.num_envs = int(num_envs)
        self.fps = frames_per_second(self.task)
        self._frames: list[np.ndarray] = []
        self._path: str | None = None
        self._writer: ThreadPoolExecutor | None = None  # one thread: videos encoded in order, off the caller's thread
        self._pending: list[Future] = []

    @property
    def recording(self) -> bool:
        return self._path is not None

    def start(self, path: str) -> None:
        """Begin a video that :meth:`finish` writes to ``path``."""
        self._path, self._frames = path, []

    def capture(self) -> None:
        """Add the current state of the recorded environments as one frame."""
        self._frames.append(self.source.capture())

    def finish(self, on_written: Callable[[str], None] | None = None, wait: bool = True) -> str | None:
        """Write the frames captured since :meth:`start` (atomically) and return the path (None without frames).

        ``wait=False`` encodes on a background thread (training goes on meanwhile) and calls ``on_written(path)``
        there once the file is complete; :meth:`close` waits for those writes and raises the first error.
        """
        path, frames = self._path, self._frames
        self._path, self._frames = None, []
        if path is None or not frames:
            return None
        if wait:
            write_mp4(path, frames, self.fps)
            if on_written is not None:
                on_written(path)
            return path

        def write() -> None:
            write_mp4(path, frames, self.fps)
            if on_written is not None:
                on_written(path)

        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video")
        self._pending = [f for f in self._pending if not f.done() or f.exception() is not None]
        self._pending.append(self._writer.submit(write))
        return path

    def close(self) -> None:
        """Write the video in progress, wait for the background writes (raising the first error), free the renderer."""
        self.finish()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        self.source.close()
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()


def write_mp4(path: str, frames: list[np.ndarray], fps: float) -> None:
    """Encode ``frames`` (uint8 ``(H, W, 3)``) as an H.264 mp4 at ``fps``, written atomically."""
    import imageio.v3 as iio

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp.mp4")
    try:
        # macro_block_size 1: the frame size as it is (no resize to a multiple of 16)
        iio.imwrite(tmp, np.stack(frames), plugin="FFMPEG", fps=fps, codec="libx264", macro_block_size=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
