"""AnalyzeCanary on the embedded AWS: the metrics the app emits, read back from CloudWatch, judged by
the same decision as ``genai-cicd canary judge`` -- interval by interval, cost included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from canary_streams import add_cost, intervals, stream

from genai_cicd.aws.cloudwatch import COUNT_METRICS
from genai_cicd.canary.replay import replay_file
from genai_cicd.cli.main import main
from genai_cicd.embedded.aws_session import EmbeddedAWS
from genai_cicd.logic import canary as canary_logic
from genai_cicd.logic.deps import Deps
from genai_cicd.models.tasks import CanaryState, ReleaseContext
from tests.utils import event

PLAN = {"steps": [5], "bake_seconds": 60, "metric_period_seconds": 60, "max_intervals_per_step": 60,
        "metrics": ["errors", "slow_requests"], "max_cost_increase": 0.2}


def emit(aws: EmbeddedAWS, app: str, start: datetime, data: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """What the app's EMF lines become in CloudWatch: one datapoint per arm, field and minute."""
    cw = aws.client("cloudwatch")
    for minute, (baseline, canary) in enumerate(data):
        at = start + timedelta(seconds=60 * minute + 30)
        batch = []
        for variant, arm in (("baseline", baseline), ("candidate", canary)):
            for field, value in arm.items():
                if value is None:
                    continue
                batch.append({"MetricName": COUNT_METRICS[field], "Timestamp": at, "Value": float(value),
                              "Dimensions": [{"Name": "app", "Value": app}, {"Name": "environment", "Value": "prod"},
                                             {"Name": "variant", "Value": variant}]})
        cw.put_metric_data(Namespace="GenAIApp", MetricData=batch)


def run_analyze_canary(aws: EmbeddedAWS, monkeypatch: pytest.MonkeyPatch, name: str,
                       data: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[CanaryState]:
    app = f"cost-{name}"
    s3 = aws.client("s3")
    manifest = json.loads(s3.get_object(Bucket=aws.bucket, Key="releases/evt-release/manifest.json")["Body"].read())
    manifest["app"] = app
    manifest["canary"] = {**manifest["canary"], **PLAN}
    s3.put_object(Bucket=aws.bucket, Key=f"releases/{name}/manifest.json", Body=json.dumps(manifest).encode())
    release = ReleaseContext.model_validate({**event("analyze_canary", "first-interval")["release"], "app": app,
                                             "release_id": name, "manifest_uri": f"releases/{name}/manifest.json"})
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    emit(aws, app, start, data)
    clock = [start]
    monkeypatch.setattr(canary_logic, "_now", lambda: clock[0])
    state = CanaryState(started_at=start.isoformat(), step_index=0, weight=5.0, window_start=start.isoformat())
    states = []
    for minute in range(len(data)):
        clock[0] = start + timedelta(seconds=60 * (minute + 1))
        state = canary_logic.analyze_canary(release, state, Deps.from_environment())
        states.append(state)
        if state.action != "continue":
            break
    return states


def cost_stream(seed: int, cost_ratio: float) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = np.random.default_rng([seed, 3])
    s = stream("independent", rng, minutes=60, rps=20, share=0.05,
               rates={"errors": (0.01, 1.0), "slow_requests": (0.02, 1.0)})
    return intervals(add_cost(rng, s, cost_ratio))


@pytest.mark.parametrize(("ratio", "action"), [(3.0, "rollback"), (1.5, "rollback"), (1.0, "promote")])
def test_given_a_cost_change_when_analysed_through_cloudwatch_then_cost_decides_as_in_the_cli(
        aws: EmbeddedAWS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ratio: float, action: str) -> None:
    data = cost_stream(7, ratio)
    states = run_analyze_canary(aws, monkeypatch, f"cost-{int(ratio * 10)}", data)
    assert states[-1].action == action, states[-1].last_reasons
    if action == "rollback":
        assert states[-1].metric == "cost_per_request" and states[-1].outcome == "shown_harmful"
    else:
        assert states[-1].outcome == "shown_safe"
    # The same stream through `genai-cicd canary judge`: the same action at every interval.
    path = tmp_path / "stream.json"
    path.write_text(json.dumps({"canary_share": 0.05, "intervals": [{"baseline": b, "canary": c} for b, c in data]}))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    cli = [d for d in replay_file(path, plan)["decisions"] if "action" in d]
    assert [d["action"] for d in cli] == [s.action for s in states]
    assert [d["metric"] for d in cli] == [s.metric for s in states]
    assert main(["canary", "judge", "--input", str(path), "--plan", str(plan)]) == (0 if action == "promote" else 1)
