"""The demo's lanes print as one run in order would: whatever way the lanes' messages interleave."""

from __future__ import annotations

import random

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
