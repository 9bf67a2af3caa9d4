"""Checks of the command line before hydra composes the config (fast: no torch, no simulator imported)."""

from __future__ import annotations

import difflib
import importlib.util
import os
from typing import Sequence

from skrl_isaac.cli.errors import CLIError

CFG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cfg")

#: hydra's own flags (``--help``, ``--cfg job``, ...), passed through untouched
HYDRA_FLAGS = frozenset({"-h", "--help", "--hydra-help", "--version", "-c", "--cfg", "-p", "--package", "--resolve",
                         "-i", "--info", "-m", "--multirun", "-r", "--run", "-cp", "--config-path", "-cn",
                         "--config-name", "-cd", "--config-dir", "--experimental-rerun", "-sc", "--shell-completion"})


def _yaml_names(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        return []
    return sorted(name[: -len(".yaml")] for name in os.listdir(folder) if name.endswith(".yaml"))


def task_names() -> list[str]:
    """The tasks of the hydra ``task`` group (the embedded suite's ``cfg/task/*.yaml``), without importing it."""
    spec = importlib.util.find_spec("skrl_isaac_envs")
    if spec is None or not spec.submodule_search_locations:
        return []
    return _yaml_names(os.path.join(list(spec.submodule_search_locations)[0], "cfg", "task"))


def train_names() -> list[str]:
    """The shipped train configs (``skrl_isaac/cfg/train/*.yaml``)."""
    return _yaml_names(os.path.join(CFG_DIR, "train"))


def closest_first(value: str, names: Sequence[str]) -> list[str]:
    """``names``: the close matches of ``value`` (most similar first), then the others alphabetically."""
    ranked = difflib.get_close_matches(value, names, n=len(names), cutoff=0.6)
    return ranked + sorted(set(names) - set(ranked))


def check_argv(argv: Sequence[str]) -> None:
    """Refuse what hydra would refuse with a long message: ``--task Ant`` (argparse style) and an unknown
    ``task=``/``train=`` name.

    :raises CLIError: one line saying what was wrong and what is valid
    """
    groups = {"task": task_names, "train": train_names}
    for i, arg in enumerate(argv):
        flag = arg.split("=", 1)[0]
        if flag.startswith("--") and flag not in HYDRA_FLAGS:
            key = flag[2:]
            value = arg.split("=", 1)[1] if "=" in arg else None
            if value is None and i + 1 < len(argv) and "=" not in argv[i + 1] and not argv[i + 1].startswith("-"):
                value = argv[i + 1]
            message = f"{flag}: options are hydra overrides (key=value), not --flags: write {key}={value or '<value>'}"
            if key in groups:
                names = groups[key]()
                message += f"; valid: {', '.join(closest_first(value or '', names))}"
            raise CLIError(message)
        key, sep, value = arg.partition("=")
        if sep and key in groups:
            names = groups[key]()
            if names and value not in names:
                kind = "task" if key == "task" else "train config"
                raise CLIError(f"{key}={value} is not a {kind}; valid: {', '.join(closest_first(value, names))}")
