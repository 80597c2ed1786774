"""GetMetricData with extended statistics, served by the embedded CloudWatch (moto has none), as the
CloudWatch API Reference documents the response (GetMetricData, MetricDataResult) and "CloudWatch statistics
definitions" the statistics: from the values of EMF lines, visible only once extracted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.stack import aws  # noqa: F401

DOCUMENTED: dict[str, Any] = json.loads((Path(__file__).parent / "aws_apis" / "responses.json").read_text())
DIMS = {"app": "contract", "environment": "prod", "variant": "candidate"}


def emf(aws: EmbeddedAWS, at: float, values: list[float]) -> None:  # noqa: F811
    """What CloudWatch Logs extracts from one EMF line a function printed at ``at``."""
    metric = {"Name": "LatencyMs", "Unit": "Milliseconds"}
    doc = {"_aws": {"Timestamp": int(at * 1000), "CloudWatchMetrics": [
        {"Namespace": "Contract", "Dimensions": [list(DIMS)], "Metrics": [metric]}]}, **DIMS, "LatencyMs": values}
    aws.runtime._emf_to_metrics(doc, at)


def query(stat: str, qid: str) -> dict[str, Any]:
    return {"Id": qid, "ReturnData": True, "MetricStat": {"Period": 60, "Stat": stat, "Metric": {
        "Namespace": "Contract", "MetricName": "LatencyMs",
        "Dimensions": [{"Name": k, "Value": v} for k, v in DIMS.items()]}}}


@pytest.fixture(scope="module")
def window(aws: EmbeddedAWS) -> tuple[datetime, datetime]:  # noqa: F811
    start = (int(aws.clock.time()) // 60 + 1) * 60.0
    emf(aws, start + 5, [100.0, 1500.0, 1500.5, 3000.0])
    emf(aws, start + 65, [200.0, 2000.0])
    aws.clock.advance_to(start + 120 + aws.runtime.ingestion.delay.max_seconds() + 1)
    return datetime.fromtimestamp(start, tz=UTC), datetime.fromtimestamp(start + 120, tz=UTC)


def test_extended_statistics_come_back_in_the_documented_shape_with_the_documented_meaning(
        aws: EmbeddedAWS, window: tuple[datetime, datetime]) -> None:  # noqa: F811
    start, end = window
    page = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[query("TC(1500:)", "slow"), query("PR(:1500)", "within"), query("p50", "median"),
                           query("SampleCount", "n")],
        StartTime=start, EndTime=end, ScanBy="TimestampAscending")
    assert set(page) - {"ResponseMetadata"} <= set(DOCUMENTED["cloudwatch.GetMetricData"])
    by_id = {}
    for result in page["MetricDataResults"]:
        assert set(result) <= set(DOCUMENTED["cloudwatch.MetricDataResult"]["members"])
        assert result["StatusCode"] in DOCUMENTED["cloudwatch.MetricDataResult"]["StatusCode"]
        assert len(result["Timestamps"]) == len(result["Values"])
        assert all(isinstance(t, datetime) for t in result["Timestamps"])
        by_id[result["Id"]] = result
    assert by_id["slow"]["Timestamps"] == [start, start + timedelta(minutes=1)]
    assert by_id["slow"]["Values"] == [2.0, 1.0]  # above 1,500 (the bound itself is not above it)
    assert by_id["within"]["Values"] == [50.0, 50.0]
    assert by_id["median"]["Values"] == [1500.0, 200.0]
    assert by_id["n"]["Values"] == [4.0, 2.0]


def test_a_request_of_basic_statistics_is_moto_s_and_agrees(
        aws: EmbeddedAWS, window: tuple[datetime, datetime]) -> None:  # noqa: F811
    start, end = window
    cw = aws.client("cloudwatch")
    basic = cw.get_metric_data(MetricDataQueries=[query("SampleCount", "n"), query("Sum", "s")], StartTime=start,
                               EndTime=end, ScanBy="TimestampAscending")["MetricDataResults"]
    served = cw.get_metric_data(MetricDataQueries=[query("SampleCount", "n"), query("Sum", "s"), query("p99", "p")],
                                StartTime=start, EndTime=end, ScanBy="TimestampAscending")["MetricDataResults"]
    assert [(r["Id"], r["Values"]) for r in basic] == [(r["Id"], r["Values"]) for r in served[:2]]


def test_values_not_yet_extracted_are_not_counted_and_percent_bounds_are_refused(aws: EmbeddedAWS) -> None:  # noqa: F811
    at = (int(aws.clock.time()) // 60 + 1) * 60.0
    emf(aws, at, [5000.0])
    start = datetime.fromtimestamp(at, tz=UTC)
    cw = aws.client("cloudwatch")
    aws.clock.advance_to(at + 1)  # before the embedded EMF delay has passed
    early = cw.get_metric_data(MetricDataQueries=[query("TC(0:)", "all")], StartTime=start,
                               EndTime=start + timedelta(minutes=1))["MetricDataResults"]
    assert early[0]["Values"] == []
    with pytest.raises(ClientError, match="not simulated"):
        cw.get_metric_data(MetricDataQueries=[query("TC(10%:90%)", "pct")], StartTime=start,
                           EndTime=start + timedelta(minutes=1))
