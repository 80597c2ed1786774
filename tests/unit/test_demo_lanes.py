"""The demo's lanes print as one run in order would: whatever way the lanes' messages interleave."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from genai_cicd_local.cli.demo_lanes import DEMO_LANES, InOrder
from genai_cicd_local.cli.main import DEMO_SCENARIOS


def test_every_demo_release_has_a_lane_and_both_lanes_are_used() -> None:
    assert set(DEMO_LANES) == {name for name, *_ in DEMO_SCENARIOS}
    assert set(DEMO_LANES.values()) == {0, 1}


def test_interleaved_lanes_print_each_release_whole_and_in_order() -> None:
    lanes = {0: [0, 3], 1: [1, 2, 4]}
    per_release = {i: [(("line", i, f"r{i} line {n}")) for n in range(3)] + [("result", i, {"r": i})]
                   for i in range(5)}
    expected = [line for i in range(5) for _, _, line in per_release[i][:-1]]
    for seed in range(200):
        rng = random.Random(seed)
        queues = {lane: [m for i in releases for m in per_release[i]] for lane, releases in lanes.items()}
        printer, printed = InOrder(5), []
        while any(queues.values()):  # each lane's messages in its own order, the lanes interleaved at random
            lane = rng.choice([k for k, q in queues.items() if q])
            printed += printer.take(*queues[lane].pop(0))
        assert printed == expected, seed
        assert printer.done and printer.results == [{"r": i} for i in range(5)]


def talking_lane(root: str, seed: int, indexes: list[int], quiet: bool, messages: object) -> None:
    """A lane that runs nothing: two lines and a result per release, as the real lane sends them."""
    for index in indexes:
        for n in range(2):
            messages.put(("line", index, f"release {index} line {n}"))  # type: ignore[attr-defined]
        messages.put(("result", index, {"index": index, "seed": seed}))  # type: ignore[attr-defined]


def failing_lane(root: str, seed: int, indexes: list[int], quiet: bool, messages: object) -> None:
    if 0 in indexes:
        messages.put(("error", 0, "Traceback: the embedded AWS did not start"))  # type: ignore[attr-defined]
        return
    talking_lane(root, seed, indexes, quiet, messages)


def test_the_lanes_run_in_their_own_processes_and_print_in_release_order(tmp_path: Path) -> None:
    from genai_cicd_local.cli.demo_lanes import run_in_lanes

    lines: list[str] = []
    lane_of = {name: i % 2 for i, (name, *_) in enumerate(DEMO_SCENARIOS)}
    results = run_in_lanes(tmp_path, 5, lines.append, lane_of=lane_of, target=talking_lane)
    assert results == [{"index": i, "seed": 5} for i in range(len(DEMO_SCENARIOS))]
    assert lines == [f"release {i} line {n}" for i in range(len(DEMO_SCENARIOS)) for n in range(2)]


def test_a_lane_that_fails_fails_the_demo_with_its_traceback(tmp_path: Path) -> None:
    from genai_cicd_local.cli.demo_lanes import run_in_lanes

    with pytest.raises(RuntimeError, match="did not start"):
        run_in_lanes(tmp_path, 5, lambda _: None, target=failing_lane)
