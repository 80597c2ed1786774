"""The demo's releases in lanes: one process per lane, so `make demo` uses the machine's cores.

Each lane is its own embedded AWS (its own simulated clock, model and stack) running a fixed list of
releases in order, so a release's outcome depends only on its lane's earlier releases: never on how
the operating system schedules the lanes, nor on the machine's speed. The parent prints every
release's lines in DEMO_SCENARIOS order, each release as a block (the current one live), then
writes the summary and the report index from all lanes.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The lane of each demo release (cli/main.DEMO_SCENARIOS order). good-prompt's canary is half the demo's
# work (about 42,000 app requests); the other five releases together are about the other half.
DEMO_LANES = {"good-prompt": 0, "quality-regression": 1, "injection-regression": 1, "slow-model": 1,
              "live-quality-regression": 1, "low-traffic-probes": 1}


def _lane(root: str, seed: int, indexes: list[int], quiet: bool, messages: Any) -> None:
    """A lane's process: its own embedded AWS, its releases in order, every printed line sent to the parent."""
    try:
        from genai_cicd_local.cli.main import DEMO_SCENARIOS, run_scenario
        from genai_cicd_local.embedded.aws_session import EmbeddedAWS
        from genai_cicd_local.runner import LocalReleaseRunner

        current = [indexes[0]]

        def send(line: str) -> None:
            messages.put(("line", current[0], line))

        with EmbeddedAWS(Path(root), seed=seed) as aws:
            runner = LocalReleaseRunner(aws, out=(lambda _: None) if quiet else send)
            for index in indexes:
                current[0] = index
                result = run_scenario(runner, Path(root), DEMO_SCENARIOS[index], send)
                messages.put(("result", index, result))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the demo
        messages.put(("error", indexes[0], traceback.format_exc()))


def run_in_lanes(root: Path, seed: int, out: Callable[[str], None], quiet: bool = False,
                 lane_of: dict[str, int] | None = None, target: Callable[..., None] | None = None
                 ) -> list[dict[str, Any]]:
    """Every demo release's result, in DEMO_SCENARIOS order, each lane in its own process (``target``, a
    module-level function, runs a lane: tests give their own)."""
    from genai_cicd_local.cli.main import DEMO_SCENARIOS

    names = [s[0] for s in DEMO_SCENARIOS]
    lanes: dict[int, list[int]] = {}
    for index, name in enumerate(names):
        lanes.setdefault((lane_of or DEMO_LANES)[name], []).append(index)
    context = multiprocessing.get_context("spawn")  # a clean interpreter: nothing of this one is shared
    messages = context.Queue()
    workers = [context.Process(target=target or _lane, args=(str(root), seed, indexes, quiet, messages), daemon=True)
               for _, indexes in sorted(lanes.items())]
    for worker in workers:
        worker.start()
    printer = InOrder(len(names))
    try:
        while not printer.done:
            try:
                kind, index, body = messages.get(timeout=1.0)
            except queue.Empty:
                if not any(w.is_alive() for w in workers):
                    raise RuntimeError("a demo lane ended without its results") from None
                continue
            if kind == "error":
                raise RuntimeError(f"the demo lane of {names[index]} failed:\n{body}")
            for line in printer.take(kind, index, body):
                out(line)
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
    return printer.results


class InOrder:
    """The lanes' lines printed as one run in order would print them: release i's lines live while every
    release before it is done, the others held until their turn."""

    def __init__(self, releases: int) -> None:
        self._held: dict[int, list[str]] = {i: [] for i in range(releases)}
        self._results: dict[int, dict[str, Any]] = {}
        self._shown = 0  # releases before this one are printed whole; its lines print as they come
        self._releases = releases

    @property
    def done(self) -> bool:
        return len(self._results) == self._releases

    @property
    def results(self) -> list[dict[str, Any]]:
        return [self._results[i] for i in range(self._releases)]

    def take(self, kind: str, index: int, body: Any) -> list[str]:
        """A lane's message ("line" or "result" of release ``index``); returns the lines to print now."""
        if kind == "line":
            if index == self._shown:
                return [body]
            self._held[index].append(body)
            return []
        self._results[index] = body
        now: list[str] = []
        while self._shown in self._results:
            self._shown += 1
            now += self._held.pop(self._shown, [])
        return now
