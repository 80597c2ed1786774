"""No outcome depends on machine speed: the same release on a fresh stack, once with every model call
of the app 3 ms slower in wall time, sees the same requests in every canary interval and ends the same.

With the app's traffic paced by the wall clock (as it was), a slower app served fewer requests per
interval and this test fails; on the simulated clock the counts are a property of the seeded users.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import ROOT, manifest_file

CANARY = {"steps": [5, 50], "bake_seconds": 60, "metric_period_seconds": 60, "max_intervals_per_step": 4,
          "min_canary_requests_per_step": 10, "negligible_rate": 0.5, "metrics": ["errors", "slow_requests"],
          "critical_metrics": ["errors"]}


def one_release(tmp: Path, slow_seconds: float) -> dict[str, Any]:
    tmp.mkdir()
    with EmbeddedAWS(ROOT) as aws:
        runner = LocalReleaseRunner(aws, out=lambda _: None)
        runner.setup()
        if slow_seconds:
            aws.backend.slow["bedrock-runtime:Converse"] = (slow_seconds, None)  # a busy machine, in effect
        path = manifest_file(tmp, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                             canary=CANARY)
        result = runner.run(path, name="same-on-any-machine", traffic_rate=5.0, warmup=60)
        s3 = aws.client("s3")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(
            Bucket=aws.bucket, Prefix="releases/same-on-any-machine/canary/interval-")["Contents"])
        intervals = [json.loads(s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read()) for k in keys]
        return {"outcome": result["outcome"], "requests": result["app_requests"],
                "simulated_seconds": result["simulated_seconds"],
                "intervals": [(i["start"], i["end"], i["weight"], i["counts"], i["action"]) for i in intervals]}


def test_given_a_slower_app_then_every_interval_holds_the_same_requests_and_the_release_ends_the_same(
        tmp_path: Path) -> None:
    fast = one_release(tmp_path / "fast", 0.0)
    slow = one_release(tmp_path / "slow", 0.003)
    assert fast["intervals"] and fast["requests"] > 300
    assert any(i[3]["candidate"]["requests"] for i in fast["intervals"])  # the canary did get traffic
    assert slow == fast
