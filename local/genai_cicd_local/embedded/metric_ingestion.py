"""When an EMF datapoint becomes queryable in the embedded CloudWatch: late, per arm, and sometimes twice.

On AWS a function's EMF line becomes a metric only once CloudWatch Logs has received and processed the
log event; the EMF alarm guidance warns of "partial or missing data" for recent periods, and the EMF
specification says extraction is at least once ("duplicate metric values may occasionally occur").
AWS publishes no figure for that latency (PutMetricData documents hours only for back-dated points).
The embedded default, named here and in docs/EMBEDDED.md, is a datapoint queryable 30 s after its
second plus up to 30 s more per arm (seeded, so each run repeats), and one EMF line in 10,000 extracted
twice. The canary plan's ``metric_settle_seconds`` (default 120) covers the default delay.

The queue is a source of the simulated clock: a datapoint is put into moto's CloudWatch when simulated
time reaches the moment it becomes visible, never earlier.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[Any, ...]  # (namespace, metric, dimensions, unit, stamp)
Stats = list[Any]  # [sum, minimum, maximum, sample count, values (optional)]


@dataclass(frozen=True)
class IngestionDelay:
    base_seconds: float = 30.0
    arm_jitter_seconds: float = 30.0  # each datapoint of an arm waits up to this much more (seeded)
    arm_extra_seconds: dict[str, float] = field(default_factory=dict)  # variant -> fixed extra delay (tests)
    duplicate_rate: float = 1e-4  # share of EMF lines extracted twice

    def max_seconds(self) -> float:
        return self.base_seconds + self.arm_jitter_seconds + max(self.arm_extra_seconds.values(), default=0.0)


NO_DELAY = IngestionDelay(base_seconds=0.0, arm_jitter_seconds=0.0, duplicate_rate=0.0)


def _unit(seed: int, *parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class MetricIngestion:
    """Holds each datapoint until it is visible, then puts it (``put`` writes into moto's CloudWatch)."""

    def __init__(self, delay: IngestionDelay, now: Callable[[], float], put: Callable[[dict[Key, Stats]], None],
                 seed: int = 7) -> None:
        self.delay = delay
        self._now = now
        self._put = put
        self._seed = seed
        self._queue: list[tuple[float, int, Key, Stats]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self.emitted: dict[Key, Stats] = {}  # everything offered (what the app emitted), for tests

    def visible_at(self, key: Key) -> float:
        namespace, name, dimensions, unit, stamp = key
        arm = dict(dimensions).get("variant", "")
        jitter = self.delay.arm_jitter_seconds * _unit(self._seed, "delay", arm, stamp)
        return float(stamp) + 1.0 + self.delay.base_seconds + jitter + self.delay.arm_extra_seconds.get(arm, 0.0)

    def duplicated(self, *identity: object) -> bool:
        """Is this EMF line extracted twice? (seeded by what identifies the line)"""
        return self.delay.duplicate_rate > 0 and _unit(self._seed, "dup", *identity) < self.delay.duplicate_rate

    def offer(self, data: dict[Key, Stats], duplicate: bool = False) -> None:
        """Datapoints extracted from EMF lines; ``duplicate``: second extractions (not what the app emitted)."""
        now, due = self._now(), {}
        with self._lock:
            for key, stats in data.items():
                if not duplicate:
                    kept = self.emitted.setdefault(key, [0.0, stats[1], stats[2], 0.0])
                    kept[0] += stats[0]
                    kept[1], kept[2] = min(kept[1], stats[1]), max(kept[2], stats[2])
                    kept[3] += stats[3]
                at = self.visible_at(key) + (1.0 if duplicate else 0.0)
                if at <= now:
                    due[key] = stats
                else:
                    heapq.heappush(self._queue, (at, next(self._order), key, stats))
        if due:
            self._put(due)

    def source(self, start: float, end: float) -> list[tuple[float, Callable[[], None]]]:
        """The clock's source: the datapoints that become visible before ``end``, put when they do."""
        batches: dict[float, dict[Key, Stats]] = {}
        with self._lock:
            while self._queue and self._queue[0][0] < end:
                at, _, key, stats = heapq.heappop(self._queue)
                batch = batches.setdefault(max(at, start), {})
                if key in batch:  # the same datapoint key twice in one batch: fold (a statistic set)
                    s = batch[key]
                    folded = [s[0] + stats[0], min(s[1], stats[1]), max(s[2], stats[2]), s[3] + stats[3]]
                    if len(s) > 4 and len(stats) > 4:
                        folded.append([*s[4], *stats[4]])
                    batch[key] = folded
                else:
                    batch[key] = stats
        return [(at, functools.partial(self._put, batch)) for at, batch in batches.items()]

    @property
    def pending(self) -> int:
        return len(self._queue)
