"""Read per-variant counts for one canary interval with GetMetricData.

The sample app (and any app released with genai-cicd) emits EMF metrics with
dimensions app, environment, variant. Counts of bad events (Errors,
SlowRequests, LowQuality, GuardrailInterventions) and Requests are summed over
the interval: sums work in CloudWatch and in the embedded one alike.

Or, when the canary plan says ``metric_names: otel_genai``, the OpenTelemetry GenAI
semantic-convention metrics (OtelGenAINames): requests are the calls recorded in
``gen_ai.client.operation.duration``, errors those of them without a
``gen_ai.client.token.usage`` of type input, slow requests the trimmed count
``TC(bound:)`` of the duration, tokens the sums of the token usage.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from genai_cicd.ports import OtelGenAINames

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

DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
VARIANT = "feature_flag.result.variant"


def own_series(namespace: str, metric: str, app: str, environment: str, arm: str) -> dict[str, Any]:
    """The Metric of one arm under genai-cicd's names: dimensions exactly app, environment, variant."""
    return {"Namespace": namespace, "MetricName": metric,
            "Dimensions": [{"Name": "app", "Value": app}, {"Name": "environment", "Value": environment},
                           {"Name": "variant", "Value": arm}]}


def otel_series(names: OtelGenAINames, metric: str, arm: str, **extra: str) -> dict[str, Any]:
    """The Metric of one arm's rollup series (Namespace filled in by the caller)."""
    dims = [*names.dimensions, (VARIANT, arm), *extra.items()]
    return {"Namespace": "", "MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dims]}


def slow_statistic(seconds: float) -> str:
    """CloudWatch's trimmed count of the values above ``seconds`` (its lower bound is exclusive)."""
    return f"TC({seconds:.6f}".rstrip("0").rstrip(".") + ":)"


def _sum_pages(cw: Any, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, float | None]:
    """Each query's values summed over the window (None: no datapoint), across every page."""
    sums: dict[str, float | None] = {str(q["Id"]): None for q in queries}
    kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end,
                              "ScanBy": "TimestampAscending"}
    while True:
        page = cw.get_metric_data(**kwargs)
        for result in page.get("MetricDataResults", []):
            values = result.get("Values") or []
            if values:
                sums[result["Id"]] = (sums[result["Id"]] or 0.0) + float(sum(values))
        token = page.get("NextToken")
        if not token:
            return sums
        kwargs["NextToken"] = token


class CanaryMetricsReader:
    def __init__(self, cloudwatch: Any) -> None:
        self._cw = cloudwatch

    def interval_counts(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                        period: int, arms: tuple[str, ...] = ARMS,
                        fields: tuple[str, ...] = tuple(COUNT_METRICS),
                        otel: OtelGenAINames | None = None) -> dict[str, dict[str, float | None]]:
        """{arm: {field: sum or None when CloudWatch returned no datapoint}}, for the arms and fields asked
        (from the OpenTelemetry GenAI metrics when ``otel`` says where they are)."""
        if otel is not None:
            return self._otel_counts(namespace, otel, start, end, period, arms, fields)
        queries = [{"Id": f"{arm[0]}_{field}", "ReturnData": True, "MetricStat": {
            "Metric": own_series(namespace, COUNT_METRICS[field], app, environment, arm), "Period": period,
            "Stat": "Sum"}} for arm in arms for field in fields]
        sums = _sum_pages(self._cw, queries, start, end)
        return {arm: {field: sums[f"{arm[0]}_{field}"] for field in fields} for arm in arms}

    def group_counts(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                     period: int, groups: int, fields: tuple[str, ...],
                     arms: tuple[str, ...] = ARMS) -> dict[str, dict[str, list[float]]] | None:
        """{arm: {field: [sum per session group]}}: the app's counts under the extra dimension
        ``session_group`` (genai_cicd_app, while the flag asks for them). A group with no datapoint had
        no request (0); None when no group of an arm has a datapoint (the app reports none), so the
        judge falls back to its other estimate. At most 2 x 5 x 32 = 320 queries: one GetMetricData call."""
        queries = [{"Id": f"{arm[0]}_{field}_{g}", "ReturnData": True, "MetricStat": {
            "Metric": {**own_series(namespace, COUNT_METRICS[field], app, environment, arm),
                       "Dimensions": [*own_series(namespace, COUNT_METRICS[field], app, environment, arm)[
                           "Dimensions"], {"Name": "session_group", "Value": str(g)}]},
            "Period": period, "Stat": "Sum"}} for arm in arms for field in fields for g in range(groups)]
        sums = _sum_pages(self._cw, queries, start, end)
        out: dict[str, dict[str, list[float]]] = {}
        for arm in arms:
            if all(sums[f"{arm[0]}_requests_{g}"] is None for g in range(groups)):
                return None
            out[arm] = {field: [sums[f"{arm[0]}_{field}_{g}"] or 0.0 for g in range(groups)] for field in fields}
        return out

    def _otel_counts(self, namespace: str, otel: OtelGenAINames, start: datetime, end: datetime, period: int,
                     arms: tuple[str, ...], fields: tuple[str, ...]) -> dict[str, dict[str, float | None]]:
        """The stream fields from the OpenTelemetry GenAI metrics; fields they do not define are None.

        Errors are the calls with a duration and no input token usage: the conventions record the
        duration of every call (``error.type`` on a failed one, whose values cannot be listed without
        ListMetrics' delay of up to 15 minutes) and the token usage of the calls that returned one."""
        wanted = {  # query suffix -> (metric, extra dimensions, statistic)
            "calls": (DURATION, {}, "SampleCount"),
            "answered": (TOKEN_USAGE, {"gen_ai.token.type": "input"}, "SampleCount"),
            "input": (TOKEN_USAGE, {"gen_ai.token.type": "input"}, "Sum"),
            "output": (TOKEN_USAGE, {"gen_ai.token.type": "output"}, "Sum"),
        }
        if "slow_requests" in fields and otel.slow_seconds is not None:
            wanted["slow"] = (DURATION, {}, slow_statistic(otel.slow_seconds))
        queries = []
        for index, arm in enumerate(arms):
            for suffix, (metric, extra, stat) in wanted.items():
                series = otel_series(otel, metric, arm, **extra) | {"Namespace": namespace}
                queries.append({"Id": f"a{index}_{suffix}", "ReturnData": True,
                                "MetricStat": {"Metric": series, "Period": period, "Stat": stat}})
        sums = _sum_pages(self._cw, queries, start, end)
        out: dict[str, dict[str, float | None]] = {}
        for index, arm in enumerate(arms):
            got = {suffix: sums[f"a{index}_{suffix}"] for suffix in wanted}
            calls = got["calls"]
            # A duplicated EMF line (extraction is at least once) can put answered above calls by one.
            errors = None if calls is None else min(calls, max(0.0, calls - (got["answered"] or 0.0)))
            if arm.startswith("baseline") and calls and got["answered"] is None:
                # No token usage at all on the baseline reads as "every call failed" in both arms when the
                # exporter does not publish the token rollup: equal rates would then look safe. Missing data.
                errors = None
            row: dict[str, float | None] = {"requests": calls, "errors": errors, "slow_requests": got.get("slow"),
                                            "input_tokens": got["input"], "output_tokens": got["output"]}
            out[arm] = {field: row.get(field) for field in fields}
        return out

    def interval_counts_or_none(self, **query: Any) -> dict[str, dict[str, float | None]] | None:
        """interval_counts, or None when CloudWatch refuses the read: for information that never
        drives a decision (the canary's traffic estimate)."""
        try:
            return self.interval_counts(**query)
        except ClientError:
            return None

    def first_seen(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                   arm: str = "baseline", period: int = 60, otel: OtelGenAINames | None = None) -> datetime | None:
        """The start of the first ``period`` in [start, end) in which ``arm`` had requests; None when
        there were none or CloudWatch refuses the read (information only, like interval_counts_or_none)."""
        metric = (otel_series(otel, DURATION, arm) | {"Namespace": namespace}) if otel is not None else (
            own_series(namespace, COUNT_METRICS["requests"], app, environment, arm))
        query = {"Id": "requests", "ReturnData": True, "MetricStat": {
            "Metric": metric, "Period": period, "Stat": "SampleCount"}}
        try:
            page = self._cw.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end,
                                            ScanBy="TimestampAscending")
        except ClientError:
            return None
        stamps = [t for r in page.get("MetricDataResults", []) for t in r.get("Timestamps") or []]
        return min(stamps) if stamps else None

    def latency_summary(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                        bound_ms: float | None, otel: OtelGenAINames | None = None
                        ) -> dict[str, dict[str, float | None]] | None:
        """Sample count, p50, p99 (ms) and PR(:bound) of the latency per arm over the window, for the report
        only (LatencyMs, or gen_ai.client.operation.duration in seconds with ``otel``).

        Percentiles never drive a decision (they are not additive across intervals); when unavailable
        this returns None.
        """
        seconds = max(60, int((end - start).total_seconds() + 59) // 60 * 60)
        scale = 1000.0 if otel is not None else 1.0  # the duration is in seconds, the report in ms
        stats = {"samples": "SampleCount", "p50": "p50", "p99": "p99"}
        if bound_ms:
            stats["within_bound"] = f"PR(:{bound_ms / scale:g})"

        def metric(arm: str) -> dict[str, Any]:
            if otel is not None:
                return otel_series(otel, DURATION, arm) | {"Namespace": namespace}
            return own_series(namespace, "LatencyMs", app, environment, arm)

        queries = [{"Id": f"{arm[0]}_{key}", "ReturnData": True, "MetricStat": {
            "Metric": metric(arm), "Period": seconds, "Stat": stat}} for arm in ARMS for key, stat in stats.items()]
        try:
            page = self._cw.get_metric_data(MetricDataQueries=queries, StartTime=start,
                                            EndTime=start + timedelta(seconds=seconds))
        except Exception:  # noqa: BLE001 - optional reading: the report says "unavailable"
            return None
        values = {r["Id"]: (r.get("Values") or [None])[0] for r in page.get("MetricDataResults", [])}
        out: dict[str, dict[str, float | None]] = {}
        for arm in ARMS:
            row = {key: values.get(f"{arm[0]}_{key}") for key in stats}
            for key in ("p50", "p99"):
                if row.get(key) is not None:
                    row[key] = float(row[key]) * scale  # type: ignore[arg-type]
            out[arm] = row
        return out
