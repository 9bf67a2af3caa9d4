"""When to record: ``video_length`` steps every ``video_interval`` timesteps of a run."""

from __future__ import annotations

import os
from typing import Callable

from skrl_isaac.video.recorder import VideoRecorder


class VideoSchedule:
    """Records ``length`` steps starting at every multiple of ``interval`` timesteps into ``<folder>/<prefix><t>.mp4``.

    :param recorder: the recorder of the environments to show
    :param folder: the videos' folder (e.g. ``runs/<experiment>/videos``)
    :param interval: timesteps from the start of one video to the start of the next (>= 1)
    :param length: steps per video (>= 1)
    :param prefix: the file names' prefix (``"play_"`` in play mode)
    :param on_video: called with each written file's path and its first timestep (e.g. a tracker's upload)
    :param file_name: the file name of the video starting at a timestep (default ``<prefix><timestep>.mp4``)

    Call :meth:`step` after every environment step with the timestep that step was (0-based); a video in
    progress at the end of the run is written by :meth:`close`.
    """

    def __init__(self, recorder: VideoRecorder, folder: str, interval: int, length: int, prefix: str = "",
                 on_video: Callable[[str, int], None] | None = None,
                 file_name: Callable[[int], str] | None = None) -> None:
        if interval < 1:
            raise ValueError(f"video_interval={interval} is not valid: expected an integer >= 1")
        if length < 1:
            raise ValueError(f"video_length={length} is not valid: expected an integer >= 1")
        self.recorder, self.folder, self.interval, self.length = recorder, folder, int(interval), int(length)
        self.on_video = on_video
        self.file_name = file_name or (lambda timestep: f"{prefix}{timestep}.mp4")
        self.written: list[str] = []
        self._start: int | None = None

    def step(self, timestep: int) -> None:
        """Record the state after the step ``timestep`` when a video is due or in progress."""
        if self._start is None and timestep % self.interval == 0:
            self._start = timestep
            self.recorder.start(os.path.join(self.folder, self.file_name(timestep)))
        if self._start is None:
            return
        self.recorder.capture()
        if timestep - self._start + 1 >= self.length:
            self._finish()

    def _finish(self) -> None:
        start, self._start = int(self._start or 0), None

        def written(path: str) -> None:  # on the recorder's writer thread, once the file is complete
            self.written.append(path)
            if self.on_video is not None:
                self.on_video(path, start)

        self.recorder.finish(on_written=written, wait=False)  # the encoding runs beside training

    def close(self) -> None:
        """Write the video in progress (if any) and free the renderer."""
        if self._start is not None:
            self._finish()
        self.recorder.close()
