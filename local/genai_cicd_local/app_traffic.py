"""Users of the sample app, simulated: a seeded arrival process in simulated time.

Requests arrive as a Poisson process at ``rate_per_second`` (times ``burst_factor`` during
bursts), each from one of ``users`` users whose activity varies (Gamma-distributed weights:
a few users send most requests), in sessions of about ``session_requests`` requests. The
session id goes with the request, so the app keeps a conversation on one variant, as it does
for real users. Every request goes through the sample app's own handler at its simulated
arrival time, so every metric the canary judges comes from the app's code.

The process is a source of the SimulatedClock: when a release waits (a bake), the clock asks
for the arrivals in the waited span and delivers them in time order before the wait returns.
How many requests fall in an interval is a property of this process and its seed, never of
the machine's speed.
"""

from __future__ import annotations

import bisect
import functools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from genai_cicd_local.embedded.clock import SimulatedClock


@dataclass(frozen=True)
class TrafficShape:
    """What the users look like. The defaults are the demo's: sticky users, sessions, no bursts."""

    rate_per_second: float = 20.0
    users: int = 400
    # Gamma shape of the users' activity: 1.0 is exponential; smaller is heavier (a few very active users).
    user_activity_shape: float = 1.0
    session_requests: float = 6.0  # mean requests per session (geometric)
    burst_every_seconds: float = 0.0  # 0: no bursts
    burst_seconds: float = 30.0
    burst_factor: float = 3.0

    def __post_init__(self) -> None:
        if self.rate_per_second < 0 or self.users < 1 or self.session_requests < 1 or self.burst_factor < 1:
            raise ValueError(f"invalid traffic shape: {self}")

    def rate_at(self, t: float) -> float:
        if self.burst_every_seconds > 0 and t % self.burst_every_seconds < self.burst_seconds:
            return self.rate_per_second * self.burst_factor
        return self.rate_per_second

    @property
    def peak_rate(self) -> float:
        return self.rate_per_second * (self.burst_factor if self.burst_every_seconds > 0 else 1.0)


class SimulatedUsers:
    """Arrivals of ``shape`` from simulated time ``start``, each sent through ``invoke``."""

    def __init__(self, invoke: Callable[[dict[str, Any]], None], questions: list[str], shape: TrafficShape,
                 seed: int, start: float) -> None:
        if not questions:
            raise ValueError("no questions to ask")
        self._invoke = invoke
        self._questions = questions
        self.shape = shape
        self._rng = random.Random(seed)
        weights = [self._rng.gammavariate(shape.user_activity_shape, 1.0) for _ in range(shape.users)]
        self._cumulative = list(accumulate(weights))
        self._sessions: dict[int, tuple[int, int]] = {}  # user -> (session number, requests left in it)
        self._next = start + self._gap()
        self.sent = 0

    def _gap(self) -> float:
        peak = self.shape.peak_rate
        return self._rng.expovariate(peak) if peak > 0 else float("inf")

    def _request(self) -> dict[str, Any]:
        user = bisect.bisect_left(self._cumulative, self._rng.random() * self._cumulative[-1])
        number, left = self._sessions.get(user, (0, 0))
        if left <= 0:
            # Geometric session length with the shape's mean.
            number, left = number + 1, 1
            while self._rng.random() > 1.0 / self.shape.session_requests:
                left += 1
        self._sessions[user] = (number, left - 1)
        return {"question": self._rng.choice(self._questions), "session_id": f"user-{user}-session-{number}"}

    def arrivals(self, start: float, end: float) -> list[tuple[float, Callable[[], None]]]:
        """The requests of [start, end), drawn now (thinning a Poisson process at the peak rate)."""
        events: list[tuple[float, Callable[[], None]]] = []
        peak = self.shape.peak_rate
        while self._next < end:
            t = self._next
            self._next += self._gap()
            if t < start or self._rng.random() * peak > self.shape.rate_at(t):
                continue
            events.append((t, functools.partial(self._send, self._request())))
        return events

    def _send(self, request: dict[str, Any]) -> None:
        self.sent += 1
        self._invoke(request)


class AppTraffic:
    """SimulatedUsers attached to the embedded AWS's clock while a release runs (a context manager)."""

    def __init__(self, clock: SimulatedClock, runtime: Any, function_name: str, questions: list[str],
                 shape: TrafficShape, seed: int) -> None:
        self._clock = clock
        self._runtime = runtime
        self._function = function_name
        self.users = SimulatedUsers(self._call, questions, shape, seed, clock.time())

    def _call(self, request: dict[str, Any]) -> None:
        self._runtime.invoke(self._function, json.dumps(request).encode())

    @property
    def sent(self) -> int:
        return self.users.sent

    def __enter__(self) -> AppTraffic:
        self._clock.add_source(self.users.arrivals, around=self._runtime.metric_batch)
        return self

    def __exit__(self, *exc: object) -> None:
        self._clock.remove_source(self.users.arrivals)
