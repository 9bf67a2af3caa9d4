"""What the CLI adds to a run so it can be seen: videos, the live viewer, the experiment tracker, curves.png."""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from omegaconf import DictConfig

from skrl_isaac.cli.errors import CLIError, optional_int


def validate_watch(cfg: DictConfig, settings: dict[str, Any]) -> None:
    """Check ``video*``, ``tracker`` and ``headless`` before any work; the checked values go into ``settings``."""
    from skrl_isaac.trackers import TrackerError, check_tracker

    def integer(key: str, minimum: int, optional: bool = False) -> int | None:
        return optional_int(cfg, key, minimum, required=not optional)

    if not isinstance(cfg.get("video"), bool):
        raise CLIError(f"video={cfg.get('video')!r} is not valid: expected True or False")
    settings["video"] = bool(cfg.video)
    settings["video_interval"] = integer("video_interval", 1, optional=True)
    settings["video_length"] = integer("video_length", 1)
    settings["video_envs"] = integer("video_envs", 1)
    settings["video_width"] = integer("video_width", 16)
    settings["video_height"] = integer("video_height", 16)
    if settings["video"] and not cfg.test:
        raise CLIError("video=True records play mode (test=True checkpoint=...); to record while training "
                       "set video_interval=<timesteps between videos>")
    if settings["video_interval"] is not None and cfg.test:
        raise CLIError("video_interval= records while training; to record play mode use video=True")
    try:
        settings["tracker"] = check_tracker(cfg.get("tracker") or None)
    except TrackerError as e:
        raise CLIError(str(e)) from None
    if settings["tracker"] and cfg.test:
        raise CLIError(f"tracker={settings['tracker']} records training runs; leave it out with test=True")
    if not cfg.headless and cfg.get("physics_engine") not in ("physx", "flex"):
        from skrl_isaac.video.viewer import display_available

        if not display_available():
            raise CLIError("headless=False needs a display (DISPLAY is not set); on a machine without one, record "
                           "the policy instead with video=True (play) or video_interval=N (training)")
    if (settings["video"] or settings["video_interval"]) and not _installed("imageio", "imageio_ffmpeg"):
        raise CLIError('video needs imageio and imageio-ffmpeg: pip install -e ".[video]"')


def isaacgym_video_overrides(cfg: DictConfig, settings: dict[str, Any]) -> list[str]:
    """IsaacGymEnvs' overrides that make its task render frames for a video (none without one): its virtual
    screen capture (``capture_video=True``: the viewer opens on an X display in memory, which needs
    pyvirtualdisplay and Xvfb) and, when the user asked for no viewer, ``force_render=False`` (drawn only for
    the frames recorded)."""
    if not (settings["video"] or settings["video_interval"]):
        return []
    import shutil

    if not _installed("pyvirtualdisplay") or shutil.which("Xvfb") is None:
        raise CLIError("video with Isaac Gym records IsaacGymEnvs' virtual screen (capture_video): it needs "
                       "`pip install pyvirtualdisplay` and Xvfb (`apt-get install xvfb` on Debian/Ubuntu)")
    return ["capture_video=True"] + (["force_render=False"] if cfg.headless else [])


def _installed(*names: str) -> bool:
    """Whether every package of ``names`` can be imported (found without importing it)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in names)


def _recorder(run: Any) -> Any:
    from skrl_isaac.video import RenderError, VideoRecorder

    settings = run.settings
    try:
        recorder = VideoRecorder(run.task, settings["video_width"], settings["video_height"],
                                 num_envs=settings["video_envs"])
    except (ValueError, RenderError) as e:
        raise CLIError(str(e)) from None
    print(f"[skrl_isaac] video: {recorder.source.description}, {recorder.fps:.0f} fps, "
          f"{settings['video_width']}x{settings['video_height']}"
          + (f", {settings['video_envs']} envs" if settings["video_envs"] > 1 else ""), flush=True)
    return recorder


def checkpoint_timestep(path: str) -> str:
    """The timestep in a checkpoint's name (``2500_policy.pt`` -> ``"2500"``; ``best_policy.pt`` -> ``"best"``)."""
    match = re.match(r"^([^_]+)_", os.path.basename(path))
    return match.group(1) if match else "0"


def add_play_hooks(run: Any, sequential: Any, steps: int) -> Callable[[], None]:
    """Hook the play video (``<run>/videos/play_<timestep>.mp4``) and the viewer into ``sequential``; return the
    function that closes them."""
    closers: list[Callable[[], None]] = []
    if run.settings["video"]:
        from skrl_isaac.video import VideoSchedule

        folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(run.cfg.checkpoint))), "videos")
        name = f"play_{checkpoint_timestep(run.cfg.checkpoint)}.mp4"
        schedule = VideoSchedule(_recorder(run), folder, interval=steps + 1, length=run.settings["video_length"],
                                 file_name=lambda timestep: name,
                                 on_video=lambda path, start: print(f"[skrl_isaac] video: {path}", flush=True))
        sequential.step_hooks.append(schedule.step)
        closers.append(schedule.close)
    closers += _viewer(run, sequential)
    return lambda: [close() for close in closers]


def _viewer(run: Any, sequential: Any) -> list[Callable[[], None]]:
    if run.cfg.headless or run.backend == "IsaacGymEnvs":  # Isaac Gym opens its own viewer
        return []
    from skrl_isaac.video.viewer import LiveViewer, ViewerError

    try:
        viewer = LiveViewer(run.task)
    except ViewerError as e:
        raise CLIError(str(e)) from None
    sequential.step_hooks.append(lambda timestep: viewer.sync())
    return [viewer.close]


def add_train_hooks(run: Any, sequential: Any, tracker: Any) -> Callable[[], None]:
    """Hook the training videos (every ``video_interval`` timesteps into ``<run>/videos/<t>.mp4``, uploaded to the
    tracker) and the viewer into ``sequential``; return the function that closes them."""
    closers: list[Callable[[], None]] = []
    interval = run.settings["video_interval"]
    if interval is not None:
        from skrl_isaac.video import VideoSchedule

        def uploaded(path: str, start: int) -> None:
            if tracker is not None:
                tracker.log_file(path, "video", step=start)

        schedule = VideoSchedule(_recorder(run), os.path.join(run.agent.experiment_dir, "videos"), interval,
                                 run.settings["video_length"], on_video=uploaded)
        sequential.step_hooks.append(schedule.step)
        closers.append(schedule.close)
    closers += _viewer(run, sequential)
    return lambda: [close() for close in closers]


def open_tracker(run: Any, resumed_state: dict[str, Any] | None) -> Any:
    """The experiment tracker of ``tracker=`` (continuing the checkpoint's tracker run on a resume), mirrored by the
    agent's TensorBoard writer; None without one."""
    name = run.settings.get("tracker")
    if not name:
        return None
    from omegaconf import OmegaConf

    from skrl_isaac.trackers import make_tracker

    previous = (resumed_state or {}).get("experiment_tracker") or {}
    run_id = previous.get("run_id", "") if previous.get("tracker") == name else ""
    tracker = make_tracker(name, run.agent.experiment_dir, os.path.basename(run.agent.experiment_dir), run_id=run_id)
    tracker.log_config(OmegaConf.to_container(run.cfg, resolve=True))
    run.agent.recorder.attach_experiment_tracker(tracker)
    print(f"[skrl_isaac] tracker {name}: run {tracker.run_id}" + (" (continued)" if run_id else ""), flush=True)
    return tracker


def close_tracker(tracker: Any, run: Any) -> None:
    """Upload the newest agent (or policy) checkpoint and finish the tracker run."""
    if tracker is None:
        return
    folder = os.path.join(run.agent.experiment_dir, "checkpoints")
    if os.path.isdir(folder):
        names = [n for n in os.listdir(folder) if n[:1].isdigit() and n.endswith(("_agent.pt", "_policy.pt"))]
        if names:
            newest = max(names, key=lambda n: (int(n.split("_")[0]), n.endswith("_agent.pt")))
            tracker.log_file(os.path.join(folder, newest), "checkpoint")
    tracker.finish()


def write_run_curves(run: Any) -> None:
    """``<run>/curves.png`` from the run's TensorBoard files (nothing when the run wrote no scalar yet)."""
    from skrl_isaac.curves import CurvesError, write_curves

    folder = run.agent.experiment_dir
    if run.agent.write_interval <= 0 or not os.path.isdir(folder):
        return
    try:
        write_curves([folder], os.path.join(folder, "curves.png"))
    except CurvesError:
        return
    print(f"[skrl_isaac] learning curves: {os.path.join(folder, 'curves.png')}", flush=True)
