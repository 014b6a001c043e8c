"""Stopping a batch run cleanly on SIGINT or SIGTERM: the run finishes the record in hand, closes its
outputs and gives its summary, instead of dying mid-write. The local engine (``emodet detect``) and the
Ray engine share it.
"""

from __future__ import annotations

import signal
import threading


class Stopped(Exception):
    """Raised by :class:`StopOnSignals` (with ``raise_stop``) where the run was when a signal came."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class StopOnSignals:
    """While active, SIGINT and SIGTERM ask the run to stop. The first one sets :attr:`signal` (a loop
    checks it between records) or, with ``raise_stop``, raises :class:`Stopped` (for a loop that
    blocks inside a library call, such as Ray's result iterator); a second one interrupts at once
    (KeyboardInterrupt). Outside the main thread (where Python allows no handlers) it does nothing;
    the previous handlers come back on exit."""

    def __init__(self, raise_stop: bool = False):
        self.raise_stop = raise_stop
        self.signal = 0
        self._previous: dict = {}

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal).name if self.signal else ""

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, frame) -> None:
        if self.signal:
            raise KeyboardInterrupt
        self.signal = number
        if self.raise_stop:
            raise Stopped(number)

    def __exit__(self, *exc) -> bool:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        return False
