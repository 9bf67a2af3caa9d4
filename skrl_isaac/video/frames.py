"""Where a video's frames come from: MuJoCo's offscreen renderer for the embedded suite, or the task's own
``render(mode="rgb_array")`` (IsaacGymEnvs' virtual screen capture) for a task that has no MuJoCo state.

:func:`frame_source` picks one for a task (a wrapper around it is unwrapped); both give ``(height, width, 3)``
uint8 frames through ``capture()``, say where they come from in ``description`` and free what they hold in
``close()``.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np


def frames_per_second(task: Any) -> float:
    """The video frame rate of one frame per control step: ``1 / (dt * controlFrequencyInv)``."""
    return 1.0 / (float(task.dt) * int(getattr(task, "control_freq_inv", 1)))


def unwrapped(task: Any) -> Any:
    """The task under its wrappers (``wrap_env``'s ``_env``)."""
    for _ in range(8):
        inner = getattr(task, "_env", None)
        if inner is None:
            break
        task = inner
    return task


def has_mujoco_state(task: Any) -> bool:
    """Whether ``task`` (unwrapped) hands out its MuJoCo state: ``model`` and ``render_qpos`` (the embedded suite)."""
    return hasattr(task, "render_qpos") and hasattr(task, "model")


class MujocoFrames:
    """The first ``num_envs`` environments of an embedded task drawn offscreen by MuJoCo (tiled in a grid
    when more than one), from their positions (one small device-to-host copy per frame)."""

    def __init__(self, task: Any, width: int, height: int, num_envs: int = 1) -> None:
        from skrl_isaac.video.render import OffscreenRenderer

        if not 1 <= num_envs <= task.num_envs:
            raise ValueError(f"video_envs={num_envs} is not valid: expected 1 to num_envs ({task.num_envs})")
        self.task, self.num_envs = task, int(num_envs)
        self.renderer = OffscreenRenderer(task.model, width, height)

    @property
    def description(self) -> str:
        from skrl_isaac.video.render import rendering_backend

        return f"offscreen rendering with MuJoCo's {rendering_backend()} backend"

    def capture(self) -> np.ndarray:
        qpos = np.asarray(self.task.render_qpos(self.num_envs), dtype=np.float64)
        return self.renderer.render(qpos[0]) if self.num_envs == 1 else self.renderer.render_grid(qpos)

    def close(self) -> None:
        self.renderer.close()


class TaskFrames:
    """Frames from the task's own ``render(mode="rgb_array")``: what IsaacGymEnvs' viewer shows on its virtual
    screen (``capture_video=True``, with the viewer open: ``headless=False``), scaled to ``width x height``.

    The first frame is taken here, so a task that renders no image fails at once, naming what it needs.
    """

    def __init__(self, task: Any, width: int, height: int, num_envs: int = 1) -> None:
        if num_envs != 1:
            raise ValueError(f"video_envs={num_envs} is not valid for {type(task).__name__}: its own render() draws "
                             "one view of the scene (leave video_envs=1)")
        self.task, self.width, self.height = task, int(width), int(height)
        if self._render() is None:
            raise ValueError(f"{type(task).__name__}.render(mode='rgb_array') returned no image: IsaacGymEnvs "
                             "returns frames only with its virtual screen capture (capture_video=True, which needs "
                             "`pip install pyvirtualdisplay` and Xvfb) and the viewer open (headless=False)")

    description = "the task's own render(mode='rgb_array')"

    def _render(self) -> np.ndarray | None:
        image = self.task.render(mode="rgb_array")
        return None if image is None else np.asarray(image)

    def capture(self) -> np.ndarray:
        image = self._render()
        if image is None:
            raise RuntimeError(f"{type(self.task).__name__}.render(mode='rgb_array') stopped returning images")
        return rgb_frame(image, self.width, self.height)

    def close(self) -> None:
        pass


def rgb_frame(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` (``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``; uint8, or floats in [0, 1]) as a ``(height, width, 3)``
    uint8 frame (scaled with Pillow where the size differs)."""
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"a rendered image must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")
    image = image[:, :, :3]
    if image.shape[:2] != (height, width):
        from PIL import Image

        image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((width, height), Image.BILINEAR))
    return np.ascontiguousarray(image)


FrameSource = Union[MujocoFrames, TaskFrames]


def frame_source(task: Any, width: int, height: int, num_envs: int = 1) -> FrameSource:
    """MuJoCo's renderer for a task that hands out its MuJoCo state (``render_qpos`` and ``model``), else the task's
    own ``render(mode="rgb_array")``; an error when it has neither."""
    task = unwrapped(task)
    if has_mujoco_state(task):
        return MujocoFrames(task, width, height, num_envs)
    if callable(getattr(task, "render", None)):
        return TaskFrames(task, width, height, num_envs)
    raise ValueError(f"video needs a task that hands out its MuJoCo state (the embedded suite) or renders "
                     f"images itself (render(mode='rgb_array')); {type(task).__name__} does neither")
