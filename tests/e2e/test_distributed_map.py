"""Large golden sets: prompt_regression as a Distributed Map, one child execution per shard, one verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import QUICK_CANARY, SAMPLE, manifest_file, sample_manifest


def big_golden(tmp: Path, copies: int) -> Path:
    """The sample golden set repeated with new ids (the same questions, so the verdict is comparable)."""
    lines = [json.loads(line) for line in (SAMPLE / "data" / "golden.jsonl").read_text().splitlines()]
    path = tmp / "golden-big.jsonl"
    path.write_text("\n".join(json.dumps({**case, "id": f"{case['id']}-{i}"}) for i in range(copies)
                              for case in lines))
    return path


RESULTS: dict[str, dict[str, Any]] = {}


def sharded_release(runner: LocalReleaseRunner, tmp_path: Path) -> dict[str, Any]:
    """The 300-case sharded release, run once per module (or now, when a later test runs alone)."""
    if "e2e-sharded" not in RESULTS:
        dataset = big_golden(tmp_path, 5)  # 300 cases
        regression = {**sample_manifest("good-prompt")["gates"]["prompt_regression"], "repeats": 1,
                      "dataset": str(dataset), "shard_size": 100}
        path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": regression,
                                                             "injection_suite": None, "guardrail_suite": None},
                             canary={**QUICK_CANARY, "steps": [50]})
        RESULTS["e2e-sharded"] = runner.run(path, name="e2e-sharded")
    return RESULTS["e2e-sharded"]


def test_given_a_sharded_golden_set_then_every_shard_runs_as_a_child_and_one_verdict_covers_all_cases(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    result = sharded_release(runner, tmp_path)
    verdict = json.loads(aws.client("s3").get_object(
        Bucket=aws.bucket, Key="releases/e2e-sharded/gates/prompt_regression/verdict.json")["Body"].read())
    assert verdict["shards"] == 3 and verdict["cases"] == 300 and verdict["runner"]["calls"] == 600
    assert verdict["status"] == "PASS", verdict["reasons"]
    assert result["outcome"] == "promoted"
    history = aws.client("stepfunctions").get_execution_history(
        executionArn=result["execution_arn"], maxResults=1000)["events"]
    kinds = [e["type"] for e in history]
    assert "MapRunStarted" in kinds and "MapRunSucceeded" in kinds
    shards = aws.client("s3").list_objects_v2(Bucket=aws.bucket,
                                              Prefix="releases/e2e-sharded/gates/prompt_regression/shards/")
    assert shards["KeyCount"] == 3


def test_given_a_shard_result_missing_when_reduced_then_the_gate_blocks(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    sharded_release(runner, tmp_path)
    history = aws.client("stepfunctions").get_execution_history(
        executionArn=f"{aws.state_machine_arn.replace(':stateMachine:', ':execution:')}:e2e-sharded",
        maxResults=1000)["events"]
    state_input = next(json.loads(e["stateEnteredEventDetails"]["input"]) for e in history
                       if e.get("stateEnteredEventDetails", {}).get("name") == "ReduceRegressionShards")
    # The Map's output in the state is ResultWriter's pointer, never the children's results.
    assert set(state_input["map_run"]) == {"MapRunArn", "ResultWriterDetails"}, state_input["map_run"]
    assert len(json.dumps(state_input)) < 8_000
    reduce_input = {"release": state_input["release"], "action": "reduce", "plan": state_input["plan"]}
    s3 = aws.client("s3")
    key = "releases/e2e-sharded/gates/prompt_regression/shards/shard-00002.json"
    s3.delete_object(Bucket=aws.bucket, Key=key)  # one child's result lost
    payload, error = aws.invoke("PromptRegressionFunction", reduce_input)
    assert not error, payload
    assert payload["status"] == "BLOCK"
    assert any("only 200 of 300 cases" in r for r in payload["reasons"]), payload["reasons"]
