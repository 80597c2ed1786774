"""The release report: a plain-words headline, what changed, the gates with their worst cases, the canary
charts and table, the index of releases; escaped, self-contained, built from the evidence in the store."""

from __future__ import annotations

import json
from typing import Any

import yaml

from genai_cicd.logic.release_report import RecordInput, ReportData, headline, html_report, markdown, record_release
from genai_cicd.logic.report_index import PREFIX, IndexEntry, local_index, render_index
from genai_cicd.models.tasks import ReleaseContext
from tests.memory_store import MemoryStore
from tests.utils import event, sample_manifest

RELEASE = ReleaseContext.model_validate(event("prompt_regression", "good-prompt")["release"])
QUALITY = {"decision": "PASS", "blocked_by": [], "gates": {
    "prompt_regression": {"status": "PASS", "summary": "rouge_l pass"},
    "guardrail_suite": {"status": "SKIPPED", "summary": "not needed for a prompt change"}}}


def bounds(estimate: float, lower: float, upper: float, status: str = "undecided") -> dict[str, Any]:
    return {"estimate": estimate, "lower": lower, "upper": upper, "harm_above": 1.2, "allowance": 2.0,
            "status": status, "canary": "9 of 12 requests (75.00%)", "baseline": "3 of 200 requests (1.50%)"}


INTERVALS = [
    {"weight": 5.0, "action": "continue", "counts": {
        "candidate": {"requests": 10, "errors": 0, "slow_requests": 6},
        "baseline": {"requests": 190, "errors": 1, "slow_requests": 2}},
     "decision": {"metric": None, "outcome": "baking", "reasons": ["baking"],
                  "metrics": {"slow_requests": bounds(57.0, 0.9, float("inf"))}}},
    {"weight": 5.0, "action": "rollback", "counts": {
        "candidate": {"requests": 12, "errors": 0, "slow_requests": 9},
        "baseline": {"requests": 200, "errors": 0, "slow_requests": 3}},
     "decision": {"metric": "slow_requests", "outcome": "shown_harmful",
                  "reasons": ["slow_requests: canary rate 0.75 vs baseline 0.015"],
                  "metrics": {"slow_requests": bounds(50.0, 9.5, 400.0, "harmful")}}},
]


def data(outcome: str = "rolled_back", **kw: Any) -> ReportData:
    return ReportData(release=kw.pop("release", RELEASE), outcome=outcome, reasons=kw.pop("reasons", ["slow"]),
                      quality=kw.pop("quality", QUALITY), intervals=kw.pop("intervals", INTERVALS), **kw)


def test_markdown_has_gates_series_and_decision() -> None:
    md = markdown(data())
    assert "| prompt_regression | PASS | rouge_l pass |" in md
    assert "| 2 | 5.0% | 12 |" in md and "0.750/0.015" in md
    assert "Decision at interval 2: **rollback** on slow_requests" in md


def test_the_headline_says_the_outcome_and_why_in_one_sentence() -> None:
    assert headline(data()) == ("Rolled back to the baseline at 5% canary traffic after interval 2: slow-request rate "
                                "was shown harmful (canary 9 of 12 requests (75.00%) vs baseline 3 of 200 requests "
                                "(1.50%)).")
    blocked = data("blocked", intervals=[], reasons=["injection_suite: attack success 40% > 5%"],
                   quality={"decision": "BLOCK", "blocked_by": ["injection_suite"], "gates": {}})
    assert headline(blocked) == ("Blocked before any traffic moved: injection_suite failed (injection_suite: attack "
                                 "success 40% > 5%).")
    promoted = data("promoted", intervals=INTERVALS[:1], reasons=[])
    assert headline(promoted).startswith("Promoted to 100% after 1 canary interval: every judged metric")


def test_html_is_self_contained_and_escapes_text() -> None:
    page = html_report(data("blocked", reasons=["<script>alert(1)</script>"]))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<svg" in page and "http" not in page.replace("http-equiv", "").replace("http://www.w3.org/2000/svg", "")


def test_the_canary_section_draws_the_band_the_step_weights_and_the_decision() -> None:
    page = html_report(data())
    assert "slow-request rate per interval" in page
    assert "slow-request rate: canary / baseline, its confidence band and the decision lines" in page
    assert "5% canary" in page and ">roll back<" in page
    assert "safe below 2" in page and "harm above 1.2" in page
    assert "<h3>Per interval</h3>" in page and "<td>75.0% / 1.5%</td>" in page


def test_a_release_blocked_before_traffic_says_so() -> None:
    md = markdown(data("blocked", intervals=[], quality={"decision": "BLOCK", "blocked_by": ["injection_suite"],
                                                         "gates": {}}))
    assert "blocked by injection_suite" in md and "Traffic never moved" in md


def test_a_declaration_that_disagrees_with_the_change_is_printed() -> None:
    note = "declared change kinds [guardrail] differ from those found by comparing baseline and candidate [prompt]"
    release = RELEASE.model_copy(update={"kinds_note": note, "change_kinds": ["guardrail", "prompt"]})
    assert f"- change kinds: {note}" in markdown(data(release=release))
    assert "differ from those found" in html_report(data(release=release))
    assert "change kinds:" not in markdown(data())


def blocked_release_store() -> MemoryStore:
    """A release the regression gate blocked: the manifest, the golden cases and the outputs it recorded."""
    manifest = sample_manifest("quality-regression")
    manifest["baseline"]["prompt"], manifest["candidate"]["prompt"] = "prompt.txt", "prompt-v2.txt"
    manifest["gates"] = {"prompt_regression": {"dataset": "golden.jsonl", "repeats": 2,
                                               "metrics": {"rouge_l": {"threshold": 0.5, "margin": 0.1}}}}
    golden = "".join(json.dumps({"id": f"c{i:02d}", "prompt": f"question {i}", "referenceResponse": f"answer {i}"})
                     + "\n" for i in range(15))
    rows = []
    for i in range(15):
        for repeat in range(2):
            rows.append({"arm": "baseline", "case_id": f"c{i:02d}", "repeat": repeat, "scores": {"rouge_l": 0.9},
                         "output": f"good answer {i}", "error": None})
            # c00..c11 get worse by i/20; c14's second candidate call failed (no score: counts as 0)
            failed = i == 14 and repeat == 1
            rows.append({"arm": "candidate", "case_id": f"c{i:02d}", "repeat": repeat,
                         "scores": None if failed else {"rouge_l": max(0.0, 0.9 - i / 20) if i < 12 else 0.9},
                         "output": None if failed else f"answer {i} v2", "error": "throttled" if failed else None})
    verdict = {"gate": "prompt_regression", "metrics": [
        {"metric": "rouge_l", "decision": "block", "cases": 15, "baseline_mean": 0.9, "candidate_mean": 0.6,
         "difference": -0.3, "lower_bound": -0.4, "upper_bound": -0.2, "alpha": 0.04, "margin": 0.1,
         "threshold": 0.5, "reason": "shown worse"}]}
    quality = {"decision": "BLOCK", "blocked_by": ["prompt_regression"], "reasons": ["rouge_l: shown worse"],
               "gates": {"prompt_regression": {
                   "gate": "prompt_regression", "status": "BLOCK", "summary": "rouge_l block",
                   "report_uri": "s3://mem/releases/evt-release/gates/prompt_regression/verdict.json",
                   "stats": {"metrics": {"rouge_l": {"decision": "block", "baseline_mean": 0.9,
                                                     "candidate_mean": 0.6}}}}}}
    prefix = "releases/evt-release/gates/prompt_regression"
    return MemoryStore({"releases/evt-release/manifest.json": yaml.safe_dump(manifest), "golden.jsonl": golden,
                        "prompt.txt": "p", f"{prefix}/verdict.json": json.dumps(verdict),
                        f"{prefix}/outputs.jsonl": "".join(json.dumps(r) + "\n" for r in rows),
                        "releases/evt-release/quality_gate.json": json.dumps(quality)})


def test_a_blocked_gate_shows_its_worst_cases_side_by_side_and_every_case_beside_the_report() -> None:
    store = blocked_release_store()
    result = record_release(RecordInput(release=RELEASE, outcome="blocked", reasons=["rouge_l: shown worse"],
                                        started_at="2026-11-30T10:00:00+00:00"), store,  # type: ignore[arg-type]
                            now="2026-11-30T10:03:05+00:00")
    page = store.read_text(result.html_uri)
    shown = [cid for cid in (f"c{i:02d}" for i in range(15)) if f"<td>{cid}</td>" in page]
    # the ten worst, worst first: c11 (harm 0.55) ... c03 (0.15), with c14 (a failed call counts as 0 at one
    # of its two repeats: harm 0.45) among them; c02 (0.10) is the eleventh
    assert len(shown) == 10 and "c14" in shown and "c02" not in shown
    assert page.index("<td>c11</td>") < page.index("<td>c10</td>") < page.index("<td>c14</td>") < page.index(
        "<td>c08</td>") < page.index("<td>c03</td>")
    assert "good answer 11" in page and "answer 11 v2" in page and "question 11" in page
    assert "(no answer: throttled)" in page  # the worst repeat of c14 is the failed call
    assert "data-chart=\"interval\"" in page
    cases = store.read_text(result.cases_uri or "")
    assert all(f"<td>c{i:02d}</td>" in cases for i in range(1, 12)) and "<td>c14</td>" in cases
    assert "<td>c12</td>" not in cases  # no worse than the baseline
    md = store.read_text(result.report_uri)
    assert "the 10 cases that hurt most" in md and "| c14 | rouge_l 0.90 -> 0.45 |" in md


def test_every_report_adds_an_index_entry_and_the_index_lists_them_newest_first() -> None:
    store = blocked_release_store()
    record_release(RecordInput(release=RELEASE, outcome="blocked", started_at="2026-11-30T10:00:00+00:00"),
                   store, now="2026-11-30T10:03:05+00:00")  # type: ignore[arg-type]
    later = RELEASE.model_copy(update={"release_id": "evt-later"})
    record_release(RecordInput(release=later, outcome="promoted", started_at="2026-11-30T11:00:00+00:00"),
                   store, now="2026-11-30T11:00:42+00:00")  # type: ignore[arg-type]
    entries = store.list_keys(PREFIX)
    assert len(entries) == 2 and entries[0].endswith("-evt-later.json")  # newest lists first
    page = store.read_text("reports/index.html")
    assert page.index("evt-later") < page.index("evt-release")
    assert "../releases/evt-release/report.html" in page and "3 min 05 s" in page and "42 s" in page
    assert "prompt_regression" in page  # decided_on of the blocked release


def test_a_damaged_index_entry_is_left_out_not_fatal(tmp_path: Any) -> None:
    entry = IndexEntry(release_id="r1", app="a", environment="e", outcome="promoted", headline="ok")
    (tmp_path / "r1.entry.json").write_text(entry.model_dump_json())
    (tmp_path / "r2.entry.json").write_text("{not json")
    page = local_index(str(tmp_path))
    assert "releases/r1.html" in page and "Releases (1)" in page
    assert "&lt;b&gt;" in render_index([entry.model_copy(update={"headline": "<b>"})], lambda e: "x")


def test_what_changed_shows_each_arms_content_hash_short_with_the_whole_on_hover() -> None:
    full = {"baseline": "sha256:" + "a" * 64, "candidate": "sha256:" + "b" * 64}
    release = RELEASE.model_copy(update={"variants": {arm: {"prompt_hash": h} for arm, h in full.items()}})
    page = html_report(data(release=release))
    assert f"<code title='{full['candidate']}'>sha256:bbbbbbbbbbbb…</code>" in page
    assert full["baseline"] in markdown(data(release=release))  # the Markdown keeps the whole hash


def test_zero_over_zero_is_no_ratio_and_the_deciding_metric_keeps_its_band_chart() -> None:
    """Neither arm had an error: the ratio has no estimate (never a 0 plotted), yet the band that decided
    (the upper bound under the allowance) is still drawn; probe counts are charted when probes decided."""
    none = {"estimate": None, "lower": 0.0, "upper": 1.6, "harm_above": 1.2, "allowance": 2.0, "status": "safe",
            "canary": "0 of 60 requests", "baseline": "0 of 1,140 requests"}
    quiet = [{"weight": 5.0, "action": action, "stream": "probe",
              "counts": {"candidate": {"requests": 2, "errors": 1}, "baseline": {"requests": 40, "errors": 0}},
              "probe_counts": {"candidate": {"requests": 60, "errors": 0}, "baseline": {"requests": 60, "errors": 0}},
              "decision": {"metric": "errors", "outcome": outcome, "reasons": ["r"], "metrics": {"errors": none}}}
             for action, outcome in (("continue", "baking"), ("promote", "shown_safe"))]
    page = html_report(data("promoted", intervals=quiet, reasons=[]))
    assert "error rate: canary / baseline, its confidence band" in page  # the band chart of the deciding metric
    assert "error rate per interval (probe traffic, which decided)" in page
    band = page[page.index("error rate: canary / baseline"):]
    band = band[: band.index("</svg>")]
    assert "<title>estimate at" not in band  # 0/0 is no point of the estimate line
    per_interval = page[page.index("error rate per interval (probe"):]
    assert "canary at 1: 0</title>" in per_interval[: per_interval.index("</svg>")]  # 0 of 60 probe requests
