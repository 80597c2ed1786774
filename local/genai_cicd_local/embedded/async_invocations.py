"""Asynchronous Lambda invocations (``InvocationType=Event``): queued, late, retried, sometimes twice.

On AWS, Invoke with InvocationType Event puts the event on the function's queue and returns 202 at
once; Lambda runs it later, retries it twice more when the function errors (about 1 and 2 minutes
apart), and, the Lambda Developer Guide warns, may deliver the same event more than once "because
the queue itself is eventually consistent" ("How Lambda handles errors and retries with
asynchronous invocation"). AWS publishes no figure for the queueing delay.

The embedded default, named here and in docs/EMBEDDED.md: an event runs 1 s after it was queued
plus up to 2 s more (seeded), a failed run is retried 60 s and then 120 s later, and one event in a
hundred is delivered a second time 5 s after the first. The queue is a source of the simulated
clock: an event runs when simulated time reaches it (an event queued while the clock moves runs at
the start of its next move, never earlier).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass

RETRY_DELAYS = (60.0, 120.0)  # Lambda's two retries of a failed asynchronous invocation


@dataclass(frozen=True)
class AsyncDelivery:
    base_seconds: float = 1.0
    jitter_seconds: float = 2.0
    duplicate_rate: float = 0.01
    duplicate_after_seconds: float = 5.0


def _unit(seed: int, *parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class AsyncInvocations:
    """Events queued by Invoke (Event); ``run(function, body)`` returns the function error or None."""

    def __init__(self, run: Callable[[str, bytes], str | None], now: Callable[[], float],
                 delivery: AsyncDelivery = AsyncDelivery(), seed: int = 7) -> None:
        self._run = run
        self._now = now
        self.delivery = delivery
        self._seed = seed
        self._queue: list[tuple[float, int, str, bytes, int]] = []  # (at, order, function, body, attempt)
        self._order = itertools.count()
        self._lock = threading.Lock()
        self.queued = 0
        self.delivered = 0
        self.failed: list[tuple[str, int]] = []  # (function, attempt) of runs that returned a function error

    def enqueue(self, function: str, body: bytes) -> None:
        d = self.delivery
        with self._lock:
            n = next(self._order)
            at = self._now() + d.base_seconds + d.jitter_seconds * _unit(self._seed, "delay", function, n)
            heapq.heappush(self._queue, (at, n, function, body, 0))
            if d.duplicate_rate > 0 and _unit(self._seed, "dup", function, n) < d.duplicate_rate:
                heapq.heappush(self._queue, (at + d.duplicate_after_seconds, next(self._order), function, body, 0))
            self.queued += 1

    def _deliver(self, function: str, body: bytes, attempt: int) -> None:
        error = self._run(function, body)
        with self._lock:
            self.delivered += 1
            if error is not None:
                self.failed.append((function, attempt))
                if attempt < len(RETRY_DELAYS):
                    heapq.heappush(self._queue, (self._now() + RETRY_DELAYS[attempt], next(self._order), function,
                                                 body, attempt + 1))

    def source(self, start: float, end: float) -> list[tuple[float, Callable[[], None]]]:
        """The clock's source: the events due before ``end``, each run at its time (or at ``start``)."""
        due: list[tuple[float, Callable[[], None]]] = []
        with self._lock:
            while self._queue and self._queue[0][0] < end:
                at, _, function, body, attempt = heapq.heappop(self._queue)
                due.append((max(at, start), functools.partial(self._deliver, function, body, attempt)))
        return due

    @property
    def pending(self) -> int:
        return len(self._queue)
