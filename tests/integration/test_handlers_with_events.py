"""Given each file in events/, when its function runs on the embedded AWS, then it behaves as documented."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.utils import ROOT

EXPECTED_ERRORS = {
    "validate_manifest/invalid-manifest": "ManifestInvalid",
    "start_release/malformed": "InvalidInput",
}
EVENTS = sorted(str(p.relative_to(ROOT / "events").with_suffix("")) for p in (ROOT / "events").glob("*/*.json"))
# The order matters for a few: the lock is acquired before it is released; the open approval is
# answered by its report before anything else decides it; the pipeline's gate action starts its
# release before the cancel event supersedes that pipeline execution (and rejects the approval).
ORDER = {"report_to_pipeline/approval-action": -2, "start_release/gate-action-started": -1,
         "release_lock/acquire": 0, "release_lock/release": 1}
# What each file's name promises, checked on the function's answer (not merely "no error").
PROMISES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "analyze_canary/first-interval": lambda p: p["action"] == "continue" and p["outcome"] == "baking",
    "bedrock_evaluation/start": lambda p: p["status"] == "InProgress" and set(p["jobs"]) == {"baseline", "candidate"},
    # The release that start_release/gate-action-started began for the same pipeline execution.
    "cancel_release/pipeline-superseded": lambda p: [c["release_id"][:24] for c in p["cancelled"]] == [
        "cp-support-bot-pipeline-"],
    "guardrail_suite/good-prompt": lambda p: p["status"] == "PASS" and p["gate"] == "guardrail_suite",
    "injection_suite/good-prompt": lambda p: p["status"] == "PASS" and p["stats"]["success_rate"]["candidate"] <= 0.05,
    "notify/blocked": lambda p: bool(p["message_id"]) and p["ledger_seq"] >= 1,
    "notify/started": lambda p: bool(p["message_id"]) and p["ledger_seq"] >= 1,
    "prompt_regression/good-prompt": lambda p: p["status"] == "PASS" and p["stats"]["cases"] == 60,
    "quality_gate/all-passed": lambda p: p["decision"] == "PASS" and p["blocked_by"] == [],
    "quality_gate/gate-crashed": lambda p: p["decision"] == "BLOCK" and p["blocked_by"] == ["prompt_regression"],
    "reconcile_release/execution-aborted": lambda p: p["release_id"] == "evt-aborted" and p["action"] == "none",
    "record_release/blocked": lambda p: p["report_uri"].endswith("/report.md") and p["html_uri"].endswith(".html"),
    "release_lock/acquire": lambda p: p["held"] is True,
    "release_lock/release": lambda p: p["released"] is True and p["held"] is False,
    "report_to_pipeline/approval-action": lambda p: p["reported"] is True and p["status"] == "Rejected",
    "report_to_pipeline/invoke-action": lambda p: p["reported"] is False,
    "request_approval/request": lambda p: p["parked"] is True,
    "rollback/canary-judge": lambda p: p["verified"] is True and p["weight"] == 0.0,
    "schema_contract/classifier": lambda p: p["status"] == "PASS" and p["stats"]["valid_rate"] == 1.0,
    # Two pairs (2 per second for the 1-second bake), each prompt once per variant, none crashed.
    "send_probes/low-traffic": lambda p: p["probes"]["sent"] == 4 and p["probes"]["crashed"] == {},
    # Weight 0 with a shadow share, within the plan's caps (read back from the flag).
    "shadow_evaluation/start": lambda p: p["action"] == "continue" and 0 < p["share"] <= 0.05
    and p["plan"].startswith("shadow:"),
    "shift_traffic/full-rollout": lambda p: p["weight"] == 100.0 and p["action"] == "promote",
    "shift_traffic/next-step": lambda p: p["weight"] == 25.0 and p["step_index"] == 1,
    "start_canary/first-step": lambda p: p["weight"] == 5.0 and p["step_index"] == 0,
    "start_release/gate-action-started": lambda p: p["started"] is True and bool(p["execution_arn"]),
    "start_release/other-action": lambda p: p["started"] is False,
    "support_bot/indirect-injection": lambda p: "PWNED" not in p["answer"],
    "support_bot/question": lambda p: p["variant"] in ("baseline", "candidate") and len(p["answer"]) > 20,
    "validate_manifest/inline-manifest": lambda p: p["release_id"] == "evt-release" and p["gates"]["prompt_regression"],
}


def logical_for(aws: EmbeddedAWS, folder: str) -> str:
    for stack in (aws.control_plane, aws.sample_app):
        assert stack is not None
        for logical, spec in stack.functions.items():
            if folder in (spec.code_dir.name, spec.code_dir.parent.name):
                return logical
    raise AssertionError(folder)


@pytest.mark.parametrize("name", sorted(EVENTS, key=lambda n: ORDER.get(n, 0)))
def test_given_event_file_when_invoked_then_result_is_as_documented(aws: EmbeddedAWS, name: str) -> None:
    event = json.loads((ROOT / "events" / f"{name}.json").read_text())
    payload, error = aws.invoke(logical_for(aws, name.split("/")[0]), event)
    if name in EXPECTED_ERRORS:
        assert error and payload["errorType"] == EXPECTED_ERRORS[name], payload
        assert "Field required" in payload["errorMessage"] or "canary.steps" in payload["errorMessage"]
    else:
        assert not error, payload
        assert PROMISES[name](payload), payload


def test_every_event_file_has_a_promise() -> None:
    assert set(EVENTS) == set(PROMISES) | set(EXPECTED_ERRORS)


def test_given_invalid_manifest_when_validated_then_nothing_is_written(aws: EmbeddedAWS) -> None:
    event = json.loads((ROOT / "events" / "validate_manifest" / "invalid-manifest.json").read_text())
    aws.invoke("ValidateManifestFunction", event)
    listed = aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix="releases/evt-invalid/")
    assert listed.get("KeyCount", 0) == 0


@pytest.mark.parametrize(("field", "value", "says"), [
    ("prompt", "s3://another-teams-bucket/prompts/v9.txt", "outside the artifact bucket"),
    ("prompt", "examples/support_bot/prompts/no-such-prompt.txt", "does not exist"),
])
def test_given_a_reference_outside_the_release_when_validated_then_refused_before_any_write(
        aws: EmbeddedAWS, field: str, value: str, says: str) -> None:
    event = json.loads((ROOT / "events" / "validate_manifest" / "inline-manifest.json").read_text())
    event["execution_name"] = "evt-outside"
    event["input"]["manifest"]["candidate"][field] = value
    payload, error = aws.invoke("ValidateManifestFunction", event)
    assert error and payload["errorType"] == "ManifestInvalid", payload
    assert "candidate.prompt" in payload["errorMessage"] and says in payload["errorMessage"]
    listed = aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix="releases/evt-outside/")
    assert listed.get("KeyCount", 0) == 0


def test_given_an_event_from_another_source_then_the_handler_refuses_it(aws: EmbeddedAWS) -> None:
    forged = json.loads((ROOT / "events" / "start_release" / "gate-action-started.json").read_text())
    forged["source"] = "custom.someone"  # what a direct invoke or a hand-edited rule could pass
    payload, error = aws.invoke(logical_for(aws, "start_release"), forged)
    assert error and payload["errorType"] == "InvalidInput" and "source" in payload["errorMessage"], payload


def test_given_a_plan_that_could_overflow_the_history_when_validated_then_refused(aws: EmbeddedAWS) -> None:
    event = json.loads((ROOT / "events" / "validate_manifest" / "inline-manifest.json").read_text())
    event["execution_name"] = "evt-long"
    event["input"]["manifest"]["canary"] = {**event["input"]["manifest"].get("canary", {}),
                                            "steps": [1, 2, 5, 10, 25, 50], "max_intervals_per_step": 500}
    payload, error = aws.invoke("ValidateManifestFunction", event)
    assert error and payload["errorType"] == "ManifestInvalid" and "25,000" in payload["errorMessage"], payload


def test_given_the_same_candidate_gated_again_then_the_run_is_counted_and_spends_less_alpha(
        aws: EmbeddedAWS) -> None:
    """A re-run under a new release id is still a re-run: the candidate's content is the key."""
    event = json.loads((ROOT / "events" / "prompt_regression" / "good-prompt.json").read_text())
    event["release"]["candidate_hash"] = "sha256:rerun-contract"
    alphas = []
    for release_id in ("evt-rerun-1", "evt-rerun-2"):
        event["release"]["release_id"] = release_id
        payload, error = aws.invoke("PromptRegressionFunction", event)
        assert not error, payload
        alphas.append((payload["stats"]["run"], payload["stats"]["alpha"]))
    assert [run for run, _ in alphas] == [1, 2]
    assert alphas[1][1] < alphas[0][1]
