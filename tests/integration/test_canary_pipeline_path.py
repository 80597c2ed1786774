"""AnalyzeCanary on the embedded AWS: the metrics the app emits, read back from CloudWatch, judged by
the same decision as ``genai-cicd canary judge`` -- interval by interval, cost included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from canary_streams import add_cost, intervals, stream
from pipeline_replay import analyze_through_cloudwatch

from genai_cicd.canary.replay import replay_file
from genai_cicd.models.tasks import CanaryState
from genai_cicd_local.cli.main import main
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.utils import event

PLAN = {"steps": [5], "bake_seconds": 60, "metric_period_seconds": 60, "max_intervals_per_step": 60,
        "metrics": ["errors", "slow_requests"], "max_cost_increase": 0.2}


def run_analyze_canary(aws: EmbeddedAWS, name: str, data: list[tuple[dict[str, Any], dict[str, Any]]]
                       ) -> list[CanaryState]:
    s3 = aws.client("s3")
    manifest = json.loads(s3.get_object(Bucket=aws.bucket, Key="releases/evt-release/manifest.json")["Body"].read())
    manifest["canary"] = {**manifest["canary"], **PLAN}
    return analyze_through_cloudwatch(aws, event("analyze_canary", "first-interval")["release"], manifest, name, data)


def cost_stream(seed: int, cost_ratio: float) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = np.random.default_rng([seed, 3])
    s = stream("independent", rng, minutes=60, rps=20, share=0.05,
               rates={"errors": (0.01, 1.0), "slow_requests": (0.02, 1.0)})
    return intervals(add_cost(rng, s, cost_ratio))


@pytest.mark.parametrize(("ratio", "action"), [(3.0, "rollback"), (1.5, "rollback"), (1.0, "promote")])
def test_given_a_cost_change_when_analysed_through_cloudwatch_then_cost_decides_as_in_the_cli(
        aws: EmbeddedAWS, tmp_path: Path, ratio: float, action: str) -> None:
    data = cost_stream(7, ratio)
    states = run_analyze_canary(aws, f"cost-{int(ratio * 10)}", data)
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


def test_given_baseline_traffic_before_the_start_then_the_canary_plan_is_estimated_from_it(aws: EmbeddedAWS) -> None:
    from datetime import UTC, datetime, timedelta

    from pipeline_replay import put_stream

    from genai_cicd.canary.planning import estimate
    from genai_cicd.deps import Deps
    from genai_cicd.logic.canary import traffic_estimate
    from genai_cicd.models.manifest import ReleaseManifest
    from genai_cicd.settings import control_plane

    s3 = aws.client("s3")
    manifest = json.loads(s3.get_object(Bucket=aws.bucket, Key="releases/evt-release/manifest.json")["Body"].read())
    manifest["app"] = "plan-estimate"
    manifest["canary"] = {**manifest["canary"], **PLAN}
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # 15 minutes before the start: 10 requests/s, all on the baseline, 1% errors and 3% slow requests.
    minute = ({"requests": 600.0, "errors": 6.0, "slow_requests": 18.0}, {})
    put_stream(aws, "plan-estimate", now - timedelta(minutes=15), [minute] * 15)
    plan = traffic_estimate(Deps(control_plane(), clock=lambda: now), ReleaseManifest.model_validate(manifest))
    assert plan is not None
    assert plan.requests_per_second == pytest.approx(10.0)
    assert plan.baseline_rates == pytest.approx({"errors": 0.01, "slow_requests": 0.03})
    expected = estimate(ReleaseManifest.model_validate(manifest).canary, requests_per_second=10.0,
                        baseline_rates={"errors": 0.01, "slow_requests": 0.03})
    assert plan.steps == expected.steps and "10 requests/s" in plan.sentence()
    quiet = Deps(control_plane(), clock=lambda: now + timedelta(hours=2))
    assert traffic_estimate(quiet, ReleaseManifest.model_validate(manifest)) is None
    # An app live for five minutes at 10 requests/s is not taken for one at 3.3 (the rate is over the
    # minutes since requests were first seen in the window).
    manifest["app"] = "plan-estimate-new-app"
    later = now + timedelta(hours=4)
    put_stream(aws, "plan-estimate-new-app", later - timedelta(minutes=5), [minute] * 5)
    young = traffic_estimate(Deps(control_plane(), clock=lambda: later), ReleaseManifest.model_validate(manifest))
    assert young is not None and young.requests_per_second == pytest.approx(10.0)
