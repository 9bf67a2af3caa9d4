"""Experiment trackers beside TensorBoard: Weights & Biases and MLflow (optional extras).

A tracker mirrors every scalar the run writes to TensorBoard (:class:`MirroredSummaryWriter` forwards each
``add_scalar``), logs the run's resolved config once, and uploads files (videos, the final checkpoint). Its
run id is part of the agent checkpoint (:meth:`ExperimentTracker.state`), so a resumed run continues the same
tracker run.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

from torch.utils.tensorboard import SummaryWriter

TRACKERS = ("wandb", "mlflow")
_EXTRAS = {"wandb": "wandb", "mlflow": "mlflow"}


class TrackerError(ValueError):
    """An unknown tracker name, or a tracker whose package is not installed (the message names the pip command)."""


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


class ExperimentTracker:
    """What a tracker does for a run: scalars, the config, files, and the id that a resume continues."""

    name = ""

    def __init__(self) -> None:
        self.run_id = ""

    def log_scalar(self, tag: str, value: float, step: int) -> None:
        raise NotImplementedError

    def log_config(self, config: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def log_file(self, path: str, kind: str, step: int | None = None) -> None:
        """Upload ``path``; ``kind`` is ``"video"`` or ``"checkpoint"``."""
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, str]:
        """What a checkpoint keeps to continue this tracker run after a resume."""
        return {"tracker": self.name, "run_id": self.run_id}


class WandbTracker(ExperimentTracker):
    """A Weights & Biases run in the run folder (``WANDB_MODE=offline`` works without a network;
    ``WANDB_PROJECT`` names the project, default ``skrl_isaac``)."""

    name = "wandb"

    def __init__(self, run_dir: str, experiment_name: str, run_id: str = "") -> None:
        super().__init__()
        import wandb

        self._wandb = wandb
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "skrl_isaac"), name=experiment_name,
                              dir=run_dir, id=run_id or None, resume="allow", reinit="finish_previous")
        self.run_id = self.run.id

    def log_scalar(self, tag: str, value: float, step: int) -> None:
        self.run.log({tag: value}, step=int(step))

    def log_config(self, config: Mapping[str, Any]) -> None:
        self.run.config.update(dict(config), allow_val_change=True)

    def log_file(self, path: str, kind: str, step: int | None = None) -> None:
        if kind == "video":
            self.run.log({"video": self._wandb.Video(path, format="mp4")}, step=step)
        else:
            self.run.save(path, base_path=os.path.dirname(os.path.dirname(path)), policy="now")

    def finish(self) -> None:
        self.run.finish()


def mlflow_key(tag: str) -> str:
    """A TensorBoard tag as an MLflow metric name (MLflow allows letters, digits, ``_ - . : /`` and spaces):
    ``"Reward / Total reward (mean)"`` -> ``"Reward / Total reward mean"``."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\-.:/ ]", " ", tag)).strip()


class MlflowTracker(ExperimentTracker):
    """An MLflow run (``MLFLOW_TRACKING_URI``, e.g. a tracking server; default a file store ``mlruns/`` beside the
    run folders, which MLflow keeps in maintenance mode and this tracker opts into; experiment
    ``MLFLOW_EXPERIMENT_NAME``, default ``skrl_isaac``)."""

    name = "mlflow"

    def __init__(self, run_dir: str, experiment_name: str, run_id: str = "") -> None:
        super().__init__()
        import mlflow

        self._mlflow = mlflow
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri("file://" + os.path.join(os.path.dirname(os.path.abspath(run_dir)), "mlruns"))
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "skrl_isaac"))
        if run_id:
            self.run = mlflow.start_run(run_id=run_id)
        else:
            self.run = mlflow.start_run(run_name=experiment_name)
        self.run_id = self.run.info.run_id

    def log_scalar(self, tag: str, value: float, step: int) -> None:
        self._mlflow.log_metric(mlflow_key(tag), float(value), step=int(step), run_id=self.run_id)

    def log_config(self, config: Mapping[str, Any]) -> None:
        params = {key: str(value)[:6000] for key, value in _flatten(config).items()}
        existing = self._mlflow.get_run(self.run_id).data.params
        self._mlflow.log_params({k: v for k, v in params.items() if k not in existing}, run_id=self.run_id)

    def log_file(self, path: str, kind: str, step: int | None = None) -> None:
        self._mlflow.log_artifact(path, artifact_path="videos" if kind == "video" else "checkpoints", run_id=self.run_id)

    def finish(self) -> None:
        self._mlflow.end_run()


def check_tracker(name: str | None) -> str | None:
    """``name`` if it is a tracker whose package imports (None for ``""``/``None``/``"none"``), else a
    :class:`TrackerError` listing the valid names or naming the pip command."""
    if name in (None, "", "none", "tensorboard"):
        return None
    if name not in TRACKERS:
        raise TrackerError(f"tracker={name!r} is not valid: expected one of {list(TRACKERS)} (or none)")
    import importlib.util

    if importlib.util.find_spec(name) is None:
        raise TrackerError(f'tracker={name} needs the {name} package: pip install -e ".[{_EXTRAS[name]}]"')
    return name


def make_tracker(name: str | None, run_dir: str, experiment_name: str, run_id: str = "") -> ExperimentTracker | None:
    """The tracker ``name`` for the run in ``run_dir`` (None without one); ``run_id`` continues an earlier run."""
    name = check_tracker(name)
    if name is None:
        return None
    return (WandbTracker if name == "wandb" else MlflowTracker)(run_dir, experiment_name, run_id)


class MirroredSummaryWriter(SummaryWriter):
    """A TensorBoard ``SummaryWriter`` that also hands every scalar to ``tracker``."""

    def __init__(self, *args: Any, tracker: ExperimentTracker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = tracker

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None, *args: Any, **kwargs: Any) -> None:
        super().add_scalar(tag, scalar_value, global_step, *args, **kwargs)
        self.tracker.log_scalar(tag, float(scalar_value), int(global_step or 0))
