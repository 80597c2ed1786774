"""The embedded AWS's simulated clock and simulated users: time moves only when something waits,
and what happens in a span of simulated time never depends on how fast the machine runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from genai_cicd import clock as clock_seam
from genai_cicd_local.app_traffic import SimulatedUsers, TrafficShape
from genai_cicd_local.embedded.clock import EPOCH, SimulatedClock, installed

QUESTIONS = ["how long is the free trial", "how do I reset my password", "can I pay by invoice"]


def test_given_a_wait_then_the_clock_moves_by_exactly_that_and_no_wall_time_passes() -> None:
    clock = SimulatedClock()
    began = time.monotonic()
    clock.sleep(3600)
    assert clock.time() == EPOCH + 3600 and clock.elapsed == 3600
    assert time.monotonic() - began < 1.0
    clock.sleep(0)
    clock.sleep(-5)
    assert clock.time() == EPOCH + 3600


def test_given_two_waits_begun_at_the_same_instant_then_the_clock_ends_at_the_longer() -> None:
    clock = SimulatedClock()
    with clock.hold():
        threads = [threading.Thread(target=clock.sleep, args=(s,), kwargs={"interrupted": lambda: False})
                   for s in (60, 300)]
        for t in threads:
            t.start()
        time.sleep(0.1)
        assert clock.time() == EPOCH  # held: both wait, as a Wait state does on AWS
    for t in threads:
        t.join(5)
    assert clock.time() == EPOCH + 300


def test_given_a_held_clock_then_a_handler_poll_still_moves_it() -> None:
    clock = SimulatedClock()
    with clock.hold():
        clock.sleep(5)  # no execution to park: an AppConfig poll inside a cancel must not deadlock
    assert clock.time() == EPOCH + 5


def test_given_a_held_clock_when_the_waiting_execution_is_stopped_then_the_wait_ends_without_moving_time() -> None:
    clock = SimulatedClock()
    stopped = threading.Event()
    with clock.hold():
        t = threading.Thread(target=clock.sleep, args=(300,), kwargs={"interrupted": stopped.is_set})
        t.start()
        stopped.set()
        t.join(5)
        assert not t.is_alive()
    assert clock.time() == EPOCH


def test_given_sources_then_their_events_run_in_time_order_at_their_time_inside_their_scope() -> None:
    clock = SimulatedClock()
    seen: list[tuple[str, float]] = []
    scopes: list[str] = []

    @contextmanager
    def scope() -> Iterator[None]:
        scopes.append("open")
        yield
        scopes.append("close")

    def source(name: str, offsets: list[float]) -> Any:
        def events(start: float, end: float) -> list[tuple[float, Any]]:
            return [(EPOCH + o, lambda o=o: seen.append((name, clock.time() - EPOCH))) for o in offsets]
        return events

    a, b = source("a", [5.0, 1.0, 70.0]), source("b", [3.0])
    clock.add_source(a, around=scope)
    clock.add_source(b)
    clock.advance(60)
    assert seen == [("a", 1.0), ("b", 3.0), ("a", 5.0)]  # 70 s lies outside [0, 60)
    assert scopes == ["open", "close"] and clock.elapsed == 60
    clock.remove_source(a)
    clock.advance(60)
    assert scopes == ["open", "close"]


def test_given_the_seam_installed_then_deployed_code_reads_the_simulated_clock_and_gets_the_wall_back() -> None:
    import genai_cicd_app

    clock = SimulatedClock()
    with installed(clock):
        clock_seam.sleep(90)
        assert clock_seam.now() == EPOCH + 90
        assert clock_seam.utc_now().timestamp() == EPOCH + 90
        assert genai_cicd_app._clock() == EPOCH + 90
    assert abs(clock_seam.now() - time.time()) < 5
    assert abs(genai_cicd_app._clock() - time.time()) < 5


def _arrivals(shape: TrafficShape, cuts: list[float], seed: int = 11) -> list[tuple[float, dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    users = SimulatedUsers(sent.append, QUESTIONS, shape, seed, EPOCH)
    out: list[tuple[float, dict[str, Any]]] = []
    for start, end in zip([0.0, *cuts], cuts, strict=False):
        for t, send in users.arrivals(EPOCH + start, EPOCH + end):
            send()
            out.append((t - EPOCH, sent[-1]))
    return out


def test_given_the_same_seed_then_the_same_requests_arrive_however_the_span_is_cut_into_waits() -> None:
    shape = TrafficShape(rate_per_second=20, burst_every_seconds=120, burst_seconds=20, burst_factor=4)
    whole = _arrivals(shape, [600.0])
    minutes = _arrivals(shape, [60.0 * i for i in range(1, 11)])
    seconds = _arrivals(shape, [float(i) for i in range(1, 601)])
    assert whole == minutes == seconds
    assert _arrivals(shape, [600.0], seed=12) != whole


@pytest.mark.parametrize("rate", [0.5, 20.0])
def test_given_a_rate_then_the_count_in_an_hour_is_poisson_around_it(rate: float) -> None:
    count = len(_arrivals(TrafficShape(rate_per_second=rate), [3600.0]))
    expected = rate * 3600
    assert abs(count - expected) < 5 * expected ** 0.5  # five standard deviations


def test_given_bursts_then_more_requests_arrive_inside_them_than_outside() -> None:
    shape = TrafficShape(rate_per_second=10, burst_every_seconds=100, burst_seconds=20, burst_factor=5)
    arrivals = _arrivals(shape, [2000.0])
    inside = sum(1 for t, _ in arrivals if t % 100 < 20) / 20
    outside = sum(1 for t, _ in arrivals if t % 100 >= 20) / 80
    assert 3.5 < inside / outside < 6.5


def test_given_sessions_then_a_session_sends_several_requests_and_some_users_send_many() -> None:
    arrivals = _arrivals(TrafficShape(rate_per_second=20, users=200, session_requests=6), [600.0])
    sessions: dict[str, int] = {}
    users: dict[str, int] = {}
    for _, request in arrivals:
        sessions[request["session_id"]] = sessions.get(request["session_id"], 0) + 1
        user = request["session_id"].split("-session-")[0]
        users[user] = users.get(user, 0) + 1
    mean_session = sum(sessions.values()) / len(sessions)
    assert 4 < mean_session < 8
    busiest = sorted(users.values(), reverse=True)
    assert busiest[0] > 4 * (len(arrivals) / 200)  # heavy users exist (Gamma activity)


def test_given_a_slow_app_then_the_same_requests_arrive_in_each_interval() -> None:
    """No outcome may depend on machine speed: a handler 50 times slower changes no count."""
    counts: list[list[int]] = []
    for delay in (0.0, 0.002):
        clock = SimulatedClock()

        def app(_: dict[str, Any], delay: float = delay) -> None:
            if delay:
                time.sleep(delay)

        users = SimulatedUsers(app, QUESTIONS, TrafficShape(rate_per_second=5), 3, clock.time())
        clock.add_source(users.arrivals)
        per_interval = []
        for _ in range(5):
            before = users.sent
            clock.sleep(10)
            per_interval.append(users.sent - before)
        counts.append(per_interval)
    assert counts[0] == counts[1] and sum(counts[0]) > 0


def test_given_a_bad_shape_then_it_is_refused() -> None:
    with pytest.raises(ValueError):
        TrafficShape(rate_per_second=-1)
    with pytest.raises(ValueError):
        TrafficShape(users=0)


def test_given_an_event_that_schedules_another_within_the_move_then_it_runs_in_that_move_at_its_own_time() -> None:
    """An asynchronous invocation a request queues runs when its time comes, not at the next move (the app's
    shadow answer of minute 1 must be there for the look at the end of minute 1)."""
    from genai_cicd_local.embedded.async_invocations import AsyncDelivery, AsyncInvocations

    clock = SimulatedClock()
    ran: list[tuple[str, float]] = []
    queue = AsyncInvocations(lambda fn, body: ran.append((fn, clock.time())) or None, clock.time,
                             AsyncDelivery(base_seconds=1.0, jitter_seconds=0.0, duplicate_rate=0.0))
    clock.add_source(queue.source, queue=True)
    clock.add_source(lambda start, end: [(t, lambda: queue.enqueue("app", b"{}"))
                                         for t in (EPOCH + 10, EPOCH + 58.5) if start <= t < end])
    clock.sleep(60)
    assert ran == [("app", EPOCH + 11), ("app", EPOCH + 59.5)]  # both in this move, each at its own time
    clock.add_source(lambda start, end: [(EPOCH + 119.5, lambda: queue.enqueue("app", b"{}"))]
                     if start <= EPOCH + 119.5 < end else [])
    clock.sleep(60)
    # due at 120.5: after this move, so it waits for the next
    assert ran[-1] == ("app", EPOCH + 59.5) and queue.pending == 1
    clock.sleep(1)
    assert ran[-1] == ("app", EPOCH + 120.5)
