"""Harmless canaries with late metrics: is any rolled back more often than with no ingestion delay?

For each of N seeds (the release name seeds the app's users), the same harmless release (good-prompt,
the sample app's 20 requests/s shape at 5 requests/s) runs three times on a fresh embedded stack:
  - no ingestion delay, settle 240 s;
  - the baseline's datapoints two periods (120 s) later than the candidate's on top of the default
    30 s + up to 30 s, settle 240 s (the plan covers the delay);
  - the same late baseline, settle 0 (reads up to "now": the behaviour before issue #25).
It prints the outcomes, whether the settled run's intervals equal the no-delay run's, and how much
baseline traffic the unsettled run never judged. Results: docs/BENCHMARKS.md.

    .venv/bin/python bench/late_metrics.py --runs 8
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genai_cicd_local.embedded.aws_session import EmbeddedAWS  # noqa: E402
from genai_cicd_local.embedded.metric_ingestion import NO_DELAY, IngestionDelay  # noqa: E402
from genai_cicd_local.runner import LocalReleaseRunner  # noqa: E402
from tests.utils import manifest_file  # noqa: E402

CANARY = {"steps": [5, 50], "bake_seconds": 60, "metric_period_seconds": 60, "max_intervals_per_step": 20,
          "min_canary_requests_per_step": 50, "metrics": ["errors", "slow_requests"],
          "critical_metrics": ["errors"], "negligible_rate": 0.05}
LATE = IngestionDelay(base_seconds=30.0, arm_jitter_seconds=30.0, arm_extra_seconds={"baseline": 120.0},
                      duplicate_rate=0.0)


def release(tmp: Path, name: str, delay: IngestionDelay, settle: int) -> dict[str, Any]:
    tmp.mkdir(parents=True)
    with EmbeddedAWS(ROOT, ingestion_delay=delay) as aws:
        runner = LocalReleaseRunner(aws, out=lambda _: None)
        runner.setup()
        path = manifest_file(tmp, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                             canary={**CANARY, "metric_settle_seconds": settle})
        result = runner.run(path, name=name, traffic_rate=5.0, warmup=300)
        s3 = aws.client("s3")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(
            Bucket=aws.bucket, Prefix=f"releases/{name}/canary/interval-").get("Contents", []))
        intervals = [json.loads(s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read()) for k in keys]
        judged = sum(i["counts"]["baseline"]["requests"] or 0 for i in intervals)
        emitted = sum(stats[3] for (_, metric, dims, _, stamp), stats in aws.runtime.ingestion.emitted.items()
                      if metric == "Requests" and dict(dims).get("variant") == "baseline" and intervals
                      and intervals[0]["start"] <= _iso(stamp) < intervals[-1]["end"])
        return {"outcome": result["outcome"], "judged_baseline": judged, "emitted_baseline": emitted,
                "intervals": [(i["start"], i["end"], i["action"],
                               {a: round(i["counts"][a]["requests"] or 0) for a in ("baseline", "candidate")})
                              for i in intervals]}


def _iso(stamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, tz=UTC).isoformat()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="late-metrics-"))
    rows = []
    for run in range(args.runs):
        name = f"late-{run}"
        prompt = release(tmp / f"{run}-none", name, NO_DELAY, 240)
        late = release(tmp / f"{run}-late", name, LATE, 240)
        unsettled = release(tmp / f"{run}-unsettled", name, LATE, 0)
        rows.append({"seed": name, "no_delay": prompt["outcome"], "late_settled": late["outcome"],
                     "same_intervals": late["intervals"] == prompt["intervals"],
                     "late_unsettled": unsettled["outcome"],
                     "unsettled_baseline_judged_share": round(unsettled["judged_baseline"]
                                                              / max(1.0, unsettled["emitted_baseline"]), 3)})
        print(json.dumps(rows[-1]), flush=True)
    summary = {k: sum(r[k] == "rolled_back" or r[k] == "failed" for r in rows)
               for k in ("no_delay", "late_settled", "late_unsettled")}
    print(json.dumps({"runs": len(rows), "rolled_back_or_failed": summary,
                      "identical_intervals": sum(r["same_intervals"] for r in rows)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
