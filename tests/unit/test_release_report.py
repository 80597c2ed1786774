"""The release report shows gates, the canary series and the decision, and escapes what it prints."""

from __future__ import annotations

from genai_cicd.logic.release_report import html_report, markdown
from genai_cicd.models.tasks import ReleaseContext
from tests.utils import event

RELEASE = ReleaseContext.model_validate(event("prompt_regression", "good-prompt")["release"])
QUALITY = {"decision": "PASS", "blocked_by": [], "gates": {
    "prompt_regression": {"status": "PASS", "summary": "rouge_l pass"},
    "guardrail_suite": {"status": "SKIPPED", "summary": "not needed for a prompt change"}}}
INTERVALS = [
    {"weight": 5.0, "action": "continue", "counts": {
        "candidate": {"requests": 10, "errors": 0, "slow_requests": 6},
        "baseline": {"requests": 190, "errors": 1, "slow_requests": 2}},
     "decision": {"metric": None, "reasons": ["baking"]}},
    {"weight": 5.0, "action": "rollback", "counts": {
        "candidate": {"requests": 12, "errors": 0, "slow_requests": 9},
        "baseline": {"requests": 200, "errors": 0, "slow_requests": 3}},
     "decision": {"metric": "slow_requests", "reasons": ["slow_requests: canary rate 0.75 vs baseline 0.015"]}},
]


def test_markdown_has_gates_series_and_decision() -> None:
    md = markdown(RELEASE, "rolled_back", ["slow"], QUALITY, INTERVALS)
    assert "| prompt_regression | PASS | rouge_l pass |" in md
    assert "| 2 | 5.0% | 12 |" in md and "0.750/0.015" in md
    assert "Decision at interval 2: **rollback** on slow_requests" in md


def test_html_is_self_contained_and_escapes_text() -> None:
    page = html_report("t", RELEASE, "blocked", ["<script>alert(1)</script>"], QUALITY, INTERVALS)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<svg" in page and "http" not in page.replace("http-equiv", "")


def test_a_release_blocked_before_traffic_says_so() -> None:
    md = markdown(RELEASE, "blocked", [], {"decision": "BLOCK", "blocked_by": ["injection_suite"], "gates": {}}, [])
    assert "blocked by injection_suite" in md and "Traffic never moved" in md


def test_a_declaration_that_disagrees_with_the_change_is_printed() -> None:
    note = "declared change kinds [guardrail] differ from those found by comparing baseline and candidate [prompt]"
    release = RELEASE.model_copy(update={"kinds_note": note, "change_kinds": ["guardrail", "prompt"]})
    assert f"- change kinds: {note}" in markdown(release, "blocked", [], None, [])
    assert "differ from those found" in html_report("t", release, "blocked", [], None, [])
    assert "change kinds" not in markdown(RELEASE, "blocked", [], None, [])
