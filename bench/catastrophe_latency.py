"""How soon a failing canary is rolled back at the default plan, through the state machine (issue #27).

For each effect (the candidate model failing every request, half of them, a fifth, or 20 times the
sample model's own error rate) and each of N seeds (the release name seeds the app's users), one release runs
on a fresh embedded stack in simulated time: the sample app at 20 requests/s, gates that call no model,
then the default canary plan (steps 5/25 %, looks every 60 s metric period read 120 s after it ends,
a 300 s bake, errors critical; docs/STATISTICS.md, "Looks"). It prints, per effect, the look at which
the canary was rolled back and the minutes from the shift (the ledger's canary_step) to the rollback
(its rolled_back entry). Results: docs/BENCHMARKS.md §1.

    .venv/bin/python bench/catastrophe_latency.py --runs 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genai_cicd.aws.ledger import Ledger  # noqa: E402
from genai_cicd.models.manifest import CanaryPlan  # noqa: E402
from genai_cicd_local.embedded import model  # noqa: E402
from genai_cicd_local.embedded.aws_session import EmbeddedAWS  # noqa: E402
from genai_cicd_local.runner import LocalReleaseRunner  # noqa: E402
from tests.utils import manifest_file  # noqa: E402

DEFAULT = CanaryPlan()
# The plan's defaults, over the sample manifest's demo settings (its 60 s bake and settle, its negligible rate).
CANARY = {"steps": DEFAULT.steps, "bake_seconds": DEFAULT.bake_seconds,
          "metric_period_seconds": DEFAULT.metric_period_seconds,
          "metric_settle_seconds": DEFAULT.metric_settle_seconds,
          "max_intervals_per_step": DEFAULT.max_intervals_per_step,
          "min_canary_requests_per_step": DEFAULT.min_canary_requests_per_step,
          "negligible_rate": DEFAULT.negligible_rate, "metrics": [m.value for m in DEFAULT.metrics],
          "critical_metrics": [m.value for m in DEFAULT.critical_metrics]}
GATES = {"prompt_regression": None, "injection_suite": None}  # the guardrail suite calls no model
HEALTHY = model.PROFILES["local.sim-chat-v1"]
# The 20x is of a 1% baseline (a fifth failing); the sample model's own rate is 0.2%, 20x of which is 4%.
EFFECTS = {"every request fails": 1.0, "half fail": 0.5, "a fifth fail (20x a 1% rate)": 0.2,
           f"20x the sample model's errors ({20 * HEALTHY.error_rate:.0%})": 20 * HEALTHY.error_rate}


def release(tmp: Path, name: str, error_rate: float) -> dict[str, Any]:
    model.PROFILES["local.sim-changed"] = model.ModelProfile(
        HEALTHY.accuracy, HEALTHY.compliance, HEALTHY.base_latency_ms, HEALTHY.ms_per_output_token,
        HEALTHY.usd_per_1k_input, HEALTHY.usd_per_1k_output, error_rate)
    tmp.mkdir(parents=True)
    with EmbeddedAWS(ROOT) as aws:
        runner = LocalReleaseRunner(aws, out=lambda _: None)
        runner.setup()
        path = manifest_file(tmp, "good-prompt", gates=GATES, canary=CANARY,
                             candidate={"model_id": "local.sim-changed"})
        result = runner.run(path, name=name, traffic_rate=20.0)
        s3 = aws.client("s3")
        looks = len(s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"releases/{name}/canary/interval-")
                    .get("Contents", []))
        entries = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(name)
    when = {e.event: datetime.fromisoformat(e.at) for e in reversed(entries)}  # the first of each
    minutes = ((when["rolled_back"] - when["canary_step"]).total_seconds() / 60
               if "rolled_back" in when and "canary_step" in when else None)
    return {"outcome": result["outcome"], "looks": looks, "minutes": minutes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"Default plan: looks every {DEFAULT.look_seconds} s, read {DEFAULT.metric_settle_seconds} s after the "
          f"period ends, bake {DEFAULT.bake_seconds} s; {args.runs} releases per effect at 20 requests/s "
          "(5% to the candidate: about 60 canary requests a look).\n")
    print("| candidate | outcome | rolled back at look (count) | minutes from shift to rollback: median / max |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, rate in EFFECTS.items():
            runs = [release(Path(tmp) / f"{rate}-{i}", f"catastrophe-{int(rate * 1000)}-{i}", rate)
                    for i in range(args.runs)]
            outcomes = Counter(r["outcome"] for r in runs)
            looks = Counter(r["looks"] for r in runs if r["outcome"] == "rolled_back")
            minutes = [r["minutes"] for r in runs if r["minutes"] is not None]
            spread = (f"{statistics.median(minutes):.1f} / {max(minutes):.1f}" if minutes else "-")
            print(f"| {label} | {json.dumps(dict(outcomes))} | "
                  f"{', '.join(f'{k}: {v}' for k, v in sorted(looks.items()))} | {spread} |")
    model.PROFILES.pop("local.sim-changed", None)


if __name__ == "__main__":
    main()
