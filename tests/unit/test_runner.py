"""The runner adapts to throttling and never turns a failed call into a result."""

from __future__ import annotations

import threading

from genai_cicd.gates.runner import run_all
from genai_cicd.providers.base import ProviderError, ProviderThrottled, ProviderTransient


class QuotaProvider:
    """Throttles whenever more than ``allowed`` calls are in flight."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.in_flight = 0
        self.lock = threading.Lock()

    def __call__(self, item: int) -> int:
        with self.lock:
            self.in_flight += 1
            over = self.in_flight > self.allowed
        try:
            if over:
                raise ProviderThrottled("ThrottlingException")
            threading.Event().wait(0.002)
            return item * 2
        finally:
            with self.lock:
                self.in_flight -= 1


def test_given_throttling_when_running_then_concurrency_shrinks_and_every_item_completes() -> None:
    outcomes, stats = run_all(list(range(60)), QuotaProvider(allowed=2), concurrency=8, max_attempts=12,
                              base_backoff=0.001, sleep=lambda s: None)
    assert stats.errors == 0
    assert [o.result for o in outcomes] == [i * 2 for i in range(60)]
    assert stats.throttle_events > 0 and stats.min_concurrency <= 4


def test_given_permanent_throttling_when_running_then_items_are_errors_not_results() -> None:
    def always(_: int) -> int:
        raise ProviderThrottled("ThrottlingException")

    outcomes, stats = run_all([1, 2, 3], always, concurrency=2, max_attempts=3, max_throttle_seconds=5.0,
                              sleep=lambda s: None)
    assert stats.errors == 3 and all(o.result is None and "throttled" in (o.error or "") for o in outcomes)
    assert all(o.attempts > 3 for o in outcomes)  # throttling is not a transient error: it has its own budget


def test_given_transient_errors_when_running_then_they_use_up_max_attempts() -> None:
    def flaky(_: int) -> int:
        raise ProviderTransient("ModelErrorException")

    outcomes, _ = run_all([1], flaky, concurrency=1, max_attempts=3, sleep=lambda s: None)
    assert outcomes[0].attempts == 3 and "gave up after 3 attempts" in (outcomes[0].error or "")


def test_given_a_non_retryable_error_when_running_then_not_retried() -> None:
    calls = []

    def bad(item: int) -> int:
        calls.append(item)
        raise ProviderError("ValidationException")

    outcomes, _ = run_all([1], bad, concurrency=1, sleep=lambda s: None)
    assert calls == [1] and outcomes[0].error is not None
