"""Moved to :mod:`skrl_isaac.builders` (the library's config -> models, memory, agent factory); kept importable."""

from skrl_isaac.builders import AGENTS, ConfigError, build_agent

__all__ = ["AGENTS", "ConfigError", "build_agent"]
