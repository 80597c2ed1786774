"""genai_cicd_app, the app side of a release: variant choice, metrics, probes and capture."""

from __future__ import annotations

import json
import random
from typing import Any

import boto3
import pytest
from genai_cicd_app import EXPIRY_TAG, PROBE_FIELD, ReleasedApp, Settings, sticky_bucket
from moto import mock_aws

from genai_cicd import s3_keys

SETTINGS = Settings(app="support-bot", environment="prod", flag_application="a", flag_environment="e",
                    flag_profile="p", capture_bucket="artifacts", capture_kms_key="alias/genai-cicd")
VARIANTS = {"baseline": {"prompt": "p1", "model_id": "m"}, "candidate": {"prompt": "p2", "model_id": "m"}}


class App(ReleasedApp):
    """The flag comes from a dict instead of AppConfig (the rest is the shipped code)."""

    def __init__(self, flag: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(SETTINGS, **kwargs)
        self.doc = flag

    def flag(self, refresh: bool = False) -> dict[str, Any]:
        self.refreshes = getattr(self, "refreshes", []) + [refresh]
        return self.doc


def flag(weight: float, release: str = "rel-1", **extra: Any) -> dict[str, Any]:
    return {"release_id": release, "candidate_weight": weight, **VARIANTS, **extra}


def test_given_a_session_key_then_a_conversation_stays_on_one_variant_and_a_ramp_only_adds_users() -> None:
    keys = [f"user-{i}" for i in range(2000)]
    at5 = {k: App(flag(5)).route({}, sticky_key=k).arm for k in keys}
    at25 = {k: App(flag(25)).route({}, sticky_key=k).arm for k in keys}
    again = {k: App(flag(5)).route({}, sticky_key=k).arm for k in keys}
    assert at5 == again
    assert all(at25[k] == "candidate" for k in keys if at5[k] == "candidate")
    share = sum(a == "candidate" for a in at25.values()) / len(keys)
    assert 0.22 < share < 0.28
    # another release reshuffles who goes first
    assert sticky_bucket("rel-1", "user-1") != sticky_bucket("rel-2", "user-1")


def test_given_no_key_then_each_request_is_drawn_at_the_weight() -> None:
    app = App(flag(30), rng=random.Random(3))
    arms = [app.route({}).arm for _ in range(4000)]
    assert 0.27 < arms.count("candidate") / len(arms) < 0.33
    assert {a for a in (App(flag(0)).route({}).arm for _ in range(200))} == {"baseline"}


def test_given_a_probe_of_the_current_release_then_it_gets_its_variant_and_is_kept_out_of_user_metrics() -> None:
    event = {"question": "q", PROBE_FIELD: {"release_id": "rel-1", "variant": "candidate", "id": "7-candidate"}}
    route = App(flag(0)).route(event)
    assert (route.arm, route.synthetic, route.metric_variant) == ("candidate", True, "candidate-probe")
    assert route.payload == {"question": "q"} and route.probe_id == "7-candidate"


def test_given_a_stale_or_forged_probe_then_it_chooses_nothing_and_is_never_captured() -> None:
    for marker in ({"release_id": "old", "variant": "candidate"}, {"release_id": "rel-1", "variant": "admin"}):
        route = App(flag(0, capture={"share": 1.0})).route({"question": "q", PROBE_FIELD: marker})
        assert route.arm == "baseline" and route.synthetic and route.release_id is None
        assert not App(flag(0)).should_capture(route)


def emitted(app: ReleasedApp) -> dict[str, Any]:
    doc: dict[str, Any] = app.metrics.serialize_metric_set()
    app.metrics.clear_metrics()
    return doc


@pytest.mark.parametrize(("event", "variant"), [({}, "baseline"),
                                                ({PROBE_FIELD: {"release_id": "rel-1", "variant": "baseline"}},
                                                 "baseline-probe")])
def test_given_an_answer_then_every_contract_metric_is_emitted_with_exactly_three_dimensions(
        event: dict[str, Any], variant: str) -> None:
    app = App(flag(0))
    route = app.route(event)
    app.record(route, latency_ms=2000.0, input_tokens=10, output_tokens=5, cost_usd=0.01, low_quality=True)
    doc = emitted(app)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["app", "environment", "variant"]]
    assert (doc["app"], doc["environment"], doc["variant"]) == ("support-bot", "prod", variant)
    assert {m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {
        "Requests", "Errors", "SlowRequests", "GuardrailInterventions", "LowQuality", "InputTokens",
        "OutputTokens", "CostUSD", "LatencyMs"}
    assert (doc["SlowRequests"], doc["LowQuality"], doc["Errors"]) == ([1.0], [1.0], [0.0])
    app.record_error(route)
    doc = emitted(app)
    assert (doc["Requests"], doc["Errors"], doc["InputTokens"]) == ([1.0], [1.0], [0.0])


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="artifacts")
        yield client


def capture(app: ReleasedApp, event: dict[str, Any] | None = None, **kw: Any) -> str | None:
    route = app.route(event or {}, sticky_key=kw.pop("key", None))
    return app.capture(route, request_id="r-1", request="how do I invite a member", answer="Team settings",
                       latency_ms=12.0, input_tokens=3, output_tokens=2, **kw)


def test_given_capture_on_then_the_answer_is_stored_encrypted_and_tagged_for_expiry(s3: Any, capsys: Any) -> None:
    app = App(flag(50, capture={"share": 1.0, "store": "content", "retention_days": 3}), s3=s3)
    key = capture(app, {PROBE_FIELD: {"release_id": "rel-1", "variant": "candidate"}})
    # the app layer's own copy of the layout agrees with the control plane's (genai_cicd/s3_keys.py)
    assert key is not None and key.startswith(s3_keys.samples("rel-1", "probe"))
    head = s3.head_object(Bucket="artifacts", Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    tags = s3.get_object_tagging(Bucket="artifacts", Key=key)["TagSet"]
    assert tags == [{"Key": EXPIRY_TAG, "Value": "3"}]
    record = json.loads(s3.get_object(Bucket="artifacts", Key=key)["Body"].read())
    assert (record["variant"], record["synthetic"], record["answer"]) == ("candidate", True, "Team settings")
    out = capsys.readouterr()
    assert "invite a member" not in out.out + out.err  # content is stored, never printed


def test_given_store_hashes_then_only_digests_and_the_apps_scores_leave_the_app(s3: Any) -> None:
    app = App(flag(50, capture={"share": 1.0, "store": "hashes"}), s3=s3)
    key = capture(app, key="u1", scores={"quality": 0.0})
    assert key is not None and key.startswith(s3_keys.samples("rel-1", "user"))
    body = s3.get_object(Bucket="artifacts", Key=key)["Body"].read().decode()
    assert "invite" not in body and "Team settings" not in body
    record = json.loads(body)
    assert len(record["request_sha256"]) == 64 and record["scores"] == {"quality": 0.0}


def test_given_no_capture_block_or_no_release_then_nothing_is_stored(s3: Any) -> None:
    assert capture(App(flag(50), s3=s3)) is None
    assert capture(App(flag(50, release="not a valid id!", capture={"share": 1.0}), s3=s3)) is None
    assert s3.list_objects_v2(Bucket="artifacts").get("KeyCount", 0) == 0


def test_given_a_small_canary_then_the_baseline_is_captured_about_as_often_as_the_canary() -> None:
    app = App(flag(20, capture={"share": 0.5}), rng=random.Random(1))
    counts = {"baseline": 0, "candidate": 0}
    for _ in range(20000):
        route = app.route({})
        counts[route.arm] += app.should_capture(route)
    assert 0.85 < counts["baseline"] / counts["candidate"] < 1.15


def test_given_request_ids_then_the_share_holds_and_a_retried_request_is_sampled_as_before() -> None:
    import uuid

    app = App(flag(50, capture={"share": 0.2}), rng=random.Random(2))
    ids = [str(uuid.UUID(int=random.Random(3).getrandbits(128) ^ i)) for i in range(20000)]
    routes = [app.route({}, sticky_key=rid) for rid in ids]
    taken = [app.should_capture(route, rid) for route, rid in zip(routes, ids, strict=True)]
    canary = [t for t, r in zip(taken, routes, strict=True) if r.arm == "candidate"]
    assert 0.18 < sum(canary) / len(canary) < 0.22  # the share, from a hash of the request id
    assert taken == [app.should_capture(route, rid) for route, rid in zip(routes, ids, strict=True)]


def test_a_probe_of_a_release_the_cached_flag_does_not_name_reads_the_flag_again() -> None:
    """With FLAG_MAX_AGE_SECONDS > 0 the flag may predate the release a probe is for: read it before routing."""
    from genai_cicd_app import PROBE_FIELD

    app = App(flag(5, release="rel-1"))
    app.route({"question": "q", PROBE_FIELD: {"release_id": "rel-2", "variant": "candidate", "id": "0-candidate"}})
    assert app.refreshes == [False, True]
    current = App(flag(5, release="rel-1"))
    current.route({"question": "q", PROBE_FIELD: {"release_id": "rel-1", "variant": "candidate", "id": "0-candidate"}})
    current.route({"question": "q"})
    assert current.refreshes == [False, False]


def test_with_otel_metrics_on_the_genai_semantic_convention_metrics_are_emitted_beside_todays(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """gen_ai.client.operation.duration (seconds; error.type on a failure) and gen_ai.client.token.usage per
    gen_ai.token.type, with the variant as feature_flag.result.variant (OpenTelemetry GenAI semantic conventions
    v1.41.0, status Development); today's metrics are unchanged, and without the setting nothing else is sent."""
    import dataclasses

    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "GenAIApps")
    app = App(flag(100))
    route = app.route({})
    app.record(route, latency_ms=1250.0, input_tokens=10, output_tokens=5, cost_usd=0.01)
    assert capsys.readouterr().out == ""  # off by default: only today's metrics (flushed by the handler)
    app.settings = dataclasses.replace(SETTINGS, otel_metrics=True)
    app.record(route, latency_ms=1250.0, input_tokens=10, output_tokens=5, cost_usd=0.01)
    app.record_error(route, latency_ms=300.0, error_type="ThrottlingException")
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "GenAIApps"
        (metric,) = directive["Metrics"]
        by_name.setdefault(metric["Name"], []).append(doc | {"unit": metric.get("Unit")})
    durations, tokens = by_name["gen_ai.client.operation.duration"], by_name["gen_ai.client.token.usage"]
    for doc in durations + tokens:
        assert doc["gen_ai.operation.name"] == "chat" and doc["gen_ai.provider.name"] == "aws.bedrock"
        assert doc["feature_flag.result.variant"] == "candidate" and doc["gen_ai.request.model"] == "m"
        assert (doc["app"], doc["environment"]) == ("support-bot", "prod")
    assert [(d["gen_ai.client.operation.duration"], d["unit"], d.get("error.type")) for d in durations] == [
        ([1.25], "Seconds", None), ([0.3], "Seconds", "ThrottlingException")]
    assert sorted((d["gen_ai.token.type"], d["gen_ai.client.token.usage"]) for d in tokens) == [
        ("input", [10.0]), ("output", [5.0])]
    assert emitted(app)["Requests"] == [1.0, 1.0, 1.0]  # today's names, as before
    # Two dimension sets a line: the rollup the canary judge reads first, then every attribute.
    rollup = ["app", "environment", "feature_flag.result.variant"]
    for doc in durations:
        sets = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert sets[0] == rollup and set(sets[1]) == set(rollup) | {
            "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model"} | (
            {"error.type"} if "error.type" in doc else set())
    for doc in tokens:
        assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0] == [*rollup, "gen_ai.token.type"]


def test_with_otel_metrics_a_failure_without_a_measured_latency_still_records_its_call(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The judge counts calls from the duration and errors as calls without input token usage: a failed call
    must record a duration (0 when unknown) and no token usage."""
    import dataclasses

    app = App(flag(100))
    app.settings = dataclasses.replace(SETTINGS, otel_metrics=True)
    app.record_error(app.route({}))
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(d.get("gen_ai.client.operation.duration"), d.get("error.type")) for d in docs] == [([0.0], "_OTHER")]


def test_given_session_groups_in_the_flag_then_each_session_counts_in_one_group_on_its_own_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #27: the app reports its counts per session group (a hash of the sticky key, not the ramp's
    hash, or the canary's users would all share the low groups); the judge's own series are unchanged."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "GenAIApp")
    app = App(flag(5, session_groups=8))
    groups = {k: app.route({}, sticky_key=k).group for k in (f"user-{i}" for i in range(800))}
    assert set(groups.values()) == set(range(8)) and groups == {k: app.route({}, sticky_key=k).group for k in groups}
    canary = [g for k, g in groups.items() if app.route({}, sticky_key=k).arm == "candidate"]
    assert len(set(canary)) >= 5, canary  # the canary's users spread over the groups
    assert App(flag(5)).route({}, sticky_key="user-1").group is None  # not asked: no groups
    assert App(flag(5, session_groups=8)).route({}).group is None  # no sticky key: no session to group
    assert App(flag(5, session_groups=99)).route({}, sticky_key="u").group is None  # not a sane count
    route = app.route({}, sticky_key="user-7")
    app.record_error(route)
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["app", "environment", "variant", "session_group"]]
    assert (line["variant"], line["session_group"], line["Requests"], line["Errors"]) == (
        route.metric_variant, str(groups["user-7"]), [1.0], [1.0])
    assert "CostUSD" not in line and "LatencyMs" not in line
    doc = emitted(app)  # the handler's own line: exactly app, environment, variant, as before
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["app", "environment", "variant"]]
