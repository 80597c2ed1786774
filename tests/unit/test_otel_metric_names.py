"""Canary plans that read the OpenTelemetry GenAI metrics (metric_names: otel_genai, issue #31): the plan's
rules, the GetMetricData queries the reader makes, how it derives errors, and the embedded CloudWatch's
extended statistics it relies on."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from genai_cicd.aws.cloudwatch import CanaryMetricsReader, slow_statistic
from genai_cicd.logic.canary import otel_names
from genai_cicd.models.manifest import CanaryPlan, ReleaseManifest
from genai_cicd.ports import OtelGenAINames
from genai_cicd_local.embedded.services.base import BackendError
from genai_cicd_local.embedded.services.cloudwatch import statistic
from tests.utils import sample_manifest

OTEL = {"metric_names": "otel_genai", "metrics": ["errors", "slow_requests"], "slow_request_ms": 1500}
NAMES = OtelGenAINames((("app", "support-bot"), ("environment", "prod")), slow_seconds=1.5)
START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


# -- the plan ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "says"), [
    ({"metrics": ["errors", "low_quality"]}, "low_quality has no OpenTelemetry GenAI metric"),
    ({"metrics": ["guardrail_interventions"], "critical_metrics": []}, "guardrail_interventions has no"),
    ({"slow_request_ms": None}, "set slow_request_ms"),
    ({"max_cost_increase": 0.2}, "define no cost metric"),
    ({"otel": {"dimensions": {"feature_flag.result.variant": "x"}}}, "set by the judge per arm"),
    ({"otel": {"dimensions": {":app": "x"}}}, "dimensions"),
    ({"metric_names": "otel"}, "metric_names"),
])
def test_a_plan_reading_opentelemetry_names_asks_only_for_what_the_conventions_define(
        change: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        CanaryPlan.model_validate({**OTEL, **change})


def test_the_plan_says_where_the_metrics_are_with_the_manifest_s_app_and_environment_by_default() -> None:
    manifest = ReleaseManifest.model_validate({**sample_manifest(), "canary": {**sample_manifest()["canary"], **OTEL}})
    assert otel_names(manifest) == NAMES
    custom = ReleaseManifest.model_validate({**sample_manifest(), "canary": {
        **sample_manifest()["canary"], **OTEL, "otel": {"dimensions": {"service.name": "bot"}}}})
    assert otel_names(custom) == OtelGenAINames((("service.name", "bot"),), 1.5)
    assert otel_names(ReleaseManifest.model_validate(sample_manifest())) is None  # genai_cicd names by default
    assert CanaryPlan.model_validate({**OTEL, "max_token_increase": 0.3}).max_token_increase == 0.3


# -- the reader ----------------------------------------------------------------------------------------
class CloudWatch:
    """Answers GetMetricData from a table (metric, variant, token type, statistic) -> values."""

    def __init__(self, table: dict[tuple[str, str, str | None, str], list[float]]) -> None:
        self.table = table
        self.requests: list[dict[str, Any]] = []

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        results = []
        for q in kwargs["MetricDataQueries"]:
            metric = q["MetricStat"]["Metric"]
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            key = (metric["MetricName"], dims["feature_flag.result.variant"], dims.get("gen_ai.token.type"),
                   q["MetricStat"]["Stat"])
            results.append({"Id": q["Id"], "Values": self.table.get(key, [])})
        return {"MetricDataResults": results}


def read(table: dict[tuple[str, str, str | None, str], list[float]], arms: tuple[str, ...] = ("baseline", "candidate"),
         names: OtelGenAINames = NAMES) -> tuple[dict[str, dict[str, float | None]], CloudWatch]:
    cw = CloudWatch(table)
    counts = CanaryMetricsReader(cw).interval_counts(
        namespace="GenAIApp", app="ignored", environment="ignored", start=START, end=START + timedelta(minutes=2),
        period=60, arms=arms, otel=names)
    return counts, cw


D, U = "gen_ai.client.operation.duration", "gen_ai.client.token.usage"


def test_requests_errors_slow_requests_and_tokens_come_from_the_duration_and_the_token_usage() -> None:
    counts, cw = read({
        (D, "candidate", None, "SampleCount"): [60.0, 40.0], (U, "candidate", "input", "SampleCount"): [58.0, 39.0],
        (D, "candidate", None, "TC(1.5:)"): [7.0, 3.0], (U, "candidate", "input", "Sum"): [900.0, 600.0],
        (U, "candidate", "output", "Sum"): [300.0, 200.0],
        (D, "baseline", None, "SampleCount"): [1000.0], (U, "baseline", "input", "SampleCount"): [1000.0],
        (D, "baseline", None, "TC(1.5:)"): [0.0]})
    assert counts["candidate"] == {"requests": 100.0, "errors": 3.0, "slow_requests": 10.0, "low_quality": None,
                                   "guardrail_interventions": None, "input_tokens": 1500.0, "output_tokens": 500.0,
                                   "cost_usd": None}
    assert counts["baseline"]["errors"] == 0.0 and counts["baseline"]["input_tokens"] is None
    (request,) = cw.requests
    for query in request["MetricDataQueries"]:
        dims = {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}
        assert {k: dims[k] for k in ("app", "environment")} == {"app": "support-bot", "environment": "prod"}
        assert query["MetricStat"]["Metric"]["Namespace"] == "GenAIApp" and query["MetricStat"]["Period"] == 60
        assert set(dims) - {"app", "environment", "feature_flag.result.variant"} <= {"gen_ai.token.type"}


def test_a_candidate_failing_every_call_has_every_call_an_error_and_no_calls_is_no_data() -> None:
    """No token usage at all (every call failed) is all errors, never none; no duration is missing data."""
    counts, _ = read({(D, "candidate", None, "SampleCount"): [50.0]})
    assert (counts["candidate"]["requests"], counts["candidate"]["errors"]) == (50.0, 50.0)
    assert counts["baseline"]["requests"] is None and counts["baseline"]["errors"] is None


def test_token_usage_missing_from_the_baseline_is_missing_data_not_every_call_failed() -> None:
    """An exporter that publishes no token-usage rollup would make both arms 100% errors (equal, so "safe"):
    the baseline's errors are then unknown, and an interval with an unknown metric never promotes."""
    counts, _ = read({(D, "candidate", None, "SampleCount"): [50.0], (D, "baseline", None, "SampleCount"): [900.0]})
    assert counts["baseline"]["errors"] is None and counts["candidate"]["errors"] == 50.0
    probes, _ = read({(D, "baseline-probe", None, "SampleCount"): [5.0]}, arms=("baseline-probe", "candidate-probe"))
    assert probes["baseline-probe"]["errors"] is None


def test_a_duplicated_token_line_never_makes_errors_negative() -> None:
    counts, _ = read({(D, "candidate", None, "SampleCount"): [50.0], (U, "candidate", "input", "SampleCount"): [51.0]})
    assert counts["candidate"]["errors"] == 0.0


def test_without_a_slow_bound_slow_requests_are_not_read() -> None:
    counts, cw = read({(D, "candidate", None, "SampleCount"): [5.0]},
                      names=OtelGenAINames(NAMES.dimensions, slow_seconds=None))
    assert counts["candidate"]["slow_requests"] is None
    assert not any(q["MetricStat"]["Stat"].startswith("TC") for q in cw.requests[0]["MetricDataQueries"])


def test_probe_arms_are_read_as_their_own_variants() -> None:
    counts, _ = read({(D, "candidate-probe", None, "SampleCount"): [4.0]}, arms=("baseline-probe", "candidate-probe"))
    assert counts["candidate-probe"]["requests"] == 4.0 and counts["baseline-probe"]["requests"] is None


@pytest.mark.parametrize(("seconds", "stat"), [(1.5, "TC(1.5:)"), (2.0, "TC(2:)"), (0.0125, "TC(0.0125:)"),
                                               (1e-6, "TC(0.000001:)")])
def test_the_slow_bound_is_written_as_cloudwatch_reads_it(seconds: float, stat: str) -> None:
    assert slow_statistic(seconds) == stat


# -- the embedded CloudWatch's extended statistics -----------------------------------------------------
def test_extended_statistics_follow_cloudwatch_s_definitions() -> None:
    values = [0.5, 1.5, 1.5000001, 2.0, 3.0]
    assert statistic("TC(1.5:)", values) == 3.0  # lower bound exclusive: 1.5 itself is not above it
    assert statistic("PR(:1.5)", values) == 40.0  # upper bound inclusive
    assert statistic("PR(1.5:3)", values) == 60.0
    assert statistic("TM(1:2.5)", values) == pytest.approx((1.5 + 1.5000001 + 2.0) / 3)
    assert statistic("p50", values) == 1.5000001 and statistic("p100", values) == 3.0
    assert statistic("TC(5:)", values) == 0.0 and statistic("TM(5:)", values) is None
    assert statistic("SampleCount", values) == 5.0 and math.isclose(statistic("Sum", values) or 0, 8.5000001)
    assert statistic("TC(1:)", []) is None  # no values: no datapoint


def test_a_percent_bound_is_refused_as_not_simulated_rather_than_answered_wrongly() -> None:
    with pytest.raises(BackendError, match="not simulated"):
        statistic("TC(10%:90%)", [1.0])
