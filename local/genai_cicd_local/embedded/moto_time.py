"""moto's Step Functions engine on the simulated clock.

The engine (LocalStack's interpreter inside moto) waits with ``threading.Event.wait`` in Wait
states, ``time.sleep`` between a Retry's attempts, and stamps executions and history events
with ``datetime.datetime.now``. Those three are rerouted here to SimulatedClock, so a Wait of
300 seconds is 300 simulated seconds (and no wall time), ``$$.Execution.StartTime`` is simulated
time, and a stopped execution still leaves its Wait at once. Task timeouts
(``TimeoutSeconds`` on a Task) stay on the wall clock: computation takes no simulated time,
so they bound CPU, as a Lambda timeout does. moto is pinned; tests/contract holds these hooks.
"""

from __future__ import annotations

import datetime as _datetime
import importlib
import types
from collections.abc import Callable
from typing import Any

from genai_cicd_local.embedded.clock import SimulatedClock

PARSER = "moto.stepfunctions.parser"
# Modules whose `datetime.datetime.now()` stamps executions, states, map runs and history events.
STAMPING_MODULES = (
    f"{PARSER}.models", f"{PARSER}.backend.execution",
    f"{PARSER}.asl.eval.event.event_manager", f"{PARSER}.asl.component.state.state",
    f"{PARSER}.asl.component.state.exec.state_map.iteration.itemprocessor.map_run_record",
    f"{PARSER}.asl.component.state.exec.state_parallel.branches_decl",
    f"{PARSER}.asl.component.state.wait.wait_function.timestamp",
)
RETRIER = f"{PARSER}.asl.component.common.retry.retrier_decl"


def _datetime_module(clock: SimulatedClock) -> types.SimpleNamespace:
    class SimulatedDatetime(_datetime.datetime):
        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> SimulatedDatetime:  # type: ignore[override]
            stamp = _datetime.datetime.fromtimestamp(clock.time(), tz=tz or _datetime.UTC)
            if tz is None:
                stamp = stamp.replace(tzinfo=None)  # naive, as datetime.now() is (moto compares naive ones)
            return cls.fromisoformat(stamp.isoformat())

    return types.SimpleNamespace(datetime=SimulatedDatetime, timezone=_datetime.timezone,
                                 timedelta=_datetime.timedelta, UTC=_datetime.UTC)


def patch(clock: SimulatedClock) -> Callable[[], None]:
    """Put the engine on ``clock``; returns the function that restores it."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    saved: list[tuple[Any, str, Any]] = []

    def swap(owner: Any, name: str, value: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def wait_interval(_self: Any, env: Any, wait_seconds: int) -> None:
        clock.sleep(wait_seconds, interrupted=lambda: not env.is_running())

    swap(WaitFunction, "_wait_interval", wait_interval)
    retrier = importlib.import_module(RETRIER)
    swap(retrier, "time", types.SimpleNamespace(sleep=clock.sleep, time=clock.time))
    shim = _datetime_module(clock)
    for name in STAMPING_MODULES:
        swap(importlib.import_module(name), "datetime", shim)

    def restore() -> None:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)

    return restore
