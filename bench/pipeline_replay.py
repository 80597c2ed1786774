"""Replay a canary stream through AnalyzeCanary on the embedded AWS: the pipeline's own path.

Each interval's per-arm sums are put to the embedded CloudWatch as the app's EMF
lines become datapoints (dimensions app, environment, variant), and
``logic.canary.analyze_canary`` reads them back with GetMetricData, judges, and
writes its interval evidence to S3 -- with the release's manifest in S3 and the
canary state carried from call to call as Step Functions carries it. The clock
is the recorded stream's, so two hours of traffic replay in seconds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from genai_cicd.aws.cloudwatch import COUNT_METRICS
from genai_cicd.deps import Deps
from genai_cicd.logic.canary import analyze_canary
from genai_cicd.models.manifest import CanaryPlan
from genai_cicd.models.tasks import CanaryState, ReleaseContext
from genai_cicd.settings import control_plane
from genai_cicd_local.embedded.aws_session import EmbeddedAWS

Arm = dict[str, Any]


def put_stream(aws: EmbeddedAWS, app: str, start: datetime, data: list[tuple[Arm, Arm]]) -> None:
    cw = aws.client("cloudwatch")
    for minute, (baseline, canary) in enumerate(data):
        at = start + timedelta(seconds=60 * minute + 30)
        batch = [{"MetricName": COUNT_METRICS[f], "Timestamp": at, "Value": float(v),
                  "Dimensions": [{"Name": "app", "Value": app}, {"Name": "environment", "Value": "prod"},
                                 {"Name": "variant", "Value": variant}]}
                 for variant, arm in (("baseline", baseline), ("candidate", canary))
                 for f, v in arm.items() if v is not None]
        for i in range(0, len(batch), 1000):
            cw.put_metric_data(Namespace="GenAIApp", MetricData=batch[i:i + 1000])


def analyze_through_cloudwatch(aws: EmbeddedAWS, release_template: dict[str, Any], manifest: dict[str, Any],
                               name: str, data: list[tuple[Arm, Arm]]) -> list[CanaryState]:
    """AnalyzeCanary once per interval until it decides; returns the state after every call."""
    app = f"replay-{name}"[:40]
    manifest = {**manifest, "app": app, "environment": "prod"}
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.bucket, Key=f"releases/{name}/manifest.json", Body=json.dumps(manifest).encode())
    release = ReleaseContext.model_validate({**release_template, "app": app, "environment": "prod",
                                             "release_id": name, "manifest_uri": f"releases/{name}/manifest.json"})
    start = (datetime.now(UTC) - timedelta(hours=6)).replace(second=0, microsecond=0)
    put_stream(aws, app, start, data)
    clock = [start]
    deps = Deps(control_plane(), clock=lambda: clock[0])
    state = CanaryState(started_at=start.isoformat(), step_index=0, weight=manifest["canary"]["steps"][0],
                        window_start=start.isoformat())
    states = []
    # Each look comes once its minute has settled in CloudWatch (the plan's metric_settle_seconds).
    settle = CanaryPlan.model_validate(manifest["canary"]).metric_settle_seconds
    for minute in range(len(data)):
        clock[0] = start + timedelta(seconds=60 * (minute + 1) + settle)
        state = analyze_canary(release, state, deps)
        states.append(state)
        if state.action != "continue":
            break
    return states
