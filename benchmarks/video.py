"""What recording costs: ms per rendered frame, and the PPO loop with ``video_interval`` set against unset.

1. Renders ``--frames`` frames of the embedded Ant at ``--width`` x ``--height`` (640x480 by default) with the
   offscreen renderer the CLI uses (the backend is printed) and prints the median ms per frame.
2. Runs two copies of our PPO loop on Ant (``OursLoop``, same seed) in interleaved rounds, one of them with a
   ``VideoSchedule`` in its trainer's step hooks (``--length`` frames every ``--interval`` timesteps, as
   ``video_interval=`` does), and prints both env-steps/s, the median ratio over rounds, and the ratio the
   rendering alone predicts (frames per iteration x ms per frame).

    python benchmarks/video.py
    python benchmarks/video.py --num-envs 256 --interval 64 --length 16 --rounds 6
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import OursLoop, machine_line, set_torch_threads  # noqa: E402


def render_ms(width: int, height: int, frames: int) -> tuple[float, str]:
    """Median ms per frame of Ant rendered at ``width`` x ``height`` (states of a random-action rollout)."""
    import skrl_isaac_envs as envs
    from skrl_isaac.video import OffscreenRenderer

    task = envs.make("Ant", 1, seed=0)
    renderer = OffscreenRenderer(task.model, width, height)
    states = []
    for _ in range(frames + 1):
        task.step(torch.rand(1, task.num_actions) * 2 - 1)
        states.append(task.render_qpos(1)[0])
    renderer.render(states[0])  # warm-up: the first frame builds the GL objects
    times = []
    for qpos in states[1:]:
        start = time.perf_counter()
        renderer.render(qpos)
        times.append((time.perf_counter() - start) * 1000)
    backend = renderer.backend or "?"
    renderer.close()
    return statistics.median(times), backend


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=30, help="frames timed for the ms-per-frame figure")
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--interval", type=int, default=64, help="video_interval of the recording loop")
    parser.add_argument("--length", type=int, default=16, help="video_length of the recording loop")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=4, help="PPO iterations per loop and round")
    parser.add_argument("--torch-threads", type=int, default=0)
    args = parser.parse_args(argv)
    set_torch_threads(args.torch_threads)
    print(machine_line())
    ms, backend = render_ms(args.width, args.height, args.frames)
    print(f"render: {ms:.1f} ms per {args.width}x{args.height} frame of Ant (MuJoCo's {backend} backend, "
          f"median of {args.frames})")

    from skrl_isaac.video import VideoRecorder, VideoSchedule

    plain, recording = OursLoop(args.num_envs), OursLoop(args.num_envs)
    videos = tempfile.TemporaryDirectory(prefix="skrl_isaac_videos_")
    schedule = VideoSchedule(VideoRecorder(recording.env, args.width, args.height), videos.name, args.interval,
                             args.length)
    recording.trainer.step_hooks.append(schedule.step)
    for loop in (plain, recording):
        loop.run(1)  # warm-up
    rates: dict[str, list[float]] = {"off": [], "on": []}
    for index in range(args.rounds):
        order = [("off", plain), ("on", recording)][:: 1 if index % 2 == 0 else -1]
        for name, loop in order:
            seconds = loop.run(args.iterations)
            rates[name].append(args.num_envs * loop.rollouts * args.iterations / seconds)
    ratios = [on / off for on, off in zip(rates["on"], rates["off"])]
    per_iteration = plain.rollouts * args.length / args.interval  # frames rendered per PPO iteration, on average
    off_ms = 1000 * plain.rollouts * args.num_envs / statistics.median(rates["off"])
    print(f"PPO loop, Ant, {args.num_envs} envs: video off {statistics.median(rates['off']):,.0f} env-steps/s, "
          f"video_interval={args.interval} video_length={args.length} {statistics.median(rates['on']):,.0f} env-steps/s")
    print(f"ratio on / off: {statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f}); the "
          f"rendering alone predicts {off_ms / (off_ms + per_iteration * ms):.3f} ({per_iteration:.1f} frames x "
          f"{ms:.1f} ms per {off_ms:.0f} ms iteration); {len(schedule.written)} videos written")
    schedule.close()
    plain.close()
    recording.close()
    videos.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
