"""Bad input, generated (hypothesis) and hand-picked: rejected with the field named, nothing changed.

Manifests, datasets and events are corrupted in every way the strategies can
reach: a required field removed, a value of the wrong type, text cut short,
more than 256 KiB. Every rejection must say where (``source[:line]: field.path:
problem``); EventBridge events that fail go to the dead-letter queue; no
rejected input starts an execution, moves traffic or writes anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genai_cicd.errors import DatasetInvalid, ManifestInvalid
from genai_cicd.models.dataset import GoldenCase, parse_jsonl
from genai_cicd.models.manifest import load_manifest_text, parse_manifest
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.stack import flag_documents
from tests.utils import ROOT, SAMPLE, pipeline_action_event, sample_manifest

# Each problem line names where: "source[:line]: field.path: message" (field may be "(root)"),
# or "source:line: message" for a syntax error.
PROBLEM = re.compile(r"^[^:\n]+(:\d+: .+|(:\d+)?: [\w.()\-\[\] ]+: .+)", re.MULTILINE)
WRONG_VALUES = st.sampled_from([None, 7, -1.5, True, "", "x" * 300, [], [1, "a"], {}, {"nested": {}}])
EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MANIFEST = sample_manifest("good-prompt")
GOLDEN = (SAMPLE / "data" / "golden.jsonl").read_text().splitlines()


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in leaf_paths(v, (*prefix, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in leaf_paths(v, (*prefix, i))]
    return [prefix]


def set_path(data: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> Any:
    data = json.loads(json.dumps(data))
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def assert_names_where(message: str, top: str | None = None) -> None:
    lines = [line for line in message.splitlines() if line.strip()]
    assert lines and all(PROBLEM.match(line) for line in lines), message
    if top is not None:
        assert any(f": {top}" in line or "(root)" in line for line in lines), (top, message)


# ---------------------------------------------------------------- manifests
@EXAMPLES
@given(path=st.sampled_from(leaf_paths(MANIFEST)), value=WRONG_VALUES, delete=st.booleans())
def test_given_a_manifest_with_one_field_broken_then_it_is_accepted_or_the_field_is_named(
        path: tuple[Any, ...], value: Any, delete: bool) -> None:
    broken = set_path(MANIFEST, path, value, delete)
    try:
        parse_manifest(broken, "manifest.yaml")
    except ManifestInvalid as exc:
        assert_names_where(str(exc), str(path[0]))


@EXAMPLES
@given(cut=st.integers(min_value=0, max_value=len(yaml.safe_dump(MANIFEST)) - 1))
def test_given_manifest_text_cut_short_then_accepted_or_rejected_with_line_or_field(cut: int) -> None:
    text = yaml.safe_dump(MANIFEST, sort_keys=False)[:cut]
    try:
        manifest = load_manifest_text(text, "manifest.yaml")
    except ManifestInvalid as exc:
        assert_names_where(str(exc))
    else:  # cut after the required sections: what is left must be what was written
        assert manifest.app == MANIFEST["app"] and manifest.candidate.prompt == MANIFEST["candidate"]["prompt"]


def test_given_a_manifest_over_256_kib_then_rejected_before_parsing() -> None:
    text = yaml.safe_dump({**MANIFEST, "change": {**MANIFEST["change"], "description": "x" * 300_000}})
    with pytest.raises(ManifestInvalid, match="over the 262144-byte limit"):
        load_manifest_text(text, "manifest.yaml")


# ---------------------------------------------------------------- datasets
@EXAMPLES
@given(line=st.integers(min_value=0, max_value=len(GOLDEN) - 1),
       field=st.sampled_from(["prompt", "referenceResponse", "assertions", "id", "tags"]), value=WRONG_VALUES,
       mode=st.sampled_from(["wrong type", "truncate", "drop prompt"]))
def test_given_a_dataset_with_one_line_broken_then_the_line_and_field_are_named(
        line: int, field: str, value: Any, mode: str) -> None:
    lines = list(GOLDEN)
    case = json.loads(lines[line])
    if mode == "truncate":
        lines[line] = lines[line][: len(lines[line]) // 2]
    elif mode == "drop prompt":
        case.pop("prompt")
        lines[line] = json.dumps(case)
    else:
        lines[line] = json.dumps({**case, field: value})
    try:
        parse_jsonl("\n".join(lines), GoldenCase, "golden.jsonl")
    except DatasetInvalid as exc:
        assert f"golden.jsonl:{line + 1}:" in str(exc), str(exc)
        assert_names_where(str(exc))
    else:
        assert mode == "wrong type", "a truncated line or a case without a prompt was accepted"


def test_given_a_dataset_line_over_256_kib_then_that_line_is_named() -> None:
    lines = [*GOLDEN[:3], json.dumps({"id": "huge", "prompt": "x" * 300_000})]
    with pytest.raises(DatasetInvalid, match=r"golden.jsonl:4: \(root\): line of"):
        parse_jsonl("\n".join(lines), GoldenCase, "golden.jsonl")


# ---------------------------------------------------------------- events on the embedded AWS
def side_effects(aws: EmbeddedAWS) -> dict[str, Any]:
    s3 = aws.client("s3").list_objects_v2(Bucket=aws.bucket).get("KeyCount", 0)
    items = aws.client("dynamodb").scan(TableName=aws.control_plane.physical["ControlPlaneTable"],
                                        Select="COUNT")["Count"]
    runs = aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    return {"s3_objects": s3, "table_items": items, "executions": len(runs), "flag": len(flag_documents(aws))}


def dead_letters(aws: EmbeddedAWS) -> int:
    sqs = aws.client("sqs")
    url = aws.control_plane.attributes["EventsDeadLetterQueue"]["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


START_DETAIL = pipeline_action_event()["detail"]
REQUIRED = ["pipeline", "execution-id", "stage", "action", "state"]
RULE_FIELDS = {"action", "state"}  # template.yaml: GateActionStarted matches on these


@EXAMPLES
@given(field=st.sampled_from(REQUIRED), value=WRONG_VALUES, delete=st.booleans(),
       extra=st.dictionaries(st.text(min_size=1, max_size=8).map(lambda k: f"x-{k}"),
                             st.integers() | st.text(max_size=20), max_size=3))
def test_given_a_malformed_pipeline_event_then_dead_lettered_with_the_field_named_and_nothing_started(
        aws: EmbeddedAWS, field: str, value: Any, delete: bool, extra: dict[str, Any]) -> None:
    detail = {**extra, **START_DETAIL}
    if delete:
        detail.pop(field)
    else:
        detail[field] = value  # "" and a 300-character string break the length limits
    event = {**pipeline_action_event(), "detail": detail}
    before, letters = side_effects(aws), dead_letters(aws)
    outcomes = aws.deliver_event(event)
    if not outcomes:  # the rule's pattern filters on this field: EventBridge delivers nothing
        assert field in RULE_FIELDS and side_effects(aws) == before
        return
    if field == "state" and not delete and isinstance(value, str):
        assert all(not o["error"] and not o["payload"]["started"] for o in outcomes)  # valid, but not STARTED
        return
    assert [o["payload"]["errorType"] for o in outcomes] == ["InvalidInput"], outcomes
    assert_names_where(outcomes[0]["payload"]["errorMessage"], field)
    assert outcomes[0]["attempts"] == 1 and outcomes[0]["dead_lettered"]
    assert dead_letters(aws) == letters + 1
    assert side_effects(aws) == before


def test_given_an_event_over_256_kib_then_rejected_and_dead_lettered(aws: EmbeddedAWS) -> None:
    event = pipeline_action_event()
    event["detail"] = {**event["detail"], "padding": "x" * 300_000}
    before = side_effects(aws)
    [outcome] = aws.deliver_event(event)
    assert outcome["payload"]["errorType"] == "InvalidInput" and "over the 262144-byte limit" in \
        outcome["payload"]["errorMessage"]
    assert outcome["dead_lettered"] and side_effects(aws) == before


TASK_EVENTS = sorted(p for p in (ROOT / "events").glob("*/*.json")
                     if p.parent.name not in ("start_release", "cancel_release", "reconcile_release", "support_bot")
                     and json.loads(p.read_text()) and "malformed" not in p.name and "invalid" not in p.name)


@pytest.mark.parametrize("path", TASK_EVENTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_given_a_task_event_with_every_field_of_the_wrong_type_then_rejected_with_fields_named(
        aws: EmbeddedAWS, path: Path) -> None:
    event = {key: 7 for key in json.loads(path.read_text())}
    logical = next(name for name, spec in aws.control_plane.functions.items() if spec.code_dir.name == path.parent.name)
    before = side_effects(aws)
    payload, error = aws.invoke(logical, event)
    assert error and payload["errorType"] == "InvalidInput", payload
    assert_names_where(payload["errorMessage"])
    assert side_effects(aws) == before
    oversized = {**json.loads(path.read_text()), "padding": "x" * 300_000}
    payload, error = aws.invoke(logical, oversized)
    assert error and payload["errorType"] == "InvalidInput" and "byte limit" in payload["errorMessage"], payload
    assert side_effects(aws) == before

