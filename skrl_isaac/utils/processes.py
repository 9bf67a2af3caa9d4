"""The environment of a child Python process (the csv export process, scripts run by benchmarks and tests)."""

from __future__ import annotations

import os


def python_env(*paths: str | os.PathLike, **variables: str) -> dict[str, str]:
    """``os.environ`` plus ``variables`` for a child Python process, with ``paths`` in front of ``PYTHONPATH``.

    The inherited ``PYTHONPATH`` stays after them (packages may be installed through it). When it is unset
    or empty it adds no entry: an empty entry would put the child's working directory on ``sys.path``.
    """
    inherited = os.environ.get("PYTHONPATH")
    entries = [os.fspath(p) for p in paths] + ([inherited] if inherited else [])
    return {**os.environ, **variables, "PYTHONPATH": os.pathsep.join(entries)}
