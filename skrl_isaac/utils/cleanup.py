"""Closing after a failure without hiding it: the first error is the one reported.

A checkpoint write that fails on a full disk ends the run; closing the memory then fails too (its
pending export meets the same full disk). Closed in a plain ``finally:``, the second error replaces
the first, and the user reads about a memory export instead of the checkpoint. :func:`close_all`
runs every closer and raises the first error: the body's, else the first closer's; each later
error is logged as one warning line.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator


@contextlib.contextmanager
def close_all(*closers: Callable[[], object] | None) -> Iterator[None]:
    """Run the ``with`` body, then every closer in order (None: skipped), whatever happens.

    The first error wins: the body's if it raised (it propagates unchanged), else the first closer's
    (raised after the other closers have run). Every later error is logged as
    ``also failed while closing: ...`` on the ``skrl_isaac`` logger.
    """
    first: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        first = exc
        raise
    finally:
        pending = _run_closers(closers, first)
        if first is None and pending is not None:
            raise pending


def _run_closers(closers: tuple[Callable[[], object] | None, ...], first: BaseException | None) -> BaseException | None:
    """Call each closer; return the first closer's error when there was no ``first`` (log every other one)."""
    from skrl_isaac import logger

    pending: BaseException | None = None
    for close in closers:
        if close is None:
            continue
        try:
            close()
        except BaseException as exc:  # noqa: BLE001 - a later error must not replace the first
            if first is None and pending is None:
                pending = exc
            else:
                logger.warning(f"also failed while closing: {type(exc).__name__}: {exc}")
    return pending
