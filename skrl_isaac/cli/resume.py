"""Resuming a CLI run: the run's own ``config.yaml`` is the base config, the command line's overrides apply on top."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from skrl_isaac.cli.errors import CLIError

#: the key of the saved config that records the train config's name (the hydra ``train=`` choice)
TRAIN_CONFIG_KEY = "train_config"


def override_key(override: str) -> str:
    """The config key of a hydra override (``+a.b=1`` -> ``a.b``, ``~a`` -> ``a``)."""
    return override.lstrip("+~").split("=", 1)[0].strip()


def run_folder(checkpoint: str) -> str:
    """The run folder of ``<run>/checkpoints/<t>_agent.pt``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(checkpoint)))


def effective_num_envs(cfg: DictConfig) -> Any:
    """``num_envs`` when set, else the task config's ``env.numEnvs``."""
    value = cfg.get("num_envs")
    return value if value not in ("", None) else OmegaConf.select(cfg, "task.env.numEnvs")


def with_train_config(cfg: DictConfig, choices: Mapping[str, Any]) -> DictConfig:
    """``cfg`` plus the train config's name, as written to a run's ``config.yaml``."""
    saved = OmegaConf.to_container(cfg, resolve=True)
    saved[TRAIN_CONFIG_KEY] = saved.get(TRAIN_CONFIG_KEY) or choices.get("train")
    return OmegaConf.create(saved)


def resume_config(composed: DictConfig, overrides: Sequence[str], choices: Mapping[str, Any]) -> DictConfig:
    """The config a resume runs with: the run's ``config.yaml``, then the command line's ``overrides``
    (their values as ``composed``, the config hydra composed from the command line, has them).

    :raises CLIError: no ``config.yaml`` beside the checkpoint's folder, or an override that cannot apply to a
        resumed run (another task, train config, number of envs or experiment name)
    """
    checkpoint = composed.checkpoint
    run_dir = run_folder(checkpoint)
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise CLIError(f"checkpoint={checkpoint!r}: no config.yaml in its run folder {run_dir}; a resume takes the "
                       "run's own config, so the checkpoint must stay in <run>/checkpoints/")
    saved = OmegaConf.load(path)
    saved_train = saved.pop(TRAIN_CONFIG_KEY, None)
    saved_envs, saved_task = effective_num_envs(saved), OmegaConf.select(saved, "task.name")
    task_given = False
    for override in overrides:
        key = override_key(override)
        if key == "train":
            if saved_train is not None and choices.get("train") != saved_train:
                raise CLIError(f"train={choices.get('train')} cannot apply to a resumed run: it was trained with "
                               f"train={saved_train}; leave train= out to resume, or start a new run")
        elif key == "task":
            task_given = True  # checked below with every other way of changing it
        elif key == "experiment":
            if composed.experiment and composed.experiment != os.path.basename(run_dir):
                raise CLIError(f"experiment={composed.experiment} cannot apply to a resumed run: the checkpoint's run "
                               f"is {os.path.basename(run_dir)}; leave experiment= out to resume")
        elif override.startswith("~"):
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(saved, parent) if parent else saved
            if isinstance(node, DictConfig) and leaf in node:
                node.pop(leaf)
        else:
            value = OmegaConf.select(composed, key)
            if isinstance(value, DictConfig):
                value = OmegaConf.to_container(value, resolve=True)
            OmegaConf.update(saved, key, value, merge=False, force_add=True)
    new_task = composed.task.name if task_given else OmegaConf.select(saved, "task.name")
    if new_task != saved_task:
        raise CLIError(f"task={new_task} cannot apply to a resumed run: it trained task={saved_task}; "
                       "leave task= out to resume, or start a new run")
    if effective_num_envs(saved) != saved_envs:
        raise CLIError(f"num_envs={effective_num_envs(saved)} cannot apply to a resumed run: it ran with {saved_envs} "
                       "envs (the memory and the episode statistics in the checkpoint are per env); leave num_envs= "
                       "out to resume, or start a new run")
    saved.checkpoint = checkpoint
    saved.test = False
    saved[TRAIN_CONFIG_KEY] = saved_train
    return saved


@contextlib.contextmanager
def undo_new_files(folder: str) -> Iterator[None]:
    """Remove the files (and empty folders) created under ``folder`` when the block raises: a failed resume
    leaves the run folder as it was (e.g. no empty TensorBoard events file)."""
    before = {os.path.join(root, name) for root, dirs, files in os.walk(folder) for name in files + dirs}
    try:
        yield
    except BaseException:
        for root, dirs, files in os.walk(folder, topdown=False):
            for name in files:
                path = os.path.join(root, name)
                if path not in before:
                    os.remove(path)
            for name in dirs:
                path = os.path.join(root, name)
                if path not in before and not os.listdir(path):
                    os.rmdir(path)
        raise
