"""Read per-variant counts for one canary interval with GetMetricData.

The sample app (and any app released with genai-cicd) emits EMF metrics with
dimensions app, environment, variant. Counts of bad events (Errors,
SlowRequests, LowQuality, GuardrailInterventions) and Requests are summed over
the interval: sums work in CloudWatch and in the embedded one alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

# field in the canary stream -> CloudWatch metric name emitted by the app
COUNT_METRICS = {
    "requests": "Requests",
    "errors": "Errors",
    "slow_requests": "SlowRequests",
    "low_quality": "LowQuality",
    "guardrail_interventions": "GuardrailInterventions",
    "input_tokens": "InputTokens",
    "output_tokens": "OutputTokens",
    "cost_usd": "CostUSD",
}
ARMS = ("baseline", "candidate")


class CanaryMetricsReader:
    def __init__(self, cloudwatch: Any) -> None:
        self._cw = cloudwatch

    def interval_counts(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                        period: int, arms: tuple[str, ...] = ARMS,
                        fields: tuple[str, ...] = tuple(COUNT_METRICS)) -> dict[str, dict[str, float | None]]:
        """{arm: {field: sum or None when CloudWatch returned no datapoint}}, for the arms and fields asked."""
        queries: list[dict[str, Any]] = []
        for arm in arms:
            for field in fields:
                metric = COUNT_METRICS[field]
                queries.append({
                    "Id": f"{arm[0]}_{field}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace, "MetricName": metric,
                            "Dimensions": [{"Name": "app", "Value": app},
                                           {"Name": "environment", "Value": environment},
                                           {"Name": "variant", "Value": arm}],
                        },
                        "Period": period, "Stat": "Sum",
                    },
                    "ReturnData": True,
                })
        sums: dict[str, float | None] = {str(q["Id"]): None for q in queries}
        kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end,
                                  "ScanBy": "TimestampAscending"}
        while True:
            page = self._cw.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                values = result.get("Values") or []
                if values:
                    sums[result["Id"]] = (sums[result["Id"]] or 0.0) + float(sum(values))
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return {arm: {field: sums[f"{arm[0]}_{field}"] for field in fields} for arm in arms}

    def interval_counts_or_none(self, **query: Any) -> dict[str, dict[str, float | None]] | None:
        """interval_counts, or None when CloudWatch refuses the read: for information that never
        drives a decision (the canary's traffic estimate)."""
        try:
            return self.interval_counts(**query)
        except ClientError:
            return None

    def first_seen(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                   arm: str = "baseline", period: int = 60) -> datetime | None:
        """The start of the first ``period`` in [start, end) in which ``arm`` had requests; None when
        there were none or CloudWatch refuses the read (information only, like interval_counts_or_none)."""
        query = {"Id": "requests", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": COUNT_METRICS["requests"],
                       "Dimensions": [{"Name": "app", "Value": app}, {"Name": "environment", "Value": environment},
                                      {"Name": "variant", "Value": arm}]},
            "Period": period, "Stat": "SampleCount"}}
        try:
            page = self._cw.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end,
                                            ScanBy="TimestampAscending")
        except ClientError:
            return None
        stamps = [t for r in page.get("MetricDataResults", []) for t in r.get("Timestamps") or []]
        return min(stamps) if stamps else None

    def latency_summary(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                        bound_ms: float | None) -> dict[str, dict[str, float | None]] | None:
        """Sample count, p50, p99 and PR(:bound) of LatencyMs per arm over the window, for the report only.

        Percentiles never drive a decision (they are not additive across intervals and
        cannot be exercised on the embedded CloudWatch); when unavailable this returns None.
        """
        seconds = max(60, int((end - start).total_seconds() + 59) // 60 * 60)
        stats = {"samples": "SampleCount", "p50": "p50", "p99": "p99"}
        if bound_ms:
            stats["within_bound"] = f"PR(:{bound_ms:g})"
        queries = [{"Id": f"{arm[0]}_{key}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": "LatencyMs",
                       "Dimensions": [{"Name": "app", "Value": app}, {"Name": "environment", "Value": environment},
                                      {"Name": "variant", "Value": arm}]},
            "Period": seconds, "Stat": stat}} for arm in ARMS for key, stat in stats.items()]
        try:
            page = self._cw.get_metric_data(MetricDataQueries=queries, StartTime=start,
                                            EndTime=start + timedelta(seconds=seconds))
        except Exception:  # noqa: BLE001 - optional reading: the report says "unavailable"
            return None
        values = {r["Id"]: (r.get("Values") or [None])[0] for r in page.get("MetricDataResults", [])}
        return {arm: {key: values.get(f"{arm[0]}_{key}") for key in stats} for arm in ARMS}
