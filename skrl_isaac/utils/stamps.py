"""The time stamp that names runs and memory dumps (one format for every file the package names)."""

from __future__ import annotations

import datetime

#: ``strftime`` format of the stamps, e.g. ``22-01-09_22-48-49-816281`` (sorts by time, microseconds)
STAMP_FORMAT = "%y-%m-%d_%H-%M-%S-%f"


def time_stamp(now: datetime.datetime | None = None) -> str:
    """``now`` (default: the current local time) as ``%y-%m-%d_%H-%M-%S-%f``."""
    return (now or datetime.datetime.now()).strftime(STAMP_FORMAT)


def run_name(agent_name: str, now: datetime.datetime | None = None) -> str:
    """The default experiment name: ``<stamp>_<AgentClass>``, e.g. ``22-01-09_22-48-49-816281_DDPG``."""
    return f"{time_stamp(now)}_{agent_name}"
