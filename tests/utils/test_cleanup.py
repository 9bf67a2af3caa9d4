"""close_all: every closer runs, and the first error is the one raised."""

from __future__ import annotations

import logging

import pytest

from skrl_isaac.utils.cleanup import close_all


class Closer:
    def __init__(self, error: BaseException | None = None):
        self.error, self.calls = error, 0

    def __call__(self):
        self.calls += 1
        if self.error is not None:
            raise self.error


def test_the_bodys_error_wins_over_the_closers(caplog):
    export, env = Closer(OSError(28, "export: No space left on device")), Closer()
    with caplog.at_level(logging.WARNING, logger="skrl_isaac"):
        with pytest.raises(OSError, match="checkpoint"):
            with close_all(export, None, env):
                raise OSError(28, "checkpoint: No space left on device")
    assert export.calls == env.calls == 1
    assert "also failed while closing: OSError: [Errno 28] export: No space left on device" in caplog.text


def test_without_a_body_error_the_first_closers_error_is_raised_after_all_ran(caplog):
    a, b, c = Closer(ValueError("first")), Closer(RuntimeError("second")), Closer()
    with caplog.at_level(logging.WARNING, logger="skrl_isaac"):
        with pytest.raises(ValueError, match="first"):
            with close_all(a, b, c):
                pass
    assert a.calls == b.calls == c.calls == 1 and "RuntimeError: second" in caplog.text


def test_a_keyboard_interrupt_in_the_body_still_closes_everything():
    a = Closer(OSError("late"))
    with pytest.raises(KeyboardInterrupt):
        with close_all(a):
            raise KeyboardInterrupt
    assert a.calls == 1


def test_nothing_raised_when_all_is_well():
    a = Closer()
    with close_all(a):
        pass
    assert a.calls == 1
