"""A canary judged from the OpenTelemetry GenAI metrics alone (issue #31): the sample app emits
gen_ai.client.operation.duration and gen_ai.client.token.usage beside its own names
(OtelGenAIMetrics "1"), and the plans read only the OpenTelemetry ones (metric_names: otel_genai).
The demo's slow-model and good-prompt releases end as they do on genai-cicd's names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import embedded_stack, quiet_runner
from tests.utils import manifest_file, sample_manifest

# The demo's plans, reading OpenTelemetry names: errors and slow requests (low_quality has no
# convention metric); slow above the app's SLOW_REQUEST_MS, 1,500 ms.
OTEL = {"metric_names": "otel_genai", "metrics": ["errors", "slow_requests"],
        "critical_metrics": ["errors", "slow_requests"], "slow_request_ms": 1500}


@pytest.fixture(scope="module")
def otel_aws() -> Iterator[EmbeddedAWS]:
    yield from embedded_stack(app_parameters={"OtelGenAIMetrics": "1"})


@pytest.fixture(scope="module")
def otel_runner(otel_aws: EmbeddedAWS) -> LocalReleaseRunner:
    return quiet_runner(otel_aws)


def otel_manifest(tmp: Path, name: str) -> Path:
    return manifest_file(tmp, name, canary={**sample_manifest(name)["canary"], **OTEL})


def test_slow_model_is_rolled_back_on_slow_requests_read_from_the_duration(
        otel_runner: LocalReleaseRunner, tmp_path: Path) -> None:
    result = otel_runner.run(otel_manifest(tmp_path, "slow-model"), name="otel-slow-model")
    assert (result["outcome"], result["decided_on"], result["final_candidate_weight"]) == (
        "rolled_back", "slow_requests", 0.0), result


def test_good_prompt_is_promoted_reading_only_opentelemetry_names(otel_runner: LocalReleaseRunner,
                                                                  otel_aws: EmbeddedAWS, tmp_path: Path) -> None:
    result = otel_runner.run(otel_manifest(tmp_path, "good-prompt"), name="otel-good-prompt")
    assert (result["outcome"], result["final_candidate_weight"]) == ("promoted", 100.0), result
    assert result["decided_on"] in {"errors", "slow_requests"}
    # The judge's counts are the OpenTelemetry ones: requests per arm equal the app's own Requests count.
    counts = _interval_counts(otel_aws, "otel-good-prompt")
    assert counts and all(c["candidate"]["requests"] for c in counts)
    assert all(c["candidate"].get("cost_usd") is None and c["candidate"].get("low_quality") is None for c in counts)


def test_both_name_sets_count_the_same_requests_errors_and_slow_requests(otel_runner: LocalReleaseRunner,
                                                                          otel_aws: EmbeddedAWS) -> None:
    """Over the whole of the module's releases, per arm: the app's own counters and the OpenTelemetry
    metrics (errors derived, slow requests a CloudWatch trimmed count) agree. (Runs after the releases:
    the file's tests run in order on one worker.)"""
    from datetime import UTC, datetime, timedelta

    from genai_cicd.aws.cloudwatch import CanaryMetricsReader
    from genai_cicd.ports import OtelGenAINames

    otel_aws.clock.advance(180)  # every datapoint visible (the embedded EMF delay is at most 60 s)
    reader = CanaryMetricsReader(otel_aws.client("cloudwatch"))
    end = datetime.fromtimestamp(otel_aws.clock.time() // 60 * 60, tz=UTC)
    where = {"namespace": "GenAIApp", "app": "support-bot", "environment": "prod", "start": end - timedelta(hours=3),
             "end": end, "period": 60, "fields": ("requests", "errors", "slow_requests")}
    own = reader.interval_counts(**where)
    otel = reader.interval_counts(**where, otel=OtelGenAINames((("app", "support-bot"), ("environment", "prod")),
                                                               slow_seconds=1.5))
    assert own["candidate"]["requests"] and own["candidate"]["slow_requests"] and own["baseline"]["errors"]
    # Equal but for EMF lines extracted twice (one in 10,000, each name set's lines apart: a few).
    for arm in ("baseline", "candidate"):
        for field in ("requests", "errors", "slow_requests"):
            assert abs(otel[arm][field] - own[arm][field]) <= 3, (arm, field, otel, own)


def _interval_counts(aws: EmbeddedAWS, release: str) -> list[dict[str, Any]]:
    import json

    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"releases/{release}/canary/interval-")
            .get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read())["counts"] for k in sorted(keys)]
