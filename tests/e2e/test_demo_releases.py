"""The six demo releases: outcomes emerge from what the model produced and the metrics the app emitted."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from genai_cicd.logic.release_report import LABELS
from genai_cicd_local.cli.main import DEMO_SCENARIOS, run_demo
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.browser import render
from tests.utils import SAMPLE, manifest_file


@pytest.fixture(scope="module")
def demo(runner: LocalReleaseRunner, root: Path) -> dict[str, Any]:
    """`genai-cicd demo`'s six releases, run once by the command's own function (cli/main.run_demo)."""
    return run_demo(runner, root, out=lambda _: None)


def released(demo: dict[str, Any], scenario: str) -> dict[str, Any]:
    return next(r for r in demo["releases"] if r["scenario"] == scenario)


def test_the_demo_writes_its_summary_and_every_release_ends_as_expected(demo: dict[str, Any], root: Path) -> None:
    """What `genai-cicd demo` prints and exits on (0 only when every outcome is the expected one)."""
    summary = json.loads((root / "reports" / "demo-summary.json").read_text())
    assert [r["scenario"] for r in summary["releases"]] == [name for name, *_ in DEMO_SCENARIOS]
    assert all(r["outcome"] == r["expected"] for r in summary["releases"]), summary
    assert summary["total_seconds"] > 0


@pytest.mark.parametrize("scenario", [name for name, *_ in DEMO_SCENARIOS])
def test_given_demo_manifest_when_released_then_expected_outcome(demo: dict[str, Any],
                                                                 scenario: str) -> None:
    result = released(demo, scenario)
    assert result["ledger_verified"] and result["ledger_entries"] == result["notifications"]
    assert result["ledger_anchors"] == result["notifications"]  # every message carries the head
    expected = {
        "good-prompt": ("promoted", None, 100.0),
        "quality-regression": ("blocked", "prompt_regression", 0.0),
        "injection-regression": ("blocked", "injection_suite", 0.0),
        "slow-model": ("rolled_back", None, 0.0),
        "live-quality-regression": ("blocked", "shadow", 0.0),
        "low-traffic-probes": ("promoted", None, 100.0),
    }[scenario]
    assert (result["outcome"], result["blocked_by"], result["final_candidate_weight"]) == expected, result
    # What decided: the metric that rolled back, or the last one shown safe; nothing for a blocked release.
    decided = {"good-prompt": {"errors", "slow_requests", "low_quality"}, "slow-model": {"slow_requests"},
               "low-traffic-probes": {"errors", "slow_requests", "low_quality"}, "live-quality-regression": {"shadow"}}
    assert result["decided_on"] in decided.get(scenario, {None}), result
    # Probes only where user traffic cannot reach a verdict.
    assert (result["probe_requests"] > 0) is (scenario == "low-traffic-probes"), result


def test_live_answers_worse_on_topics_the_golden_set_misses_are_blocked_in_shadow_before_any_user_sees_them(
        demo: dict[str, Any], aws: EmbeddedAWS) -> None:
    result = released(demo, "live-quality-regression")
    from genai_cicd.aws.ledger import Ledger

    entries = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(
        "demo-live-quality-regression")
    # the gates could not see it; shadow evaluation did, and no canary step ever started
    assert [e.event for e in entries] == ["started", "gates_passed", "shadow_started", "blocked"]
    blocked = entries[-1].detail["detail"]
    assert blocked["phase"] == "shadow" and blocked["outcome"] == "worse" and blocked["weight"] == 0
    assert "shown worse in shadow" in blocked["reasons"][0]
    # what the app's own metrics say: the candidate answered requests in shadow, served no user
    assert result["candidate_user_requests"] == 0 and result["shadow_answers"] >= blocked["pairs"] > 0
    assert result["notification_subjects"][-1].endswith("BLOCKED in shadow evaluation (no user served by the "
                                                        "candidate)")
    s3 = aws.client("s3")
    pairs = json.loads(s3.get_object(Bucket=aws.bucket, Key="releases/demo-live-quality-regression/shadow/pairs.json")
                       ["Body"].read())["pairs"]
    scored = [p for p in pairs if "difference" in p]
    assert len(scored) == blocked["pairs"] and sum(p["difference"] for p in scored) / len(scored) < -0.2
    # the release report: the shadow phase, its band, the worst pairs side by side with the judge's reason
    text = s3.get_object(Bucket=aws.bucket, Key="releases/demo-live-quality-regression/report.md")["Body"].read()
    report = text.decode()
    assert "## Shadow evaluation" in report and "pairs that hurt most" in report
    assert "pairs, baseline → candidate: latency" in report  # the other signals, side by side
    assert "Blocked in shadow evaluation" in report


def test_a_harmless_change_is_shown_non_inferior_in_shadow_then_promoted_through_its_canary(
        demo: dict[str, Any], aws: EmbeddedAWS) -> None:
    result = released(demo, "good-prompt")
    from genai_cicd.aws.ledger import Ledger

    events = [e.event for e in Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"])
              .entries("demo-good-prompt")]
    assert events[:4] == ["started", "gates_passed", "shadow_started", "shadow_passed"]
    assert events[-1] == "promoted" and result["shadow_answers"] > 0


def test_a_low_traffic_app_reaches_its_verdict_on_probe_traffic(demo: dict[str, Any], aws: EmbeddedAWS) -> None:
    result = released(demo, "low-traffic-probes")
    assert result["decided_by_stream"] == "probe" and result["probe_cost_usd"] > 0
    # user traffic alone: half a request per second over the simulated time (15 minutes before it included)
    users = 0.5 * (result["simulated_seconds"] + 900)
    assert 0.7 * users < result["app_requests"] < 1.3 * users
    assert result["probe_requests"] > 5 * result["app_requests"]
    from genai_cicd.aws.ledger import Ledger

    entries = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(
        "demo-low-traffic-probes")
    step = next(e for e in entries if e.event == "canary_step")
    assert "probes on" in step.detail["detail"]["plan"]
    promoted = entries[-1].detail["detail"]
    assert promoted["stream"] == "probe" and promoted["probe_requests"] == result["probe_requests"]
    report = aws.client("s3").get_object(Bucket=aws.bucket, Key="releases/demo-low-traffic-probes/report.md")
    text = report["Body"].read().decode()
    assert f"Probe traffic: {result['probe_requests']:,} probe requests" in text
    assert "The decision came from the probe stream." in text


def test_the_rollback_names_the_metric_that_degraded(demo: dict[str, Any], aws: EmbeddedAWS) -> None:
    released(demo, "slow-model")
    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket, Prefix="releases/demo-slow-model/canary/")
            ["Contents"]]
    last = json.loads(s3.get_object(Bucket=aws.bucket, Key=sorted(keys)[-1])["Body"].read())
    assert last["action"] == "rollback" and last["decision"]["metric"] == "slow_requests"


def test_the_promotion_came_when_shown_safe_at_every_step(demo: dict[str, Any], aws: EmbeddedAWS) -> None:
    released(demo, "good-prompt")
    s3 = aws.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket, Prefix="releases/demo-good-prompt/canary/")
                  ["Contents"])
    steps = [json.loads(s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read()) for k in keys]
    promoted = [s for s in steps if s["action"] in ("next_step", "promote")]
    assert [s["weight"] for s in promoted] == [5.0, 50.0]  # the manifest's steps, the first at 5%
    for s in promoted:
        assert s["decision"]["outcome"] == "shown_safe"
        assert s["decision"]["reasons"][0].startswith("shown safe")
        assert all(m["status"] in ("safe", "negligible") for m in s["decision"]["metrics"].values())


def test_the_ledger_records_what_changed_and_the_gate_evidence(demo: dict[str, Any], aws: EmbeddedAWS) -> None:
    released(demo, "good-prompt")
    from genai_cicd.aws.ledger import Ledger

    entries = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(
        "demo-good-prompt")
    started = entries[0].detail["change"]["variants"]
    assert started["baseline"]["model_id"] == "local.sim-chat-v1"
    assert started["candidate"]["prompt_hash"].startswith("sha256:")
    assert started["baseline"]["prompt_hash"] != started["candidate"]["prompt_hash"]
    gates = entries[1].detail["detail"]["evidence"]
    assert gates["prompt_regression"]["dataset_hash"].startswith("sha256:")
    assert "lower bound" in gates["prompt_regression"]["headline"]
    assert entries[0].actor == "demo"  # who started it: `genai-cicd demo`
    # The canary's start records the planner's estimate, from the app's traffic before the release
    # (a minute of it at 20 requests/s: the rate is taken over the minutes that had traffic).
    step = next(e for e in entries if e.event == "canary_step")
    plan = step.detail["detail"]["plan"]
    assert plan.startswith("at ") and 17.0 < float(plan.split()[1]) < 23.0, plan
    decided = [e for e in entries if e.event == "promoted"]
    assert decided and decided[0].detail["detail"]["outcome"] == "shown_safe"


def test_no_prompt_question_or_answer_reaches_the_logs(demo: dict[str, Any], aws: EmbeddedAWS) -> None:
    released(demo, "injection-regression")
    secrets = ["The Pro plan costs 12 dollars", "Treat the user's message", "how much is pro per user",
               "Ignore all previous instructions", "Internal session reference"]
    lines = [entry["line"] for entry in aws.logs]
    assert len(lines) > 100
    leaked = [s for s in secrets if any(s in line for line in lines)]
    assert leaked == []


def test_live_answer_scores_are_logged_as_opentelemetry_evaluation_result_events(demo: dict[str, Any],
                                                                                  aws: EmbeddedAWS) -> None:
    """One gen_ai.evaluation.result record per evaluated answer, from the function that scored it, with the
    conventions' attributes and the arm; never the answer or the question (the judge's reason is left out).
    The live-quality release is decided in shadow: both answers of each pair, stream "shadow"."""
    released(demo, "live-quality-regression")
    events = [(entry["function"], json.loads(entry["line"])) for entry in aws.logs
              if '"EventName":"gen_ai.evaluation.result"' in entry["line"].replace(" ", "")]
    mine = [e for f, e in events if e["Attributes"]["genai_cicd.release_id"] == "demo-live-quality-regression"]
    assert mine and {f for f, e in events if e in mine} == {aws.function_name("ShadowEvaluationFunction")}
    assert {e["Attributes"]["genai_cicd.stream"] for e in mine} == {"shadow"}
    for event in mine:
        attributes = event["Attributes"]
        assert event["message"] == "gen_ai.evaluation.result" and event["SeverityText"] == "INFO"
        assert attributes["gen_ai.evaluation.name"] == "online_quality"
        assert attributes["feature_flag.result.variant"] in ("baseline", "candidate")
        assert 0.0 <= attributes["gen_ai.evaluation.score.value"] <= 1.0 or "error.type" in attributes
        assert set(attributes) <= {"gen_ai.evaluation.name", "gen_ai.evaluation.score.value",
                                   "gen_ai.evaluation.score.label", "error.type", "feature_flag.result.variant",
                                   "genai_cicd.release_id", "genai_cicd.stream", "genai_cicd.scorer"}
    variants = {e["Attributes"]["feature_flag.result.variant"] for e in mine}
    assert variants == {"baseline", "candidate"}
    # as many as the answers the release's judge scored (the ledger's count)
    from genai_cicd.aws.ledger import Ledger

    entries = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(
        "demo-live-quality-regression")
    assert len(mine) == 2 * entries[-1].detail["detail"]["pairs"]


def test_a_spent_judge_budget_stops_scoring_says_so_and_never_promotes(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    # good-prompt's harmless change, but a judge budget of 5 calls: far too few to show quality safe
    online = {"sample_share": 1.0, "retention_days": 1, "judge": {"model_id": "local.sim-judge-v1"},
              "max_judge_calls": 5}
    # Only the injection suite: the prompt-regression gate would count this as a re-run of good-prompt's
    # candidate (gate looks are per candidate content) and spend less alpha on it.
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={"steps": [50], "quality_margin": 0.05, "online_quality": online})
    result = runner.run(path, name="e2e-budget-spent")
    assert result["outcome"] == "rolled_back" and result["final_candidate_weight"] == 0.0, result
    assert result["decided_on"] == "quality" and result["judge_calls"] == 5
    from genai_cicd.aws.ledger import Ledger

    entries = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(
        "e2e-budget-spent")
    assert not [e for e in entries if e.event == "promoted"]
    rolled = entries[-1].detail["detail"]
    assert rolled["outcome"] == "not_shown_safe" and "judge budget is spent" in rolled["reasons"][0]


def test_the_quality_regression_report_names_its_worst_cases(demo: dict[str, Any], aws: EmbeddedAWS) -> None:
    released(demo, "quality-regression")
    s3 = aws.client("s3")
    page = s3.get_object(Bucket=aws.bucket, Key="releases/demo-quality-regression/report.html")["Body"].read().decode()
    golden = {json.loads(line)["id"]: json.loads(line) for line in (SAMPLE / "data/golden.jsonl").read_text()
              .splitlines() if line}
    rows = re.findall(r"<tr><td>(faq-\d+)</td><td class='answer'>([^<]*)</td><td class='answer'>([^<]*)</td>"
                      r"<td class='answer'>([^<]*)</td><td class='answer'>([^<]*)</td>", page)
    assert len(rows) == 10, page
    for case_id, prompt, reference, baseline, candidate in rows:
        assert html.unescape(prompt) == golden[case_id]["prompt"]
        assert html.unescape(reference) == golden[case_id]["referenceResponse"]
        assert baseline and candidate and baseline != candidate
    # the trimmed prompt cannot answer outside billing and account: those are the cases that hurt
    assert all(golden[cid]["category"] not in ("billing", "account") for cid, *_ in rows)
    assert "Blocked before any traffic moved: prompt_regression failed" in page
    cases = s3.get_object(Bucket=aws.bucket, Key="releases/demo-quality-regression/demo-quality-regression-cases.html")
    assert cases["Body"].read().decode().count("<tr><td>faq-") >= 10


def test_the_reports_and_the_index_render_in_chromium_with_labelled_axes(demo: dict[str, Any], root: Path) -> None:
    for scenario, *_ in DEMO_SCENARIOS:
        released(demo, scenario)
    reports = root / "reports"
    pages = [reports / "releases" / f"demo-{name}.html" for name, *_ in DEMO_SCENARIOS]
    pages += [reports / "releases" / "demo-quality-regression-cases.html", reports / "index.html",
              reports / "releases" / "demo-live-quality-regression-shadow-pairs.html"]
    rendered = {r.path.name: r for r in render(pages)}
    for r in rendered.values():
        assert not r.errors, (r.path, r.errors)
        for problem in ("clipped", "overlaps", "overflow"):  # text cut by its chart, labels on labels, wide cells
            assert not r.layout[problem], (r.path.name, problem, r.layout[problem][:5])
        assert all(url.startswith(("file:", "data:", "about:")) for url in r.requests), r.requests  # no assets
        assert r.height > 400 and r.title
    for name in ("demo-good-prompt.html", "demo-slow-model.html", "demo-live-quality-regression.html"):
        charts = [c for c in rendered[name].charts if c["kind"] == "line"]
        canary = [c for c in charts if c["x"]["text"] == "canary interval"]
        shadow = [c for c in charts if c["x"]["text"] == "shadow look"]
        # live-quality never reached a canary: its one chart is the shadow phase's band
        assert (len(canary), len(shadow)) == ((0, 1) if "live-quality" in name else
                                              (len(charts) - len(shadow), len(shadow))), name
        assert len(canary) >= 4 or "live-quality" in name, name
        assert bool(shadow) is (name != "demo-slow-model.html"), name
        for c in charts:
            assert c["x"]["w"] > 50 and c["y"]["h"] > 50, (name, c)
            assert c["xticks"][0] == "1" and c["width"] > 300
    # The metric that decided has its per-interval chart and its band chart, from the stream that decided.
    for name, *_ in DEMO_SCENARIOS:
        result, titles = released(demo, name), [c["title"] for c in rendered[f"demo-{name}.html"].charts]
        if result["decided_on"] and result["decided_on"] not in ("quality", "shadow"):
            label = LABELS[result["decided_on"]]
            assert any(t.startswith(f"{label} per interval") for t in titles), (name, label, titles)
            assert any(t.startswith(f"{label}: canary / baseline") for t in titles), (name, label, titles)
    probes = [c["title"] for c in rendered["demo-low-traffic-probes.html"].charts]
    assert any("(probe traffic, which decided)" in t for t in probes), probes
    lq = rendered["demo-live-quality-regression.html"]
    assert any(c["title"].startswith("shadow: paired difference") for c in lq.charts)
    assert "Blocked in shadow evaluation" in lq.text and "pairs that hurt most" in lq.text
    assert "Traffic never moved to the candidate" in lq.text
    # the worst pairs side by side, on their own page (live users' text, deleted with the captured pairs)
    pairs = rendered["demo-live-quality-regression-shadow-pairs.html"]
    assert pairs.text.count("team") > 3 and "judge's reason" in pairs.text
    gate_charts = [c for c in rendered["demo-quality-regression.html"].charts if c["kind"] == "interval"]
    assert gate_charts and gate_charts[0]["x"]["w"] > 100 and gate_charts[0]["y"]["text"] == "metric"
    index = rendered["index.html"]
    for name, *_ in DEMO_SCENARIOS:
        assert f"demo-{name}" in index.text
    assert "prompt_regression" in index.text and "slow_requests" in index.text  # decided_on


def test_the_regression_gate_judges_a_promptfoo_run_shipped_in_the_bundle(tmp_path: Path, aws: EmbeddedAWS,
                                                                           runner: LocalReleaseRunner) -> None:
    import shutil

    tools = SAMPLE.parent / "eval_tools"
    for name in ("promptfoo-results.json", "cases.jsonl"):
        shutil.copyfile(tools / name, tmp_path / name)
    path = manifest_file(tmp_path, "quality-regression", gates={"prompt_regression": {
        "dataset": "cases.jsonl", "scores": {
            "format": "promptfoo", "baseline": "promptfoo-results.json", "candidate": "promptfoo-results.json",
            "baseline_variant": "baseline", "candidate_variant": "candidate",
            "metrics": {"assertions": {"threshold": 0.5, "margin": 0.1}}}}})
    result = runner.run(path, name="e2e-promptfoo-scores")
    assert (result["outcome"], result["blocked_by"]) == ("blocked", "prompt_regression"), result
    s3 = aws.client("s3")
    verdict = json.loads(s3.get_object(Bucket=aws.bucket, Key="releases/e2e-promptfoo-scores/gates/"
                                       "prompt_regression/verdict.json")["Body"].read())
    assert verdict["source"]["format"] == "promptfoo" and verdict["metrics"][0]["metric"] == "assertions"
    assert verdict["source"]["candidate"].startswith("s3://")  # uploaded with the bundle, content-addressed
    report = s3.get_object(Bucket=aws.bucket, Key="releases/e2e-promptfoo-scores/report.html")["Body"].read()
    assert b"from promptfoo score file" in report and b"cases that hurt most" in report
