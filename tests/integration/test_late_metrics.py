"""Late metrics (issue #25): CloudWatch makes an EMF datapoint queryable only after CloudWatch Logs has
processed it, and each arm's data may lag differently. AnalyzeCanary judges only periods that ended
``metric_settle_seconds`` ago, so with the settle delay above the ingestion delay it judges exactly what
the app emitted, and the same release decides the same with or without the delay.

The last test is the bug the settle delay fixes: read up to "now" (settle 0) with the baseline's data two
periods late, the judge counts less baseline traffic than the app served.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.embedded.metric_ingestion import NO_DELAY, IngestionDelay
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import ROOT, manifest_file

CANARY = {"steps": [5, 50], "bake_seconds": 60, "metric_period_seconds": 60, "max_intervals_per_step": 6,
          "min_canary_requests_per_step": 10, "negligible_rate": 0.5, "metrics": ["errors", "slow_requests"],
          "critical_metrics": ["errors"]}
# The baseline's datapoints two periods later than the candidate's, on top of the default delay.
BASELINE_LATE = IngestionDelay(base_seconds=30.0, arm_jitter_seconds=30.0, arm_extra_seconds={"baseline": 120.0},
                               duplicate_rate=0.0)


def one_release(tmp: Path, delay: IngestionDelay, settle: int) -> dict[str, Any]:
    tmp.mkdir()
    with EmbeddedAWS(ROOT, ingestion_delay=delay) as aws:
        runner = LocalReleaseRunner(aws, out=lambda _: None)
        runner.setup()
        path = manifest_file(tmp, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                             canary={**CANARY, "metric_settle_seconds": settle})
        result = runner.run(path, name="late-metrics", traffic_rate=5.0, warmup=60)
        s3 = aws.client("s3")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(
            Bucket=aws.bucket, Prefix="releases/late-metrics/canary/interval-")["Contents"])
        intervals = [json.loads(s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read()) for k in keys]
        first, last = intervals[0]["start"], intervals[-1]["end"]
        emitted = {arm: sum(stats[3] for (_, name, dims, _, stamp), stats in aws.runtime.ingestion.emitted.items()
                            if name == "Requests" and dict(dims).get("variant") == arm
                            and first <= _iso(stamp) < last) for arm in ("baseline", "candidate")}
        return {"outcome": result["outcome"], "emitted": emitted,
                "judged": {arm: sum(i["counts"][arm]["requests"] or 0 for i in intervals)
                           for arm in ("baseline", "candidate")},
                # sums of float costs folded in another order differ in the last bits: compare to 1e-9
                "intervals": [(i["start"], i["end"], _rounded(i["counts"]), i["action"]) for i in intervals]}


def _rounded(counts: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
    return {arm: {k: None if v is None else round(v, 9) for k, v in c.items()} for arm, c in counts.items()}


def _iso(stamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, tz=UTC).isoformat()


def test_given_late_and_unevenly_late_arms_then_the_judged_counts_are_what_the_app_emitted_and_decide_the_same(
        tmp_path: Path) -> None:
    late = one_release(tmp_path / "late", BASELINE_LATE, settle=240)
    assert late["judged"] == late["emitted"] and late["judged"]["candidate"] > 0
    prompt = one_release(tmp_path / "prompt", NO_DELAY, settle=240)
    assert late["intervals"] == prompt["intervals"] and late["outcome"] == prompt["outcome"]


def test_given_reads_up_to_now_with_a_late_baseline_then_baseline_traffic_goes_missing(tmp_path: Path) -> None:
    """What the settle delay prevents: the datapoints of the last minutes are not there yet when read."""
    unsettled = one_release(tmp_path / "unsettled", BASELINE_LATE, settle=0)
    assert unsettled["judged"]["baseline"] < unsettled["emitted"]["baseline"]
