"""The regression gate judges complete evidence: failed calls and rejected verdicts count against the candidate."""

from __future__ import annotations

import pytest

from genai_cicd.gates.regression import judge_parts, look_sizes
from genai_cicd.models.manifest import PromptRegressionGate, parse_manifest
from genai_cicd.models.regression import ScoredPart


def gate(max_error_rate: float) -> PromptRegressionGate:
    regression = parse_manifest({
        "app": "a", "environment": "e", "change": {"kinds": ["prompt"]},
        "baseline": {"prompt": "b.txt", "model_id": "m"}, "candidate": {"prompt": "c.txt", "model_id": "m"},
        "gates": {"prompt_regression": {"dataset": "d.jsonl", "repeats": 2, "max_error_rate": max_error_rate,
                                        "metrics": {"assertions": {"threshold": 0.0, "margin": 0.1}}}}}
                                ).gates.prompt_regression
    assert regression is not None
    return regression


def part(cases: int, failed_candidate: set[int], rejected_candidate: set[int]) -> ScoredPart:
    rows = []
    for i in range(cases):
        for arm in ("baseline", "candidate"):
            for k in range(2):
                failed = arm == "candidate" and i in failed_candidate
                rejected = arm == "candidate" and i in rejected_candidate
                rows.append({"arm": arm, "case_id": f"c{i}", "repeat": k, "key": f"k{i}",
                             "scores": None if failed else ({} if rejected else {"assertions": 1.0}),
                             "rejected": ["assertions"] if rejected else [],
                             "error": "throttled for longer than the budget" if failed else None})
    return ScoredPart.model_validate({
        "dataset_hash": "sha256:d", "cases_total": cases, "cases": cases, "rows": rows, "prompt_hashes": {},
        "runner": {"calls": len(rows), "throttle_events": 0, "min_concurrency": 1, "seconds": 0.0}})


def test_failed_candidate_calls_count_as_failures_even_under_a_tolerated_error_rate() -> None:
    clean = judge_parts(gate(0.2), [part(200, set(), set())], run=1, final=True)
    assert clean is not None and clean.status == "PASS"
    # 15% of the candidate's calls fail: under max_error_rate 0.2, but their cases still count as 0.
    failing = judge_parts(gate(0.2), [part(200, set(range(30)), set())], run=1, final=True)
    assert failing is not None and failing.status == "BLOCK"
    verdict = failing.verdicts[0]
    assert verdict.missing_candidate == 60 and verdict.difference == -0.15


def test_rejected_judge_verdicts_count_against_the_candidate() -> None:
    judged = judge_parts(gate(0.0), [part(200, set(), set(range(30)))], run=1, final=True)
    assert judged is not None and judged.status == "BLOCK"
    assert judged.verdicts[0].candidate_mean == 0.85


def test_a_rerun_of_the_same_candidate_is_judged_at_a_smaller_alpha() -> None:
    first = judge_parts(gate(0.0), [part(200, set(), set())], run=1, final=True)
    third = judge_parts(gate(0.0), [part(200, set(), set())], run=3, final=True)
    assert first is not None and third is not None
    assert third.alpha < first.alpha == pytest.approx(0.04)


def test_looks_cover_the_dataset_and_end_with_it() -> None:
    assert look_sizes(60, [0.25, 0.5, 0.75, 1.0]) == [20, 30, 45, 60]
    assert look_sizes(10, [0.25, 0.5, 1.0]) == [10]
    assert look_sizes(400, [1.0]) == [400]
