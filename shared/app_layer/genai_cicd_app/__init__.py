"""genai_cicd_app: the app side of a genai-cicd release, in one small module.

A released app imports this instead of hand-coding the contract of
docs/FORMATS.md ("The app's side"). Powertools and boto3 only (no numpy):

- ``route(event, sticky_key=...)`` reads the variant flag (AppConfig through
  Powertools Parameters, cached ``FLAG_MAX_AGE_SECONDS``) and picks the arm:
  by a hash of the release id and the key when the app passes a user or
  session key (a conversation never flips between variants, and raising the
  weight only moves users from baseline to candidate), at random otherwise.
  A probe from the control plane (``PROBE_FIELD`` in the event, for the
  release the flag names) gets the arm it asks for and is marked synthetic.
- ``record(...)`` / ``record_error(...)`` emit the per-variant EMF metrics
  with exactly the dimensions app, environment, variant. Probes are counted
  under the variants ``baseline-probe`` / ``candidate-probe``: never mixed into
  user traffic.
- ``shadow(...)``: while the flag asks for shadow evaluation, a sampled share of
  the live requests the baseline answered is sent again, asynchronously
  (Lambda ``InvocationType=Event``, after the user's answer is ready, never on
  its path), to this function, which answers it with the candidate; the answer
  never reaches a user and its metrics go under ``candidate-shadow``.
  ``capture(...)`` of that invocation stores the pair (both answers beside the
  request, under the capture rules).
- ``capture(...)`` stores a sampled share of (request, answer, variant,
  request id, latency, tokens) in the release's folder of the artifact bucket,
  KMS-encrypted and tagged for lifecycle expiry; with ``store: hashes`` only
  SHA-256 digests and the scores the app computed. Content is never logged.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.utilities import parameters

PROBE_FIELD = "genai_cicd_probe"
SHADOW_FIELD = "genai_cicd_shadow"
# Lambda's payload limit for asynchronous invocation is 1 MB (Invoke, Lambda API Reference); a request
# too large to send with its baseline answer is not shadowed.
MAX_SHADOW_EVENT_BYTES = 1_000_000
ARMS = ("baseline", "candidate")
# The counts reported per session group (the judge's count metrics and their requests).
GROUP_COUNTS = ("Requests", "Errors", "SlowRequests", "GuardrailInterventions", "LowQuality")
EXPIRY_TAG = "genai-cicd:expire-days"
_RELEASE_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# The app's clock: the wall clock in Lambda; the embedded AWS swaps in its simulated one (use_clock).
_clock: Callable[[], float] = time.time


def use_clock(clock: Callable[[], float]) -> Callable[[], float]:
    """Read time from ``clock`` (seconds since the epoch); returns the previous one. For local runs only."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def now() -> float:
    """The app's clock (seconds since the epoch): what a failed call's duration is measured on."""
    return _clock()


def sample_point(request_id: str) -> float:
    """A stable number in [0, 1) for a request: a retried request is sampled the same way."""
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") / 2**64


_COUNTS = ("Requests", "Errors", "SlowRequests", "GuardrailInterventions", "LowQuality", "InputTokens",
           "OutputTokens")


@dataclass(frozen=True)
class Settings:
    """From the function's environment (the sample app's template.yaml shows every variable)."""

    app: str
    environment: str
    flag_application: str
    flag_environment: str
    flag_profile: str
    flag_max_age: int = 0
    slow_request_ms: float = 1500.0
    high_resolution: bool = True
    capture_bucket: str | None = None
    capture_kms_key: str | None = None
    otel_metrics: bool = False  # also emit the OpenTelemetry GenAI semantic-convention metrics (OTEL_GENAI_METRICS=1)

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        missing = [k for k in ("APP_NAME", "APP_ENVIRONMENT", "FLAG_APPLICATION_ID", "FLAG_ENVIRONMENT_ID",
                               "FLAG_PROFILE_ID") if not e.get(k)]
        if missing:
            raise RuntimeError(f"genai_cicd_app: missing environment variables: {', '.join(missing)}")
        return cls(app=e["APP_NAME"], environment=e["APP_ENVIRONMENT"], flag_application=e["FLAG_APPLICATION_ID"],
                   flag_environment=e["FLAG_ENVIRONMENT_ID"], flag_profile=e["FLAG_PROFILE_ID"],
                   flag_max_age=int(e.get("FLAG_MAX_AGE_SECONDS", "0")),
                   slow_request_ms=float(e.get("SLOW_REQUEST_MS", "1500")),
                   high_resolution=e.get("METRIC_RESOLUTION", "1") == "1",
                   capture_bucket=e.get("CAPTURE_BUCKET") or None, capture_kms_key=e.get("CAPTURE_KMS_KEY_ID") or None,
                   otel_metrics=e.get("OTEL_GENAI_METRICS", "0") == "1")


@dataclass(frozen=True)
class Capture:
    """The flag's ``capture`` block, written by the control plane from the manifest's online_quality."""

    share: float = 0.0
    store: str = "content"
    retention_days: int = 7

    @classmethod
    def from_flag(cls, block: Any) -> Capture:
        if not isinstance(block, dict):
            return cls()
        try:
            share = float(block.get("share", 0.0))
            days = int(block.get("retention_days", 7))
        except (TypeError, ValueError):
            return cls()
        store = block.get("store") if block.get("store") in ("content", "hashes") else "hashes"
        return cls(share=min(max(share, 0.0), 1.0), store=str(store), retention_days=max(days, 1))


def _share(value: Any) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(max(share, 0.0), 1.0) if share == share else 0.0


@dataclass(frozen=True)
class Route:
    """Where one request goes. ``payload`` is the event without the probe or shadow marker.

    ``shadow_of``: this invocation is a shadow answer (the candidate answering a request the baseline
    answered for a user); it holds what the baseline's answer was. ``skip``: a shadow invocation that
    must not be answered (shadowing was switched off, or the flag names another release), and why."""

    arm: str
    variant: dict[str, Any]
    release_id: str | None
    weight: float
    synthetic: bool = False
    probe_id: str | None = None
    capture: Capture = field(default_factory=Capture)
    payload: dict[str, Any] = field(default_factory=dict)
    shadow_share: float = 0.0
    shadow_of: dict[str, Any] | None = None
    skip: str | None = None
    # The session group of a user request while the flag asks for them (session_groups): the hash of the
    # sticky key, so all of a session's (or user's) requests count in one group.
    group: int | None = None

    @property
    def metric_variant(self) -> str:
        if self.shadow_of is not None:
            return f"{self.arm}-shadow"
        return f"{self.arm}-probe" if self.synthetic else self.arm


def session_group(key: str, groups: int) -> int:
    """The group of a sticky key: its own hash (not the ramp's, or the canary's users would share a group)."""
    return min(groups - 1, int(sample_point(f"session-group\x1f{key}") * groups))


def _groups(value: Any) -> int | None:
    """The flag's session_groups, when it is a sane count (anything else: report no groups)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 2 <= value <= 32 else None


def sticky_bucket(release_id: str, key: str) -> float:
    """A stable number in [0, 100) for (release, key): the user's place in the ramp."""
    return sample_point(f"{release_id}\x1f{key}") * 100.0


class ReleasedApp:
    def __init__(self, settings: Settings | None = None, *, s3: Any = None, rng: random.Random | None = None,
                 metrics: Metrics | None = None, lambda_client: Any = None) -> None:
        self.settings = settings or Settings.from_environment()
        self._s3 = s3
        self._lambda = lambda_client
        self._rng = rng or random.SystemRandom()
        # service="" keeps the dimension set to exactly app, environment, variant.
        self.metrics = metrics or Metrics(service="")
        self.metrics.set_default_dimensions(app=self.settings.app, environment=self.settings.environment)

    # -- flag and variant -------------------------------------------------
    def flag(self, refresh: bool = False) -> dict[str, Any]:
        """The flag document, cached FLAG_MAX_AGE_SECONDS (GetLatestConfiguration is a priced call, to be
        polled, not called per request); ``refresh`` reads it now."""
        s = self.settings
        doc = parameters.get_app_config(
            name=s.flag_profile, environment=s.flag_environment, application=s.flag_application,
            transform="json", max_age=s.flag_max_age, force_fetch=refresh)
        if not isinstance(doc, dict):
            raise ValueError("the variant flag is not a JSON object")
        return doc

    def route(self, event: dict[str, Any], *, sticky_key: str | None = None) -> Route:
        probe = event.get(PROBE_FIELD)
        shadow = event.get(SHADOW_FIELD)
        marked = probe if isinstance(probe, dict) else shadow if isinstance(shadow, dict) else None
        flag = self.flag()
        if marked is not None and marked.get("release_id") != flag.get("release_id"):
            # A probe of a release the cached flag does not name yet: the flag changed since it was read.
            flag = self.flag(refresh=True)
        weight = float(flag.get("candidate_weight", 0.0))
        release = flag.get("release_id")
        release_id = release if isinstance(release, str) and _RELEASE_ID.match(release) else None
        payload = {k: v for k, v in event.items() if k not in (PROBE_FIELD, SHADOW_FIELD)}
        capture = Capture.from_flag(flag.get("capture"))
        block = flag.get("shadow")
        shadow_share = _share(block.get("share")) if isinstance(block, dict) else 0.0
        if SHADOW_FIELD in event:
            # Answered by the candidate for the pair only, and only while the flag still asks for it: the
            # control plane's switch is the flag, and a late delivery after it is off is dropped.
            current = (isinstance(shadow, dict) and release_id is not None
                       and shadow.get("release_id") == release_id and shadow_share > 0)
            return Route(arm="candidate", variant=flag["candidate"], release_id=release_id, weight=weight,
                         capture=capture, payload=payload, shadow_share=shadow_share,
                         shadow_of=shadow if isinstance(shadow, dict) else {},
                         skip=None if current else "shadowing is off, or the flag names another release")
        if isinstance(probe, dict):
            # Synthetic: kept out of user metrics whatever it asks. It chooses its arm only for the
            # release the flag names (a stale probe from an earlier release is routed like a user).
            asked = probe.get("variant")
            current = release_id is not None and probe.get("release_id") == release_id and asked in ARMS
            arm = str(asked) if current else self._pick(weight, release_id, sticky_key)
            return Route(arm=arm, variant=flag[arm], release_id=release_id if current else None, weight=weight,
                         synthetic=True, probe_id=str(probe.get("id", ""))[:100] or None, capture=capture,
                         payload=payload)
        arm = self._pick(weight, release_id, sticky_key)
        groups = _groups(flag.get("session_groups"))
        group = session_group(sticky_key, groups) if groups is not None and sticky_key is not None else None
        return Route(arm=arm, variant=flag[arm], release_id=release_id, weight=weight, capture=capture,
                     payload=payload, shadow_share=shadow_share, group=group)

    def _pick(self, weight: float, release_id: str | None, sticky_key: str | None) -> str:
        place = (sticky_bucket(release_id or "", sticky_key) if sticky_key is not None
                 else self._rng.random() * 100.0)
        return "candidate" if place < weight else "baseline"

    # -- metrics ------------------------------------------------------------
    def _emit(self, route: Route, values: dict[str, float], latency_ms: float | None) -> None:
        resolution = MetricResolution.High if self.settings.high_resolution else MetricResolution.Standard
        self.metrics.add_dimension(name="variant", value=route.metric_variant)
        for name, value in values.items():
            unit = MetricUnit.NoUnit if name == "CostUSD" else MetricUnit.Count
            self.metrics.add_metric(name=name, unit=unit, value=value, resolution=resolution)
        if latency_ms is not None:
            self.metrics.add_metric(name="LatencyMs", unit=MetricUnit.Milliseconds, value=latency_ms,
                                    resolution=resolution)
        if route.group is not None:
            self._emit_group(route, values, resolution)

    def _emit_group(self, route: Route, values: dict[str, float], resolution: MetricResolution) -> None:
        """The request's counts again, on their own EMF line, under app, environment, variant and
        session_group: the canary judge sums each group to see how much a session's requests fail together.
        A separate line, so the judge's own series (exactly app, environment, variant) are unchanged."""
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

        line = AmazonCloudWatchEMFProvider(namespace=self.metrics.namespace, service="")
        for key, val in {"app": self.settings.app, "environment": self.settings.environment,
                         "variant": route.metric_variant, "session_group": str(route.group)}.items():
            line.add_dimension(name=key, value=val)
        for name in GROUP_COUNTS:
            if name in values:
                line.add_metric(name=name, unit=MetricUnit.Count, value=values[name], resolution=resolution)
        line.flush_metrics()

    def record(self, route: Route, *, latency_ms: float, input_tokens: int, output_tokens: int, cost_usd: float,
               guardrail_intervened: bool = False, low_quality: bool = False) -> None:
        """One answered request: every metric of the contract, zeros included (a sum needs its zeros)."""
        self._emit(route, {"Requests": 1, "Errors": 0,
                           "SlowRequests": 1 if latency_ms > self.settings.slow_request_ms else 0,
                           "GuardrailInterventions": 1 if guardrail_intervened else 0,
                           "LowQuality": 1 if low_quality else 0, "InputTokens": input_tokens,
                           "OutputTokens": output_tokens, "CostUSD": cost_usd}, latency_ms)
        if self.settings.otel_metrics:
            self._emit_otel(route, latency_ms, {"input": input_tokens, "output": output_tokens})

    def record_error(self, route: Route, *, latency_ms: float | None = None, error_type: str = "_OTHER") -> None:
        """One failed request. With OTEL_GENAI_METRICS=1 its duration is recorded with ``error.type`` (the
        conventions record every call's duration; unknown, it is recorded as 0)."""
        self._emit(route, {**{name: 0 for name in _COUNTS}, "Requests": 1, "Errors": 1, "CostUSD": 0}, None)
        if self.settings.otel_metrics:
            self._emit_otel(route, latency_ms or 0.0, {}, error_type or "_OTHER")

    def _emit_otel(self, route: Route, latency_ms: float, tokens: dict[str, int], error_type: str | None = None
                   ) -> None:
        """The OpenTelemetry GenAI client metrics (semantic conventions v1.41.0, status Development), as EMF
        beside today's names: ``gen_ai.client.operation.duration`` (seconds; ``error.type`` when the call
        failed) and ``gen_ai.client.token.usage`` per ``gen_ai.token.type`` (successful calls only, as the
        conventions' instrumentations record it), with the variant the user got as
        ``feature_flag.result.variant``. Histograms in OpenTelemetry; here one EMF value per request, which is
        what CloudWatch aggregates them from.

        Each line carries two dimension sets: every attribute, and the rollup the canary judge reads
        (app, environment, the variant, and the token type for token usage), what an ADOT collector's
        ``metric_declarations`` would publish (docs/FORMATS.md, "OpenTelemetry names")."""
        rollup = {"app": self.settings.app, "environment": self.settings.environment,
                  "feature_flag.result.variant": route.metric_variant}
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock"}
        model = route.variant.get("model_id") if isinstance(route.variant, dict) else None
        if model:
            attributes["gen_ai.request.model"] = str(model)
        resolution = MetricResolution.High if self.settings.high_resolution else MetricResolution.Standard
        self._emit_line("gen_ai.client.operation.duration", MetricUnit.Seconds, latency_ms / 1000.0, rollup,
                        attributes | ({"error.type": error_type} if error_type else {}), resolution)
        for token_type, count in tokens.items():
            typed = {"gen_ai.token.type": token_type}
            self._emit_line("gen_ai.client.token.usage", MetricUnit.Count, count, rollup | typed,
                            attributes | typed, resolution)

    def _emit_line(self, name: str, unit: MetricUnit, value: float, rollup: dict[str, str],
                   attributes: dict[str, str], resolution: MetricResolution) -> None:
        """One EMF line of one metric under the rollup dimension set and the full one."""
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

        line = AmazonCloudWatchEMFProvider(namespace=self.metrics.namespace, service="")
        for key, val in rollup.items():
            line.add_dimension(name=key, value=val)
        line.add_dimensions(**(rollup | attributes))
        line.add_metric(name=name, unit=unit, value=value, resolution=resolution)
        line.flush_metrics()

    # -- capture ------------------------------------------------------------
    def should_capture(self, route: Route, request_id: str | None = None) -> bool:
        """Probes always; user requests at the share for the canary, and at a share giving the baseline
        about as many captured answers (the efficient split for a difference of two means).

        With a request id the draw is a hash of it (Lambda's ids are random, so the share holds, and a
        retried request is sampled as before); without one, a random draw."""
        if route.release_id is None or not self.settings.capture_bucket:
            return False
        if route.shadow_of is not None:
            return route.skip is None  # a shadow answer exists to be captured with its pair
        if route.capture.share <= 0:
            return False
        if route.synthetic:
            return True
        share = route.capture.share
        if route.arm == "baseline" and 0 < route.weight < 100:
            share *= min(1.0, route.weight / (100.0 - route.weight))
        draw = sample_point(request_id) if request_id else self._rng.random()
        return draw < share

    def capture(self, route: Route, *, request_id: str, request: str, answer: str, latency_ms: float,
                input_tokens: int, output_tokens: int, guardrail_intervened: bool = False,
                scores: dict[str, float] | None = None, cost_usd: float | None = None) -> str | None:
        """Store one sampled answer (for a shadow invocation: the pair); returns its key, or None when not
        sampled. Never logs the content."""
        if not self.should_capture(route, request_id):
            return None
        now = datetime.fromtimestamp(_clock(), tz=UTC)
        if route.shadow_of is not None:
            return self._capture_pair(route, now, request=request, answer=self._side(
                route.capture.store, answer, latency_ms, input_tokens, output_tokens, guardrail_intervened,
                scores, cost_usd))
        record: dict[str, Any] = {
            "schema": 1, "variant": route.arm, "synthetic": route.synthetic, "probe_id": route.probe_id,
            "request_id": request_id[:200], "captured_at": now.isoformat(), "latency_ms": latency_ms,
            "input_tokens": input_tokens, "output_tokens": output_tokens,
            "guardrail_intervened": guardrail_intervened, "store": route.capture.store}
        if route.capture.store == "hashes":
            record["request_sha256"] = hashlib.sha256(request.encode()).hexdigest()
            record["answer_sha256"] = hashlib.sha256(answer.encode()).hexdigest()
            record["scores"] = {k: float(v) for k, v in (scores or {}).items()}
        else:
            record["request"], record["answer"] = request, answer
        stream = "probe" if route.synthetic else "user"
        return self._put(route, stream, now, request_id, record)

    def _put(self, route: Route, stream: str, now: datetime, request_id: str, record: dict[str, Any]) -> str:
        key = (f"releases/{route.release_id}/samples/{stream}/{now.strftime('%Y%m%dT%H%M%S%fZ')}-"
               f"{hashlib.sha256(request_id.encode()).hexdigest()[:12]}.json")
        kwargs: dict[str, Any] = {"Bucket": self.settings.capture_bucket, "Key": key,
                                  "Body": json.dumps(record).encode(), "ContentType": "application/json",
                                  "ServerSideEncryption": "aws:kms",
                                  # URL-query encoded, as PutObject's Tagging is documented
                                  "Tagging": urlencode({EXPIRY_TAG: route.capture.retention_days})}
        if self.settings.capture_kms_key:
            kwargs["SSEKMSKeyId"] = self.settings.capture_kms_key
        self._client().put_object(**kwargs)
        return key

    # -- shadow evaluation ----------------------------------------------------
    @staticmethod
    def _side(store: str, answer: str, latency_ms: float, input_tokens: int, output_tokens: int,
              guardrail_intervened: bool, scores: dict[str, float] | None, cost_usd: float | None) -> dict[str, Any]:
        """One answer of a pair under the capture rules: its text, or with ``store: hashes`` its digest."""
        side: dict[str, Any] = {"latency_ms": latency_ms, "input_tokens": input_tokens,
                                "output_tokens": output_tokens, "guardrail_intervened": guardrail_intervened,
                                "cost_usd": cost_usd, "scores": {k: float(v) for k, v in (scores or {}).items()}}
        if store == "hashes":
            side["answer_sha256"] = hashlib.sha256(answer.encode()).hexdigest()
        else:
            side["answer"] = answer
        return side

    def should_shadow(self, route: Route, request_id: str) -> bool:
        """A user request the baseline answered, while the flag asks for shadowing, drawn at its share (a hash
        of the request id, so a retried request is drawn the same way). Never a probe or a shadow answer."""
        if (route.release_id is None or route.synthetic or route.shadow_of is not None or route.arm != "baseline"
                or route.shadow_share <= 0 or not self.settings.capture_bucket):
            return False
        return sample_point(f"{request_id}\x1fshadow") < route.shadow_share

    def shadow(self, route: Route, *, function_arn: str, request_id: str, request: str, answer: str,
               latency_ms: float, input_tokens: int, output_tokens: int, guardrail_intervened: bool = False,
               scores: dict[str, float] | None = None, cost_usd: float | None = None) -> bool:
        """Send this request to the candidate, asynchronously, when it is drawn for shadow evaluation.

        Call it once the user's answer is ready: the invocation is queued by Lambda (InvocationType Event)
        and runs apart, so the user waits for none of it. ``function_arn`` is the function's own
        (``context.invoked_function_arn``: the same version answers). Failing to queue it costs the pair,
        never the user's request. Returns whether it was queued."""
        if not self.should_shadow(route, request_id):
            return False
        baseline = self._side(route.capture.store, answer, latency_ms, input_tokens, output_tokens,
                              guardrail_intervened, scores, cost_usd)
        event = {**route.payload, SHADOW_FIELD: {"release_id": route.release_id, "request_id": request_id[:200],
                                                 "received_at": _clock(), "baseline": baseline}}
        body = json.dumps(event).encode()
        if len(body) > MAX_SHADOW_EVENT_BYTES:
            return False
        try:
            self._lambda_client().invoke(FunctionName=function_arn, InvocationType="Event", Payload=body)
        except Exception:  # noqa: BLE001 - a lost pair, never a failed user request
            return False
        return True

    def _capture_pair(self, route: Route, now: datetime, *, request: str, answer: dict[str, Any]) -> str | None:
        of = route.shadow_of or {}
        baseline = of.get("baseline")
        request_id = str(of.get("request_id", ""))[:200]
        if not isinstance(baseline, dict) or not request_id:
            return None
        record: dict[str, Any] = {"schema": 1, "kind": "pair", "request_id": request_id,
                                  "received_at": of.get("received_at"), "captured_at": now.isoformat(),
                                  "store": route.capture.store, "baseline": baseline, "candidate": answer}
        if route.capture.store == "hashes":
            record["request_sha256"] = hashlib.sha256(request.encode()).hexdigest()
        else:
            record["request"] = request
        return self._put(route, "shadow", now, request_id, record)

    def _lambda_client(self) -> Any:
        if self._lambda is None:
            import boto3

            self._lambda = boto3.client("lambda")
        return self._lambda

    def _client(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3
