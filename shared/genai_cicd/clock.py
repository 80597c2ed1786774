"""The one seam through which the control plane reads time and waits.

On AWS this is the wall clock (``WallClock``). The embedded AWS swaps in its simulated clock
(local/genai_cicd_local/embedded/clock.py) for the whole process with ``use``, so that bakes,
polls, lock TTLs and timestamps advance with simulated time and no outcome depends on how busy
the machine is. Deployed code never calls ``use``.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class WallClock:
    def time(self) -> float:
        return _time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)


_current: Clock = WallClock()


def use(clock: Clock) -> Clock:
    """Make ``clock`` the process's clock; returns the one it replaces (restore it when done)."""
    global _current
    previous, _current = _current, clock
    return previous


def now() -> float:
    return _current.time()


def utc_now() -> datetime:
    return datetime.fromtimestamp(_current.time(), tz=UTC)


def sleep(seconds: float) -> None:
    _current.sleep(seconds)
