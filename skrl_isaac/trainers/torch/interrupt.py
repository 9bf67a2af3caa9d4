"""Stop training cleanly on Ctrl-C (SIGINT) or SIGTERM: the first signal asks the loop to stop after the
current step, a second one exits at once."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal after finishing its current step and checkpointing it.

    A ``KeyboardInterrupt`` subclass, so scripts that catch Ctrl-C keep doing so.

    :ivar signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``)
    :ivar timestep: the number of timesteps done (the checkpoint prefix)
    :ivar checkpoints: the files written for that timestep (empty when checkpoints are disabled)
    """

    def __init__(self, signum: int, timestep: int, checkpoints: list[str]) -> None:
        self.signum, self.timestep, self.checkpoints = int(signum), int(timestep), list(checkpoints)
        name = signal.Signals(signum).name
        super().__init__(f"{name}: training stopped at timestep {timestep}")

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


class StopOnSignal:
    """Context manager: while active, SIGINT/SIGTERM set :attr:`signum` instead of raising; the loop polls it.

    A second signal exits the process at once (status ``128 + signum``). Outside the main thread
    (where Python cannot install handlers) it does nothing and the default behaviour stays.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            sys.stderr.write(f"\n[skrl_isaac] second {signal.Signals(signum).name}: exiting now\n")
            sys.stderr.flush()
            os._exit(128 + signum)
        self.signum = signum
        sys.stderr.write(f"\n[skrl_isaac] {signal.Signals(signum).name}: finishing this step and writing a checkpoint "
                         "(press Ctrl-C again to exit at once)\n")
        sys.stderr.flush()

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
