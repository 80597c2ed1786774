"""What crosses a boundary is a model: the regression's shard documents, the gate task's actions, the
evaluation state and a gate's configuration. Each refuses what is not one, and a refused document is
never evidence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from genai_cicd.errors import GateError, InvalidInput, ManifestInvalid
from genai_cicd.gates.bedrock_eval import poll_jobs
from genai_cicd.gates.regression import reduce_shards, shard_key
from genai_cicd.models.manifest import (
    AliasTraffic,
    CodeDeployTraffic,
    FlagTraffic,
    PromptRegressionGate,
    configured,
    parse_manifest,
)
from genai_cicd.models.regression import ScoredPart, Shard, ShardPlan
from genai_cicd.models.tasks import EvaluationState, EvaluationTask, GateResult, GateTaskInput, RollbackResult
from genai_cicd.models.traffic import AliasReceipt, CodeDeployReceipt, TrafficReceipt
from tests.memory_store import MemoryStore
from tests.utils import event

PREFIX = "releases/r1/gates/prompt_regression"
CASES_PER_SHARD = 50


def regression_gate() -> PromptRegressionGate:
    gate = parse_manifest({
        "app": "a", "environment": "e", "change": {"kinds": ["prompt"]},
        "baseline": {"prompt": "b.txt", "model_id": "m"}, "candidate": {"prompt": "c.txt", "model_id": "m"},
        "gates": {"prompt_regression": {"dataset": "d.jsonl", "repeats": 1, "shard_size": CASES_PER_SHARD,
                                        "metrics": {"assertions": {"threshold": 0.5, "margin": 0.1}}}}}
    ).gates.prompt_regression
    assert gate is not None
    return gate


def part(first_case: int) -> dict[str, Any]:
    """A shard's part as a child writes it: every case answered and scored 1.0 in both arms."""
    rows = [{"arm": arm, "case_id": f"c{i}", "repeat": 0, "key": f"k{i:04d}", "scores": {"assertions": 1.0}}
            for i in range(first_case, first_case + CASES_PER_SHARD) for arm in ("baseline", "candidate")]
    return ScoredPart.model_validate({
        "dataset_hash": "sha256:d", "cases_total": 2 * CASES_PER_SHARD, "cases": CASES_PER_SHARD, "rows": rows,
        "prompt_hashes": {"baseline": "b", "candidate": "c"},
        "runner": {"calls": len(rows), "throttle_events": 0, "min_concurrency": 8, "seconds": 1.0}}
    ).model_dump(mode="json")


def reduce_with(second_part: str | None) -> GateResult:
    """Two planned shards; the first child's part is sound, the second's is ``second_part`` (None: never written)."""
    store = MemoryStore()
    shards = [Shard(index=0, start=0, end=CASES_PER_SHARD), Shard(index=1, start=CASES_PER_SHARD,
                                                                  end=2 * CASES_PER_SHARD)]
    store.put_json(f"{PREFIX}/shards.json", [s.model_dump() for s in shards])
    store.put_json(shard_key(PREFIX, 0), part(0))
    if second_part is not None:
        store.put_text(shard_key(PREFIX, 1), second_part)
    plan = ShardPlan(bucket="mem", key=f"{PREFIX}/shards.json", shards=2, cases=2 * CASES_PER_SHARD)
    return reduce_shards(regression_gate(), store, PREFIX, plan)  # type: ignore[arg-type]


def test_two_sound_parts_pass_the_reduce() -> None:
    result = reduce_with(json.dumps(part(CASES_PER_SHARD)))
    assert result.status == "PASS", result.reasons
    assert result.stats["cases_scored"] == 2 * CASES_PER_SHARD


@pytest.mark.parametrize("second_part", [
    None,  # the child never wrote it
    json.dumps(part(CASES_PER_SHARD)).replace("1.0", "NaN"),  # a NaN score is a broken part, not a score
    json.dumps({k: v for k, v in part(CASES_PER_SHARD).items() if k != "runner"}),  # truncated layout
    json.dumps(part(CASES_PER_SHARD) | {"rows": "all good"}),  # not rows at all
], ids=["absent", "nan-score", "no-runner", "rows-not-a-list"])
def test_a_part_that_is_not_a_scored_part_counts_as_missing_cases(second_part: str | None) -> None:
    result = reduce_with(second_part)
    assert result.status == "BLOCK"
    assert any(f"only {CASES_PER_SHARD} of {2 * CASES_PER_SHARD} cases were scored" in r for r in result.reasons)


def test_a_shard_list_that_is_not_one_fails_the_reduce() -> None:
    store = MemoryStore({f"{PREFIX}/shards.json": json.dumps([{"index": 0, "start": 5, "end": 5}])})
    plan = ShardPlan(bucket="mem", key=f"{PREFIX}/shards.json", shards=1, cases=5)
    with pytest.raises(GateError, match="not a shard plan"):
        reduce_shards(regression_gate(), store, PREFIX, plan)  # type: ignore[arg-type]


@pytest.mark.parametrize("fields, wrong", [
    ({"action": "shard"}, "shard"),
    ({"action": "reduce"}, "plan"),
    ({"action": "run", "shard": {"index": 0, "start": 0, "end": 10}}, "shard"),
    ({"action": "plan", "plan": {"bucket": "bkt", "key": "k", "shards": 1, "cases": 10}}, "plan"),
    ({"action": "shard", "shard": {"index": 0, "start": 10, "end": 10}}, "shard"),
    ({"action": "shard", "shard": {"index": 0, "start": 0}}, "shard"),
])
def test_a_gate_step_without_what_its_action_needs_is_refused(fields: dict[str, Any], wrong: str) -> None:
    with pytest.raises(ValidationError) as refused:
        GateTaskInput.model_validate(event("prompt_regression", "good-prompt") | fields)
    assert wrong in str(refused.value)


def test_each_gate_step_parses_what_the_state_machine_passes() -> None:
    release = event("prompt_regression", "good-prompt")
    shard = GateTaskInput.model_validate(release | {"action": "shard", "shard": {"index": 3, "start": 30, "end": 40}})
    assert shard.shard == Shard(index=3, start=30, end=40)
    reduce = GateTaskInput.model_validate(release | {"action": "reduce", "plan": {
        "bucket": "artifacts", "key": "releases/r/gates/prompt_regression/shards.json", "shards": 4, "cases": 40}})
    assert reduce.plan is not None and reduce.plan.key.endswith("shards.json")


def test_an_evaluation_poll_needs_the_state_and_a_done_state_needs_its_verdict() -> None:
    release = event("bedrock_evaluation", "start")["release"]
    with pytest.raises(ValidationError, match="evaluation"):
        EvaluationTask.model_validate({"release": release, "action": "poll"})
    with pytest.raises(ValidationError, match="result"):
        EvaluationState.model_validate({"status": "Done", "jobs": {"baseline": "arn:1"}})
    with pytest.raises(ValidationError, match="jobs"):
        EvaluationState.model_validate({"status": "InProgress", "jobs": {}})


def test_a_decided_evaluation_is_not_polled_again() -> None:
    class NoCalls:
        def status(self, arn: str) -> str:
            raise AssertionError("a decided evaluation must not call Bedrock")

        def create(self, request: dict[str, Any]) -> str:
            raise AssertionError

    done = EvaluationState(status="Done", jobs={"baseline": "a", "candidate": "b"}, polls=3,
                           result=GateResult(gate="bedrock_evaluation", status="BLOCK", summary="s"))
    gate = parse_manifest({
        "app": "a", "environment": "e", "change": {"kinds": ["prompt"]},
        "baseline": {"prompt": "b.txt", "model_id": "m"}, "candidate": {"prompt": "c.txt", "model_id": "m"},
        "gates": {"bedrock_evaluation": {"dataset": "g.jsonl", "role_arn": "arn:aws:iam::123456789012:role/E"}}}
    ).gates.bedrock_evaluation
    assert poll_jobs(gate, MemoryStore(), NoCalls(), done, PREFIX) == done  # type: ignore[arg-type]


def test_a_gate_the_manifest_does_not_configure_is_bad_input_naming_it() -> None:
    with pytest.raises(InvalidInput, match=r"gates\.schema_contract: not configured"):
        configured(None, "schema_contract")
    gate = regression_gate()
    assert configured(gate, "prompt_regression") is gate


def manifest_with(canary: dict[str, Any], versions: bool = True) -> Any:
    arm = {"model_id": "m", **({"lambda_version": "1"} if versions else {})}
    return parse_manifest({
        "app": "a", "environment": "e", "change": {"kinds": ["prompt"]},
        "baseline": {"prompt": "b.txt", **arm},
        "candidate": {"prompt": "c.txt", **arm, **({"lambda_version": "2"} if versions else {})},
        "canary": canary})


def test_each_traffic_mechanism_is_its_own_type_with_what_it_needs() -> None:
    flag = manifest_with({}, versions=False).traffic()
    assert isinstance(flag, FlagTraffic) and flag.flag.application_id is None
    alias = manifest_with({"mechanism": "lambda_alias", "alias": {"function_name": "f", "alias": "live"}}).traffic()
    assert isinstance(alias, AliasTraffic) and (alias.baseline_version, alias.candidate_version) == ("1", "2")
    deploy = manifest_with({"mechanism": "codedeploy", "codedeploy": {
        "application_name": "app", "deployment_group_name": "grp", "function_name": "f", "alias": "live"}}).traffic()
    assert isinstance(deploy, CodeDeployTraffic) and deploy.deployment_group_name == "grp"
    with pytest.raises(ManifestInvalid, match="needs baseline and candidate lambda_version"):
        manifest_with({"mechanism": "lambda_alias", "alias": {"function_name": "f", "alias": "live"}},
                      versions=False)


def test_a_rollback_result_exists_only_for_a_read_back_of_zero() -> None:
    done = RollbackResult(weight=0.0, receipt=AliasReceipt(weight=0.0))
    assert done.model_dump(mode="json") == {"weight": 0.0, "receipt": {"weight": 0.0, "mechanism": "lambda_alias"},
                                            "verified": True}
    with pytest.raises(ValidationError, match="weight"):
        RollbackResult(weight=30.0, receipt=AliasReceipt(weight=0.0))


def test_a_receipt_is_read_by_its_mechanism_and_an_unknown_one_is_refused() -> None:
    receipts: TypeAdapter[Any] = TypeAdapter(TrafficReceipt)
    read = receipts.validate_python({"mechanism": "codedeploy", "weight": 10.0, "deployment_id": "d-1"})
    assert isinstance(read, CodeDeployReceipt) and read.deployment_id == "d-1"
    with pytest.raises(ValidationError):
        receipts.validate_python({"mechanism": "dns", "weight": 10.0})
    with pytest.raises(ValidationError):
        receipts.validate_python({"mechanism": "lambda_alias", "weight": float("nan")})


@pytest.mark.parametrize("action", ["plan", "reduce", "shard"])
def test_a_map_step_sent_to_another_gate_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch,
                                                                   action: str) -> None:
    from genai_cicd.logic import gates as gate_logic

    manifest = parse_manifest({
        "app": "a", "environment": "e", "change": {"kinds": ["prompt"]},
        "baseline": {"prompt": "b.txt", "model_id": "m"}, "candidate": {"prompt": "c.txt", "model_id": "m"},
        "gates": {"injection_suite": {"corpus": "corpus.jsonl"}}})
    monkeypatch.setattr(gate_logic, "load_manifest", lambda deps, release: manifest)
    monkeypatch.setattr(gate_logic, "run_injection_suite", lambda *a, **k: pytest.fail("the gate must not run"))
    step = {"action": action, "shard": {"index": 0, "start": 0, "end": 10}} if action == "shard" else \
        {"action": action, "plan": {"bucket": "bkt", "key": "k", "shards": 1, "cases": 10}} if action == "reduce" \
        else {"action": action}
    task = GateTaskInput.model_validate(event("prompt_regression", "good-prompt") | step)
    with pytest.raises(InvalidInput, match=f"action: '{action}' is a step of prompt_regression"):
        gate_logic.run_gate_task("injection_suite", task, None)  # type: ignore[arg-type]
