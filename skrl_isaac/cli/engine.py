"""Which simulator a CLI run uses, decided from the command line and the config files before torch is imported,
so that Isaac Gym can be imported first (its ``gymdeps`` check refuses a process that imported torch)."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Sequence

from skrl_isaac.cli.errors import CLIError

CFG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cfg")
ISAACGYM_ENGINES = ("physx", "flex")


def _override(argv: Sequence[str], key: str) -> str | None:
    for arg in reversed(argv):
        name, sep, value = arg.lstrip("+").partition("=")
        if sep and name == key:
            return value
    return None


def _config_value(path: str, key: str) -> str | None:
    import yaml

    try:
        with open(path) as f:
            value = (yaml.safe_load(f) or {}).get(key)
    except (OSError, yaml.YAMLError):
        return None
    return None if value is None else str(value)


def requested_engine(argv: Sequence[str]) -> str:
    """``physics_engine`` as the command line sets it, else as the resumed run's ``config.yaml`` has it, else
    the shipped ``config.yaml``'s default."""
    engine = _override(argv, "physics_engine")
    if engine is not None:
        return engine
    checkpoint = _override(argv, "checkpoint") or ""
    if checkpoint.endswith("_agent.pt") and (_override(argv, "test") or "").lower() != "true":
        run_config = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(checkpoint))), "config.yaml")
        engine = _config_value(run_config, "physics_engine")
        if engine is not None:
            return engine
    return _config_value(os.path.join(CFG_DIR, "config.yaml"), "physics_engine") or "auto"


def isaacgym_installed() -> bool:
    """Whether ``isaacgym`` and ``isaacgymenvs`` can be imported (found without importing them)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("isaacgym", "isaacgymenvs"))
    except (ImportError, ValueError):
        return False


def uses_isaacgym(engine: str) -> bool:
    """``physx``/``flex``, or ``auto`` where Isaac Gym and IsaacGymEnvs are installed."""
    return engine in ISAACGYM_ENGINES or (engine == "auto" and isaacgym_installed())


def import_isaacgym_first(argv: Sequence[str]) -> bool:
    """Import ``isaacgym`` now when the run will use it (before anything imports torch, as IsaacGymEnvs'
    ``train.py`` does). Return whether it was imported.

    :raises CLIError: Isaac Gym is installed but its import fails
    """
    engine = requested_engine(argv)
    if not uses_isaacgym(engine) or not isaacgym_installed() or "isaacgym" in sys.modules:
        return "isaacgym" in sys.modules
    try:
        import isaacgym  # noqa: F401
    except ImportError as e:
        raise CLIError(f"physics_engine={engine}: importing Isaac Gym failed ({e})") from None
    return True
