"""The embedded Lambda asynchronous queue: later than the call, retried on error, sometimes delivered twice."""

from __future__ import annotations

from genai_cicd_local.embedded.async_invocations import RETRY_DELAYS, AsyncDelivery, AsyncInvocations
from genai_cicd_local.embedded.clock import EPOCH, SimulatedClock


def test_an_event_runs_after_its_delay_never_at_the_call() -> None:
    clock = SimulatedClock()
    ran: list[float] = []
    queue = AsyncInvocations(lambda fn, body: ran.append(clock.time()) or None, clock.time,
                             AsyncDelivery(base_seconds=1.0, jitter_seconds=2.0, duplicate_rate=0.0))
    clock.add_source(queue.source, queue=True)
    for _ in range(50):
        queue.enqueue("fn", b"{}")
    assert ran == []  # Invoke (Event) returns before anything runs
    clock.sleep(10)
    assert len(ran) == 50 and all(EPOCH + 1.0 <= t <= EPOCH + 3.0 for t in ran)
    assert len(set(ran)) > 40  # spread by the seeded jitter


def test_a_failed_run_is_retried_twice_more_then_dropped() -> None:
    clock = SimulatedClock()
    ran: list[float] = []
    queue = AsyncInvocations(lambda fn, body: ran.append(clock.time()) or "Unhandled", clock.time,
                             AsyncDelivery(base_seconds=1.0, jitter_seconds=0.0, duplicate_rate=0.0))
    clock.add_source(queue.source, queue=True)
    queue.enqueue("fn", b"{}")
    clock.sleep(3600)
    assert ran == [EPOCH + 1, EPOCH + 1 + RETRY_DELAYS[0], EPOCH + 1 + RETRY_DELAYS[0] + RETRY_DELAYS[1]]
    assert [attempt for _, attempt in queue.failed] == [0, 1, 2]


def test_some_events_are_delivered_twice_as_lambda_warns() -> None:
    clock = SimulatedClock()
    bodies: list[bytes] = []
    queue = AsyncInvocations(lambda fn, body: bodies.append(body) or None, clock.time,
                             AsyncDelivery(duplicate_rate=0.05))
    clock.add_source(queue.source, queue=True)
    for i in range(1000):
        queue.enqueue("fn", str(i).encode())
    clock.sleep(60)
    assert queue.queued == 1000 and 1020 < len(bodies) < 1085
    assert len(set(bodies)) == 1000  # every event at least once
