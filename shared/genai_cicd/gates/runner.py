"""Run model calls concurrently, adapting to throttling (docs/RELIABILITY.md, docs/BENCHMARKS.md).

Concurrency follows AIMD: a throttled call halves the limit (never below
one) and is retried with exponential backoff and full jitter; a run of
successes raises the limit by one, up to the configured maximum. Other
transient failures (5xx, model errors, timeouts) are retried with the same
backoff without shrinking. A call that
still fails after the last attempt is returned as an error: the caller counts
it against the gate, it is never dropped and never a pass.
"""

from __future__ import annotations

import contextvars
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from genai_cicd import clock as clock_seam
from genai_cicd.providers.base import ProviderError, ProviderThrottled, ProviderTransient

T = TypeVar("T")
R = TypeVar("R")


class AdaptiveLimit:
    """A semaphore whose size shrinks on throttling and grows back on success."""

    def __init__(self, maximum: int, increase_after: int = 10) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self._in_flight = 0
        self._successes = 0
        self._increase_after = increase_after
        self._cond = threading.Condition()
        self.throttle_events = 0
        self.min_limit_seen = self.limit

    def __enter__(self) -> AdaptiveLimit:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def on_success(self) -> None:
        with self._cond:
            self._successes += 1
            if self._successes >= self._increase_after and self.limit < self.maximum:
                self.limit += 1
                self._successes = 0
                self._cond.notify_all()

    def on_throttle(self) -> None:
        with self._cond:
            self.throttle_events += 1
            self._successes = 0
            self.limit = max(1, self.limit // 2)
            self.min_limit_seen = min(self.min_limit_seen, self.limit)


@dataclass
class Outcome(Generic[T, R]):
    item: T
    result: R | None
    error: str | None
    attempts: int


@dataclass
class RunStats:
    calls: int
    errors: int
    throttle_events: int
    min_concurrency: int
    seconds: float


def run_all(
    items: Sequence[T],
    call: Callable[[T], R],
    *,
    concurrency: int,
    max_attempts: int = 6,
    base_backoff: float = 0.05,
    max_backoff: float = 5.0,
    max_throttle_seconds: float = 60.0,
    sleep: Callable[[float], None] = clock_seam.sleep,
) -> tuple[list[Outcome[T, R]], RunStats]:
    """Call ``call`` on every item; results keep the order of ``items``.

    A transient error uses one of ``max_attempts``. Throttling does not: under a
    quota every caller is throttled in turn, so a case retries until it has backed
    off ``max_throttle_seconds`` in total, then counts as an error (never a pass).
    """
    limit = AdaptiveLimit(concurrency)
    rng = random.Random(0x5EED)
    rng_lock = threading.Lock()

    def one(item: T) -> Outcome[T, R]:
        last_error = "not attempted"
        attempt = tries = 0
        throttled_for = 0.0
        while attempt < max_attempts and throttled_for <= max_throttle_seconds:
            tries += 1
            throttled = False
            with limit:
                try:
                    result = call(item)
                except ProviderThrottled as exc:
                    limit.on_throttle()
                    last_error = f"throttled: {exc}"
                    throttled = True
                except ProviderTransient as exc:
                    last_error = f"transient: {exc}"
                    attempt += 1
                except ProviderError as exc:
                    return Outcome(item, None, f"provider error: {exc}", tries)
                else:
                    limit.on_success()
                    return Outcome(item, result, None, tries)
            with rng_lock:
                jitter = rng.random()
            pause = min(max_backoff, base_backoff * 2 ** min(tries - 1, 30)) * jitter
            if throttled:
                throttled_for += pause
            sleep(pause)
        why = "throttled for longer than the budget" if throttled_for > max_throttle_seconds else \
            f"gave up after {attempt} attempts"
        return Outcome(item, None, f"{why} ({last_error})", tries)

    started = time.perf_counter()
    # Workers run in the caller's context (contextvars), so per-invocation context follows the calls.
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        outcomes = list(pool.map(lambda item: context.copy().run(one, item), items))
    stats = RunStats(
        calls=len(outcomes),
        errors=sum(1 for o in outcomes if o.error),
        throttle_events=limit.throttle_events,
        min_concurrency=limit.min_limit_seen,
        seconds=time.perf_counter() - started,
    )
    return outcomes, stats
