"""Learning curves from the TensorBoard event files of one or more runs.

:func:`load_run` reads a run folder's scalars with TensorBoard's own reader; :func:`plot_runs` draws one
panel per tag with every run overlaid, runs that differ only by their seed drawn as one mean line with
a min-max band; :func:`write_curves` saves the figure as a PNG. ``skrl-isaac plot`` is the command line.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

DEFAULT_TAGS = (
    "Reward / Total reward (mean)",
    "Episode / Total timesteps (mean)",
    "Loss / Policy loss",
    "Loss / Value loss",
    "Loss / Critic loss",
    "Loss / Q-network loss",
    "Policy / Standard deviation",
    "Coefficient / Entropy coefficient",
)
X_AXES = ("timesteps", "walltime")
# keys of a run's config.yaml that name or place the run rather than change what it learns
_RUN_KEYS = ("seed", "experiment", "checkpoint")


class CurvesError(ValueError):
    """A run folder without scalars, or a tag no run has: the message says what is valid."""


@dataclass
class Run:
    """The scalars of one run: ``scalars[tag] = (timesteps, wall seconds since the run's start, values)``."""

    path: str
    name: str
    scalars: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> Any:
        return self.config.get("seed")


def _event_files(path: str) -> list[str]:
    return sorted(glob.glob(os.path.join(path, "**", "events.out.tfevents.*"), recursive=True))


def _read_config(path: str) -> dict[str, Any]:
    config_file = os.path.join(path, "config.yaml")
    if not os.path.isfile(config_file):
        return {}
    import yaml

    try:
        with open(config_file, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return {}
    return config if isinstance(config, dict) else {}


def load_run(path: str) -> Run:
    """The scalars of the run folder ``path`` (every event file under it; a resumed run's files are merged,
    later points replacing earlier ones at the same timestep)."""
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    if not os.path.isdir(path):
        raise CurvesError(f"{path!r} is not a folder (give a run folder, e.g. runs/<experiment>)")
    files = _event_files(path)
    if not files:
        raise CurvesError(f"{path!r} holds no TensorBoard event file (events.out.tfevents.*)")
    points: dict[str, dict[int, tuple[float, float]]] = {}
    for file in files:
        accumulator = EventAccumulator(file, size_guidance={SCALARS: 0})
        accumulator.Reload()
        for tag in accumulator.Tags().get("scalars", []):
            series = points.setdefault(tag, {})
            for event in accumulator.Scalars(tag):
                series[int(event.step)] = (float(event.wall_time), float(event.value))
    if not points:
        raise CurvesError(f"{path!r} has event files but no scalars yet (a run writes them every write_interval)")
    start = min(wall for series in points.values() for wall, _ in series.values())
    scalars = {}
    for tag, series in points.items():
        steps = np.array(sorted(series), dtype=np.int64)
        scalars[tag] = (steps, np.array([series[s][0] - start for s in steps]), np.array([series[s][1] for s in steps]))
    name = os.path.basename(os.path.normpath(path))
    return Run(path=path, name=name, scalars=scalars, config=_read_config(path))


def seed_groups(runs: Sequence[Run]) -> list[list[Run]]:
    """Runs grouped by their config without the seed and the run's name (runs without a config.yaml stay alone),
    in the order of their first run."""
    groups: dict[str, list[Run]] = {}
    order: list[str] = []
    for index, run in enumerate(runs):
        if run.config:
            key = repr(sorted((k, repr(v)) for k, v in run.config.items() if k not in _RUN_KEYS))
        else:
            key = f"#{index}"
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(run)
    return [groups[key] for key in order]


def _label(group: list[Run]) -> str:
    if len(group) == 1:
        return group[0].name
    seeds = ", ".join(str(run.seed) for run in group)
    return f"{group[0].name} + {len(group) - 1} more (seeds {seeds})"


def _mean_band(series: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max of several curves on the x values where all of them are defined (linear interpolation)."""
    lo = max(x[0] for x, _ in series)
    hi = min(x[-1] for x, _ in series)
    grid = np.unique(np.concatenate([x[(x >= lo) & (x <= hi)] for x, _ in series]))
    if grid.size == 0:
        grid = np.array([lo])
    ys = np.stack([np.interp(grid, x, y) for x, y in series])
    return grid, ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)


def choose_tags(runs: Sequence[Run], tags: Sequence[str] | None = None) -> list[str]:
    """``tags`` checked against the runs (each must be in at least one run), or the default tags the runs have
    (every tag of the runs when none of the defaults is there)."""
    available = sorted({tag for run in runs for tag in run.scalars})
    if tags:
        missing = [tag for tag in tags if tag not in available]
        if missing:
            raise CurvesError(f"no run has the tag(s) {missing}; tags of these runs: {available}")
        return list(tags)
    chosen = [tag for tag in DEFAULT_TAGS if tag in available]
    return chosen or available


def plot_runs(runs: Sequence[Run], tags: Sequence[str] | None = None, x: str = "timesteps") -> Any:
    """A matplotlib ``Figure``: one panel per tag, the runs overlaid (seed groups as mean and min-max band)."""
    from matplotlib.figure import Figure

    if x not in X_AXES:
        raise CurvesError(f"x={x!r} is not valid: expected one of {list(X_AXES)}")
    if not runs:
        raise CurvesError("no run to plot")
    tags = choose_tags(runs, tags)
    columns = min(len(tags), 2)
    rows = math.ceil(len(tags) / columns)
    figure = Figure(figsize=(6.4 * columns, 3.6 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[len(tags):]:
        ax.remove()
    column = 0 if x == "timesteps" else 1
    for ax, tag in zip(axes, tags):
        for index, group in enumerate(seed_groups(runs)):
            series = [(run.scalars[tag][column], run.scalars[tag][2]) for run in group if tag in run.scalars]
            if not series:
                continue
            color = f"C{index % 10}"
            if len(series) == 1:
                ax.plot(series[0][0], series[0][1], color=color, label=_label(group))
            else:
                grid, mean, low, high = _mean_band(series)
                ax.plot(grid, mean, color=color, label=_label(group))
                ax.fill_between(grid, low, high, color=color, alpha=0.25, linewidth=0)
        ax.set_title(tag)
        ax.set_xlabel("timestep" if x == "timesteps" else "wall time (s)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return figure


def write_curves(paths: Sequence[str], output: str, tags: Sequence[str] | None = None, x: str = "timesteps") -> Any:
    """Read the runs at ``paths``, plot them and save the figure as ``output`` (PNG, written atomically)."""
    from skrl_isaac.utils.files import atomic_write

    figure = plot_runs([load_run(path) for path in paths], tags=tags, x=x)
    folder = os.path.dirname(os.path.abspath(output))
    os.makedirs(folder, exist_ok=True)
    atomic_write(output, lambda f: figure.savefig(f, format="png", dpi=100))
    return figure
