"""Session groups (issue #27) through the embedded AWS: with ``canary.session_groups`` the flag asks the app
for its counts per session group, the sample app (sticky key: the session id) emits them on their own EMF
line, and AnalyzeCanary reads them back with GetMetricData. Each look's groups add up to exactly the
arm's counts of the judge's own series, so every request is in one group and none is counted twice."""

from __future__ import annotations

import json
from pathlib import Path

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.embedded.metric_ingestion import NO_DELAY
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import ROOT, manifest_file

CANARY = {"steps": [25], "bake_seconds": 120, "metric_period_seconds": 60, "metric_settle_seconds": 120,
          "max_intervals_per_step": 30, "min_canary_requests_per_step": 10, "metrics": ["errors", "slow_requests"],
          "critical_metrics": ["errors"], "session_groups": 8}


def test_given_session_groups_then_each_look_reads_groups_that_add_up_to_the_arms_counts(tmp_path: Path) -> None:
    # No duplicated EMF lines (the embedded default duplicates 1 in 10,000, as CloudWatch may): exact sums.
    with EmbeddedAWS(ROOT, ingestion_delay=NO_DELAY) as aws:
        runner = LocalReleaseRunner(aws, out=lambda _: None)
        runner.setup()
        path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "injection_suite": None},
                             canary=CANARY, candidate={"model_id": "local.sim-chat-v9"})
        result = runner.run(path, name="session-groups", traffic_rate=10.0, warmup=180)
        s3 = aws.client("s3")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(
            Bucket=aws.bucket, Prefix="releases/session-groups/canary/interval-")["Contents"])
        looks = [json.loads(s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read()) for k in keys]
    assert result["outcome"] == "promoted" and looks
    for look in looks:
        for arm in ("baseline", "candidate"):
            groups, counts = look["groups"][arm], look["counts"][arm]
            assert set(groups) == {"requests", "errors", "slow_requests"}
            assert all(len(v) == 8 for v in groups.values())
            for field in groups:
                assert sum(groups[field]) == counts[field], (arm, field)
        assert sum(1 for v in look["groups"]["candidate"]["requests"] if v > 0) >= 4  # sessions spread out


def test_the_embedded_cloudwatch_refuses_what_getmetricdata_refuses() -> None:
    """At most 500 queries a call, Ids [a-z][a-zA-Z0-9_]* and unique (MetricDataQuery, API reference):
    moto checks neither, so a reader past the limit would pass here and fail on AWS."""
    import pytest
    from botocore.exceptions import ClientError

    from genai_cicd.aws.cloudwatch import own_series

    with EmbeddedAWS(ROOT) as aws:
        cw = aws.client("cloudwatch")

        def query(i: str) -> dict[str, object]:
            return {"Id": i, "MetricStat": {"Metric": own_series("GenAIApp", "Requests", "a", "e", "baseline"),
                                            "Period": 60, "Stat": "Sum"}}

        window = {"StartTime": "2026-06-01T00:00:00Z", "EndTime": "2026-06-01T01:00:00Z"}
        cw.get_metric_data(MetricDataQueries=[query(f"q{i}") for i in range(500)], **window)
        for queries in ([query(f"q{i}") for i in range(501)], [query("Upper")], [query("q1"), query("q1")]):
            with pytest.raises(ClientError, match="ValidationError"):
                cw.get_metric_data(MetricDataQueries=queries, **window)
