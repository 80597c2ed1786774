"""Breakpoints in the local Step Functions engine: an execution pauses right after a named state.

A test that must act at one point of a release (stop the execution right after ShiftTraffic, say)
sets a breakpoint instead of polling the history and hoping the release has not gone on: the
execution finishes the state, records its exit, and waits there until the test releases it or
stops the execution. Nothing deployed knows about it; it wraps moto's state evaluation
(``CommonStateField._eval_body``), which tests/contract/test_simulated_time_hooks.py holds.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Breakpoint:
    execution: str
    state: str
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


class Breakpoints:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set: dict[tuple[str, str], Breakpoint] = {}

    @contextlib.contextmanager
    def after(self, execution: str, state: str) -> Iterator[Breakpoint]:
        """Pause execution ``execution`` (its name) right after ``state`` while inside; released on the way out."""
        point = Breakpoint(execution, state)
        with self._lock:
            self._set[(execution, state)] = point
        try:
            yield point
        finally:
            point.release()
            with self._lock:
                self._set.pop((execution, state), None)

    def _hit(self, execution: str, state: str, running: Callable[[], bool]) -> None:
        with self._lock:
            point = self._set.get((execution, state))
        if point is None:
            return
        point.reached.set()
        while running() and not point.released.wait(0.05):
            pass

    def patch(self) -> Callable[[], None]:
        """Wrap moto's state evaluation; returns the function that restores it."""
        from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

        original = CommonStateField._eval_body
        breakpoints = self

        def eval_body(state: Any, env: Any) -> None:
            original(state, env)
            if breakpoints._set:
                execution = env.states.context_object.context_object_data.get("Execution", {}).get("Name", "")
                breakpoints._hit(execution, state.name, env.is_running)

        CommonStateField._eval_body = eval_body  # type: ignore[method-assign,assignment]

        def restore() -> None:
            CommonStateField._eval_body = original  # type: ignore[method-assign]

        return restore
