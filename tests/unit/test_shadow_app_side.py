"""genai_cicd_app's shadow mode: the candidate answers a drawn share of live requests, asynchronously, for the
pair only -- never for a user, never in user metrics, never past the switch, and under the capture rules."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from genai_cicd_app import PROBE_FIELD, SHADOW_FIELD, ReleasedApp, Settings
from moto import mock_aws

SETTINGS = Settings(app="support-bot", environment="prod", flag_application="a", flag_environment="e",
                    flag_profile="p", capture_bucket="artifacts", capture_kms_key="alias/genai-cicd")
VARIANTS = {"baseline": {"prompt": "p1", "model_id": "m"}, "candidate": {"prompt": "p2", "model_id": "m"}}
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:support-bot-SupportBotFunction"


class FakeLambda:
    """Records Invoke calls (the shadow request is queued, never answered here)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("TooManyRequestsException")
        self.calls.append(kwargs)
        return {"StatusCode": 202}


class App(ReleasedApp):
    def __init__(self, flag: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(SETTINGS, **kwargs)
        self.doc = flag

    def flag(self, refresh: bool = False) -> dict[str, Any]:
        return self.doc


def flag(share: float = 0.0, weight: float = 0.0, store: str = "content", release: str = "rel-1") -> dict[str, Any]:
    doc: dict[str, Any] = {"release_id": release, "candidate_weight": weight, **VARIANTS}
    if share:
        doc["shadow"] = {"share": share}
        doc["capture"] = {"share": 0.0, "store": store, "retention_days": 1}
    return doc


ANSWER = {"request": "How do I reset my password?", "answer": "Open Settings, then Security.", "latency_ms": 80.0,
          "input_tokens": 30, "output_tokens": 8, "guardrail_intervened": False, "scores": {"quality": 1.0},
          "cost_usd": 0.0002}


def shadowed(app: App, n: int, event: dict[str, Any] | None = None) -> list[bool]:
    out = []
    for i in range(n):
        route = app.route(event or {"question": ANSWER["request"]})
        out.append(app.shadow(route, function_arn=FUNCTION, request_id=f"req-{i}", **ANSWER))
    return out


def test_given_a_shadow_share_then_that_share_of_baseline_requests_is_queued_asynchronously_to_the_same_function(
        ) -> None:
    fake = FakeLambda()
    sent = shadowed(App(flag(share=0.25), lambda_client=fake), 2000)
    assert 0.22 < sum(sent) / len(sent) < 0.28
    assert len(fake.calls) == sum(sent)
    call = fake.calls[0]
    assert call["InvocationType"] == "Event" and call["FunctionName"] == FUNCTION  # queued, not waited for
    event = json.loads(call["Payload"])
    marker = event.pop(SHADOW_FIELD)
    assert event == {"question": ANSWER["request"]}  # the user's request, as the user sent it
    assert marker["release_id"] == "rel-1" and marker["baseline"]["answer"] == ANSWER["answer"]
    # the draw is a hash of the request id: a retried request is drawn the same way
    assert shadowed(App(flag(share=0.25), lambda_client=FakeLambda()), 2000) == sent


@pytest.mark.parametrize("case", ["no share", "candidate arm", "probe", "shadow answer", "no bucket"])
def test_given_no_shadowing_asked_or_not_a_user_baseline_answer_then_nothing_is_queued(case: str) -> None:
    fake = FakeLambda()
    settings = SETTINGS if case != "no bucket" else Settings(**{**SETTINGS.__dict__, "capture_bucket": None})
    app = App(flag(share=0.0 if case == "no share" else 1.0, weight=100.0 if case == "candidate arm" else 0.0))
    app.settings, app._lambda = settings, fake  # noqa: SLF001 - the test's fakes
    event: dict[str, Any] = {"question": "q"}
    if case == "probe":
        event[PROBE_FIELD] = {"release_id": "rel-1", "variant": "baseline"}
    if case == "shadow answer":  # a shadow invocation never shadows again (no loop of invocations)
        event[SHADOW_FIELD] = {"release_id": "rel-1", "request_id": "r", "baseline": {}}
    assert shadowed(app, 50, event) == [False] * 50 and fake.calls == []


def test_given_queueing_fails_then_the_user_request_is_unaffected() -> None:
    assert shadowed(App(flag(share=1.0), lambda_client=FakeLambda(fail=True)), 5) == [False] * 5


def test_given_a_shadow_invocation_then_the_candidate_answers_under_its_own_metric_variant() -> None:
    event = {"question": "q", SHADOW_FIELD: {"release_id": "rel-1", "request_id": "r1", "baseline": {}}}
    route = App(flag(share=0.5)).route(event)
    assert (route.arm, route.metric_variant, route.skip) == ("candidate", "candidate-shadow", None)
    assert route.variant == VARIANTS["candidate"] and route.payload == {"question": "q"}
    assert not route.synthetic  # not a probe either: kept apart from both streams


@pytest.mark.parametrize("doc", [flag(share=0.0), flag(share=0.5, release="rel-2")], ids=["switched off",
                                                                                          "another release"])
def test_given_shadowing_switched_off_or_another_release_then_a_late_shadow_invocation_is_dropped(
        doc: dict[str, Any]) -> None:
    event = {"question": "q", SHADOW_FIELD: {"release_id": "rel-1", "request_id": "r1", "baseline": {}}}
    app = App(doc)
    route = app.route(event)
    assert route.skip and not app.should_capture(route, "r1")


def _pair(store: str) -> tuple[dict[str, Any], str]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        user_app = App(flag(share=1.0, store=store), lambda_client=(fake := FakeLambda()), s3=s3)
        user_route = user_app.route({"question": ANSWER["request"]})
        # during shadow no user answer is captured for online quality (the capture share is 0)
        assert user_app.capture(user_route, request_id="req-1", **ANSWER) is None
        assert user_app.shadow(user_route, function_arn=FUNCTION, request_id="req-1", **ANSWER)
        worker = App(flag(share=1.0, store=store), s3=s3)
        shadow_route = worker.route(json.loads(fake.calls[0]["Payload"]))
        key = worker.capture(shadow_route, request_id="shadow-invocation-id", request=ANSWER["request"],
                             answer="Go to Settings > Security and choose Reset.", latency_ms=95.0, input_tokens=31,
                             output_tokens=9, scores={"quality": 1.0}, cost_usd=0.0003)
        assert key is not None
        body = s3.get_object(Bucket="artifacts", Key=key)
        return json.loads(body["Body"].read()), key


def test_given_a_shadow_answer_then_the_pair_is_captured_beside_the_request() -> None:
    record, key = _pair("content")
    assert key.startswith("releases/rel-1/samples/shadow/")
    assert record["kind"] == "pair" and record["request_id"] == "req-1"  # the user's request, not the worker's
    assert record["request"] == ANSWER["request"]
    assert record["baseline"]["answer"] == ANSWER["answer"]
    assert record["candidate"]["answer"].startswith("Go to Settings") and record["candidate"]["cost_usd"] == 0.0003


def test_given_store_hashes_then_the_pair_keeps_no_text() -> None:
    record, _ = _pair("hashes")
    text = json.dumps(record)
    for secret in (ANSWER["request"], ANSWER["answer"], "Go to Settings"):
        assert secret not in text
    assert "request" not in record and len(record["request_sha256"]) == 64
    assert "answer" not in record["baseline"] and "answer" not in record["candidate"]
    assert record["candidate"]["scores"] == {"quality": 1.0}
