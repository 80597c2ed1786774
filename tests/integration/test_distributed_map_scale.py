"""The release's Distributed Map keeps the state small however many shards there are (Step Functions'
256 KiB payload quota): the children's results go to S3 and the state keeps a pointer.

`make test` runs 1,000 shards: inlined results would already be some 100 KB there, fifty times the
bound asserted. The full 10,000 (about a minute on 2 cores) is
`SHARDS=10000 .venv/bin/python -m pytest tests/integration/test_distributed_map_scale.py`, and
bench/control_plane.py releases a 10,000-case golden set through the same map.
"""

from __future__ import annotations

import json
import os
import time
from copy import deepcopy
from typing import Any

import boto3
from moto import mock_aws

from tests.utils import ROOT

SHARDS = int(os.environ.get("SHARDS", "1000"))


def release_map() -> dict[str, Any]:
    definition = json.loads((ROOT / "statemachines" / "release.asl.json").read_text())
    branch = next(b for b in definition["States"]["Gates"]["Branches"] if "RegressionShards" in b["States"])
    return deepcopy(branch["States"]["RegressionShards"])


def test_thousands_of_shards_leave_a_pointer_in_the_state_not_their_results() -> None:
    shard_map = release_map()
    # The children as they are, except the Lambda call: a Pass that returns what ScoreShard returns.
    processor = shard_map["ItemProcessor"]
    processor["StartAt"] = "ScoreShard"
    processor["States"] = {"ScoreShard": {"Type": "Pass", "End": True, "Parameters": {
        "index.$": "$.shard.index", "rows": 200,
        "uri.$": "States.Format('s3://artifact-bucket/releases/r1/gates/prompt_regression/shards/shard-{}.json', "
                 "$.shard.index)"}}}
    shard_map["ResultWriter"]["Parameters"]["Bucket"] = "artifact-bucket"  # ${ArtifactBucketName}
    shard_map.pop("Catch", None)
    shard_map["End"] = True
    shard_map.pop("Next", None)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifact-bucket")
        s3.put_object(Bucket="artifact-bucket", Key="plan/shards.json",
                      Body=json.dumps([{"index": i, "start": i * 10, "end": i * 10 + 10} for i in range(SHARDS)]))
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="shards", roleArn="arn:aws:iam::123456789012:role/machine",
            definition=json.dumps({"StartAt": "RegressionShards", "States": {"RegressionShards": shard_map}}))[
            "stateMachineArn"]
        start = {"release": {"release_id": "r1"}, "plan": {"bucket": "artifact-bucket", "key": "plan/shards.json"}}
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(start))["executionArn"]
        deadline = time.monotonic() + 300
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert described["status"] == "SUCCEEDED", described.get("cause", "")[:600]
    output = json.loads(described["output"])
    assert set(output["map_run"]) == {"MapRunArn", "ResultWriterDetails"}
    assert output["map_run"]["ResultWriterDetails"]["Key"].startswith("map-results/")
    # The whole state after every child: a few hundred bytes, far under 256 KiB.
    assert len(described["output"]) < 2_000
