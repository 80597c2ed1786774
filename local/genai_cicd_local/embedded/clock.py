"""SimulatedClock: the one clock of the embedded AWS (simulated, not the machine's).

Time moves only when something waits: a Step Functions Wait state, a Retry's backoff, a
handler polling AppConfig, the gate runner backing off a throttle. A wait of ``s`` seconds
moves the clock to (the time the wait began) + ``s`` at once, and computation takes no
simulated time at all. So the number of app requests in a canary interval, a lock's TTL or an
AppConfig rollout's progress is a property of the simulation, never of how busy the machine is.

Sources (the app's traffic) register with ``add_source``: when the clock moves from t0 to t1
it asks each source for the events in [t0, t1), merges them in time order and runs each with
the clock set to its time, before the wait returns. Queues (Lambda's asynchronous queue, CloudWatch's
ingestion) are asked again after each event, so what an event queues inside the move (a shadow request
a user's request sends) runs in that move at its own time. Tests that must act while a release waits
(a cancel landing mid-canary) ``hold()`` the clock: executions' Wait states then block, as they
would on AWS, until the hold is released or the execution is stopped.

Concurrent waits (parallel branches) each start from the clock as they find it, so the clock
ends at the latest of them; their exact interleaving is the one thing left to the scheduler.
The control plane reads this clock through genai_cicd.clock (installed with ``install``).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from genai_cicd import clock as clock_seam

# Simulated time starts here in every run, so the same seed gives the same reports.
EPOCH = datetime(2026, 6, 1, 9, 0, tzinfo=UTC).timestamp()

# A source returns the events of [start, end): (time, action) pairs, in any order.
Source = Callable[[float, float], list[tuple[float, Callable[[], None]]]]
# Entered around a move's events when its source has any (the app's metrics put as one batch).
Around = Callable[[], contextlib.AbstractContextManager[None]]


class SimulatedClock:
    def __init__(self, start: float = EPOCH) -> None:
        self._now = start
        self.started = start
        self._advance = threading.RLock()  # one move at a time; sources run under it
        self._held = threading.Condition()
        self._holds = 0
        self._sources: list[tuple[Source, Around | None, bool]] = []

    # -- the genai_cicd.clock interface --------------------------------------------
    def time(self) -> float:
        return self._now

    def utc_now(self) -> datetime:
        return datetime.fromtimestamp(self._now, tz=UTC)

    def sleep(self, seconds: float, interrupted: Callable[[], bool] | None = None) -> None:
        """Wait ``seconds`` of simulated time: at once, unless the clock is held.

        A hold parks only the waits of executions (those given ``interrupted``: has the waiting execution
        been stopped?), which then end without moving the clock once it has; a handler's poll goes on.
        """
        if seconds <= 0:
            return
        target = self._now + seconds
        if interrupted is not None:
            with self._held:
                while self._holds and not interrupted():
                    self._held.wait(0.05)
            if interrupted():
                return
        self.advance_to(target)

    # -- moving the clock ------------------------------------------------------------
    def advance_to(self, target: float) -> None:
        with self._advance:
            start = self._now
            if target <= start:
                return
            # In time order, and what an event schedules inside the span (an asynchronous invocation a
            # request queues, a datapoint that becomes visible) runs in the same move, at its own time.
            queue: list[tuple[float, int, int, Callable[[], None]]] = []
            order = itertools.count()
            scopes: list[Around] = []

            def poll(first: bool) -> None:
                for i, (source, around, queue_like) in enumerate(self._sources):
                    if not (first or queue_like):
                        continue
                    mine = [(t, action) for t, action in source(self._now, target) if t < target]
                    for t, action in mine:
                        heapq.heappush(queue, (max(t, self._now), i, next(order), action))
                    if mine and around is not None and around not in scopes:
                        scopes.append(around)

            poll(True)
            with contextlib.ExitStack() as stack:
                for around in scopes:
                    stack.enter_context(around())
                while queue:
                    t, _, _, action = heapq.heappop(queue)
                    self._now = max(self._now, t)
                    action()
                    poll(False)
            self._now = target

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + seconds)

    def add_source(self, source: Source, around: Around | None = None, queue: bool = False) -> None:
        """``queue``: the source hands out each event once (it pops what it returns), so it is asked again
        after every event of a move, and what an event queues inside the move runs in it. Other sources
        are asked once per move."""
        with self._advance:
            self._sources.append((source, around, queue))

    def remove_source(self, source: Source) -> None:
        with self._advance:
            self._sources = [entry for entry in self._sources if entry[0] != source]

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """While held, executions' Wait states block (the release sits in its bake, as on AWS)."""
        with self._held:
            self._holds += 1
        try:
            yield
        finally:
            with self._held:
                self._holds -= 1
                self._held.notify_all()

    @property
    def elapsed(self) -> float:
        """Simulated seconds since the clock started."""
        return self._now - self.started


@contextlib.contextmanager
def installed(clock: SimulatedClock) -> Iterator[SimulatedClock]:
    """The process reads ``clock`` through genai_cicd.clock (and the app layer's seam) while inside."""
    import genai_cicd_app

    previous = clock_seam.use(clock)
    previous_app = genai_cicd_app.use_clock(clock.time)
    restore_cache = powertools_cache_on(clock)
    try:
        yield clock
    finally:
        restore_cache()
        clock_seam.use(previous)
        genai_cicd_app.use_clock(previous_app)


POWERTOOLS_PARAMETERS = "aws_lambda_powertools.utilities.parameters.base"


def powertools_cache_on(clock: SimulatedClock) -> Callable[[], None]:
    """Powertools Parameters' cache (``max_age``) expires on ``clock``: it stamps and checks entries with
    ``datetime.now()`` in its base module (tests/contract/test_simulated_time_hooks.py holds this), so a
    5-second flag cache lasts 5 simulated seconds whatever the machine's speed. Every cache starts empty,
    so nothing read under another clock (another embedded stack of the same process) is served."""
    import datetime as _datetime
    import importlib

    base = importlib.import_module(POWERTOOLS_PARAMETERS)

    class SimulatedNow(_datetime.datetime):
        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> SimulatedNow:  # type: ignore[override]
            stamp = _datetime.datetime.fromtimestamp(clock.time(), tz=tz or _datetime.UTC)
            return cls.fromisoformat((stamp if tz else stamp.replace(tzinfo=None)).isoformat())

    saved = getattr(base, "datetime")  # noqa: B009 - the name the module reads, swapped and put back
    base.clear_caches()
    setattr(base, "datetime", SimulatedNow)  # noqa: B010

    def restore() -> None:
        setattr(base, "datetime", saved)  # noqa: B010
        base.clear_caches()

    return restore
