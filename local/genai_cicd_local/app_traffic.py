"""Traffic for the sample app while a local release runs, so real metrics reach CloudWatch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrafficGenerator:
    """Drives the sample app while a release runs, so real metrics reach CloudWatch."""

    invoke: Callable[[dict[str, Any]], None]
    questions: list[str]
    rate_per_second: float = 40.0
    sent: int = 0
    # Traffic flows once the canary starts: before that it would only compete with the gates
    # for the one interpreter the embedded AWS runs in.
    active: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_second
        i = 0
        while not self.active.wait(0.05):
            if self._stop.is_set():
                return
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.invoke({"question": self.questions[i % len(self.questions)]})
            self.sent += 1
            i += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
