"""Looks every metric period (issue #27): the judge looks once a period, not once per bake; the bake is
the least time a step serves. Run through the state machine on the embedded AWS, in simulated time.

- A candidate failing every request is rolled back at the first look, about one period
  plus the settle delay after the shift, though the bake is five minutes. With one look per bake (the
  old loop) the first look came after the whole bake, and this test fails.
- A harmless candidate is looked at every period and still serves its step for the whole bake before
  it advances: a judge that advanced on the first look shown safe fails the second test.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from genai_cicd.aws.ledger import Ledger
from genai_cicd_local.embedded import model
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import ROOT, manifest_file

PERIOD, SETTLE, BAKE = 60, 120, 300
CANARY = {"steps": [5], "bake_seconds": BAKE, "metric_period_seconds": PERIOD, "metric_settle_seconds": SETTLE,
          "max_intervals_per_step": 30, "min_canary_requests_per_step": 10, "metrics": ["errors"],
          "critical_metrics": ["errors"]}
# Only the guardrail suite (it calls no model): the failing model must reach the canary.
GATES_OFF = {"prompt_regression": None, "injection_suite": None}


def one_release(tmp: Path, monkeypatch: pytest.MonkeyPatch, name: str, error_rate: float,
                rate: float, step: float = 5.0) -> dict[str, Any]:
    """A model change: the candidate is the baseline's model, except that it fails ``error_rate`` of its calls."""
    tmp.mkdir()
    healthy = model.PROFILES["local.sim-chat-v1"]
    monkeypatch.setitem(model.PROFILES, "local.sim-changed",
                        model.ModelProfile(healthy.accuracy, healthy.compliance, healthy.base_latency_ms,
                                           healthy.ms_per_output_token, healthy.usd_per_1k_input,
                                           healthy.usd_per_1k_output, error_rate))
    candidate = {"model_id": "local.sim-changed"}
    with EmbeddedAWS(ROOT) as aws:
        runner = LocalReleaseRunner(aws, out=lambda _: None)
        runner.setup()
        path = manifest_file(tmp, "good-prompt", gates=GATES_OFF, canary={**CANARY, "steps": [step]},
                             candidate=candidate)
        result = runner.run(path, name=name, traffic_rate=rate, warmup=60 + SETTLE)
        s3 = aws.client("s3")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(
            Bucket=aws.bucket, Prefix=f"releases/{name}/canary/interval-")["Contents"])
        looks = [json.loads(s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read()) for k in keys]
        ledger = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(name)
    return {"outcome": result["outcome"], "looks": looks,
            "events": [(e.event, datetime.fromisoformat(e.at), e.detail) for e in ledger]}


def healthy_error_rate() -> float:
    return model.PROFILES["local.sim-chat-v1"].error_rate


def at(events: list[tuple[str, datetime, dict[str, Any]]], event: str) -> list[datetime]:
    return [when for name, when, _ in events if name == event]


# Half failing: bench/catastrophe_latency.py (10 releases; kept out of `make test` for its time).
@pytest.mark.parametrize("error_rate", [1.0])
def test_given_a_failing_candidate_then_it_is_rolled_back_at_the_first_look_not_after_the_bake(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error_rate: float) -> None:
    run = one_release(tmp_path / "failing", monkeypatch, f"fails-{int(error_rate * 100)}", error_rate, 20.0)
    assert run["outcome"] == "rolled_back"
    looks = run["looks"]
    assert len(looks) == 1 and looks[0]["action"] == "rollback"
    assert looks[0]["decision"]["outcome"] == "shown_harmful"
    assert looks[0]["counts"]["candidate"]["errors"] > 0
    shifted, = at(run["events"], "canary_step")
    rolled, = at(run["events"], "rolled_back")
    # The first period holding the shift ends within PERIOD of it and is read SETTLE later.
    assert (rolled - shifted).total_seconds() <= 2 * PERIOD + SETTLE < BAKE + SETTLE


def test_given_a_harmless_candidate_then_it_is_looked_at_every_period_and_serves_the_bake_before_it_advances(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = one_release(tmp_path / "harmless", monkeypatch, "harmless", healthy_error_rate(), 10.0, step=25.0)
    looks = run["looks"]
    spans = [(datetime.fromisoformat(v["end"]) - datetime.fromisoformat(v["start"])).total_seconds() for v in looks]
    assert spans and all(s == PERIOD for s in spans), spans  # one period a look, however long the bake
    steps = at(run["events"], "canary_step")
    advanced = [v for v in looks if v["action"] in ("next_step", "promote")]
    assert advanced, [v["action"] for v in looks]
    first = advanced[0]
    assert (datetime.fromisoformat(first["end"]) - steps[0]).total_seconds() >= BAKE
    # Shown safe before the bake was served: the step kept serving (and looking) instead of advancing.
    waited = [v for v in looks if v["action"] == "continue" and any("serves at least bake_seconds" in r
                                                                    for r in v["decision"]["reasons"])]
    assert waited, [v["decision"]["reasons"][:1] for v in looks]
