"""Shadow evaluation: the candidate answers live requests beside the baseline, before any user sees it.

StartShadow sets the variant flag to weight 0 with a ``shadow`` share (AppConfig, as every traffic
move: fenced by the release lock and read back). genai_cicd_app then sends that share of the live
requests the baseline answered to the candidate as well, asynchronously, and captures each pair under
``releases/{id}/samples/shadow/`` (docs/FORMATS.md, "Captured pairs"). Each look, AnalyzeShadow reads
the new pairs and scores both answers of each, blind to which is whose:

- a guardrail intervention, a refusal or (with ``response_schema``) an invalid answer scores 0;
- otherwise the release's judge sees both answers in one call, then again in the other order, and
  each answer's score is its mean over the two positions (a position bias cancels in the difference);
- ``store: hashes`` pairs carry the scores the app computed (no text leaves the app).

Fail closed: a judge that fails scores the pair -1 (the worst difference); a pair that cannot be read,
or one left once the judge budget is spent, is unscored and keeps that look from showing the candidate
non-inferior; a pair delivered twice (Lambda's asynchronous queue is at least once) is counted once.
The decision is canary/shadow.py's. Shadowing is switched off when the phase blocks; StartCanary's
flag write switches it off when the canary starts.
"""

from __future__ import annotations

import functools
import hashlib
import random
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genai_cicd.canary import shadow as judge
from genai_cicd.deps import Deps
from genai_cicd.errors import ArtifactUnreadable, InvalidInput, ReleaseFenced
from genai_cicd.evaluation_events import evaluation_result
from genai_cicd.gates.model_scorers import LLMJudge
from genai_cicd.logic.canary import traffic_estimate
from genai_cicd.logic.context import evidence_key, load_manifest
from genai_cicd.logic.online_quality import (
    SETTLE_SECONDS,
    Answer,
    PairScore,
    imputed_on_failure,
    new_sample_keys,
    score_pair,
)
from genai_cicd.models.manifest import ONLINE_RUBRIC, ReleaseManifest
from genai_cicd.models.tasks import ReleaseContext, ShadowState

STREAM = "shadow"
RATE_SLACK = 1.2  # a look's pairs may exceed the rate cap by this factor (Poisson noise) before the share is lowered


class PairSide(BaseModel):
    """One answer of a captured pair (genai_cicd_app.ReleasedApp._side)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    latency_ms: float = Field(ge=0)
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    guardrail_intervened: bool
    cost_usd: float | None = Field(default=None, ge=0)
    scores: dict[str, float] = Field(default_factory=dict)
    answer: str | None = None
    answer_sha256: str | None = None


class CapturedPair(BaseModel):
    """One record written by genai_cicd_app for a shadow answer (schema 1, kind pair)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    schema_: Literal[1] = Field(alias="schema")
    kind: Literal["pair"]
    request_id: str = Field(min_length=1, max_length=200)
    received_at: float | None = None
    captured_at: str
    store: Literal["content", "hashes"]
    request: str | None = None
    request_sha256: str | None = None
    baseline: PairSide
    candidate: PairSide


def _flag(deps: Deps, release: ReleaseContext, manifest: ReleaseManifest) -> Any:
    target = deps.traffic(release.release_id, manifest)
    if not hasattr(target, "set_shadow"):  # the manifest model allows shadow only with appconfig_flag
        raise InvalidInput("canary.shadow needs mechanism appconfig_flag")
    return target


def fenced_shadow(deps: Deps, release: ReleaseContext, manifest: ReleaseManifest, share: float) -> None:
    """Set the shadow share only while this release holds the lock (as fenced_shift moves traffic)."""
    if deps.lock.holder(manifest.app, manifest.environment) != release.release_id:
        raise ReleaseFenced(f"release {release.release_id} no longer holds {manifest.app}/{manifest.environment}")
    flag = _flag(deps, release, manifest)
    flag.set_shadow(share)
    if deps.lock.holder(manifest.app, manifest.environment) != release.release_id:
        flag.rollback()
        raise ReleaseFenced(f"release {release.release_id} lost its lock while starting shadow; traffic restored")


def start_shadow(release: ReleaseContext, deps: Deps) -> ShadowState:
    manifest = load_manifest(deps, release)
    plan = manifest.canary.shadow
    if plan is None:
        raise InvalidInput("this release's manifest has no canary.shadow")
    estimate = traffic_estimate(deps, manifest)
    share = judge.shadow_share(plan.sample_share, plan.max_requests_per_second,
                               estimate.requests_per_second if estimate is not None else None)
    fenced_shadow(deps, release, manifest, share)
    rate = (f"about {estimate.requests_per_second * share:.2g} pairs/s at the last 15 minutes' "
            f"{estimate.requests_per_second:.3g} requests/s" if estimate is not None
            else "no baseline traffic in the last 15 minutes: no pairs until users arrive")
    text = (f"shadow: {share:.3g} of live requests also answered by the candidate ({rate}); up to "
            f"{plan.max_pairs:,} pairs, ${plan.max_cost_usd:g}, {plan.max_intervals} looks; margin "
            f"{plan.margin:g}")
    return ShadowState(started_at=deps.clock().isoformat(), share=share, plan=text[:1000],
                       cursor=None, pairs_key=evidence_key(release, "shadow", "pairs.json"))


class PairScorer:
    """Both answers of a pair, blind to side (online_quality.score_pair), within the shadow plan's judge budget."""

    def __init__(self, manifest: ReleaseManifest, deps: Deps, state: ShadowState, release_id: str) -> None:
        plan = manifest.canary.shadow
        if plan is None:
            raise InvalidInput("this release's manifest has no canary.shadow")
        self.schema = plan.response_schema
        self.max_calls = plan.max_judge_calls
        self.judge = (LLMJudge(deps.provider, plan.judge.model_id, plan.judge.rubric or ONLINE_RUBRIC)
                      if plan.judge is not None else None)
        self.calls, self.tokens = state.judge_calls, state.judge_tokens
        self.rng = random.Random(hashlib.sha256(f"{release_id}:shadow:{state.intervals}".encode()).digest())

    def score(self, pair: CapturedPair) -> PairScore | None:
        """(candidate, baseline, how, judge reason), or None when it cannot be scored (budget, no judge)."""
        def side(s: PairSide) -> Answer:
            return Answer(s.answer, s.guardrail_intervened, s.scores.get("quality"))

        if self.judge is not None and pair.store == "content" and self.calls + 2 > self.max_calls:
            return None
        before_calls, before_tokens = (self.judge.calls, self.judge.tokens) if self.judge else (0, 0)
        try:
            return score_pair(self.judge, self.schema, pair.request or "", side(pair.candidate), side(pair.baseline),
                              pair.store, self.rng)
        finally:
            if self.judge is not None:
                self.calls += self.judge.calls - before_calls
                self.tokens += self.judge.tokens - before_tokens


def _request_hash(request_id: str) -> str:
    return hashlib.sha256(request_id.encode()).hexdigest()[:16]


def analyze_shadow(release: ReleaseContext, state: ShadowState, deps: Deps) -> ShadowState:
    manifest = load_manifest(deps, release)
    plan = manifest.canary.shadow
    if plan is None:
        raise InvalidInput("this release's manifest has no canary.shadow")
    margin, alpha = plan.margin, manifest.canary.alpha
    now = deps.clock()
    until = now.replace(tzinfo=None) - timedelta(seconds=SETTLE_SECONDS)
    keys = new_sample_keys(deps, release.release_id, STREAM, state.cursor, until)
    cursor = keys[-1] if keys else state.cursor
    ledger_key = state.pairs_key or evidence_key(release, "shadow", "pairs.json")
    rows: list[dict[str, Any]] = []
    if state.pairs:
        try:
            rows = list(deps.artifacts.read_json(ledger_key).get("pairs", []))
        except (ArtifactUnreadable, InvalidInput, AttributeError):
            rows = []
    seen = {r.get("request") for r in rows}
    interval = state.intervals + 1
    scorer = PairScorer(manifest, deps, state, release.release_id)
    notes: list[str] = []
    room = max(0, plan.max_pairs - state.pairs)
    cap = min(room, plan.max_pairs_per_look)
    new_pairs: list[tuple[str, CapturedPair]] = []
    unscored = duplicates = imputed = 0
    cost = 0.0
    for key in keys:
        try:
            pair = CapturedPair.model_validate(deps.artifacts.read_json_counted(key))
        except (ArtifactUnreadable, ValidationError, ValueError, InvalidInput, RecursionError) as exc:
            unscored += 1
            notes.append(f"an unreadable pair record ({type(exc).__name__})")
            continue
        cost += pair.candidate.cost_usd or 0.0
        digest = _request_hash(pair.request_id)
        if digest in seen:
            duplicates += 1
            continue
        seen.add(digest)
        new_pairs.append((key, pair))
    if len(new_pairs) > cap:
        # Blind and unbiased: a random subset when more arrived than this look may judge.
        notes.append(f"judged a random {cap} of {len(new_pairs)} new pairs")
        new_pairs = random.Random(f"{release.release_id}:{interval}").sample(new_pairs, cap)
        new_pairs.sort(key=lambda kp: kp[0])  # in the order they arrived
    n = total = squares = 0.0
    for key, pair in new_pairs:
        digest = _request_hash(pair.request_id)
        scored, failed = imputed_on_failure(functools.partial(scorer.score, pair))
        imputed += 1 if failed else 0
        if scored is None:
            unscored += 1
            rows.append({"request": digest, "key": key, "unscored": True})
            continue
        c, b, how, reason = scored
        for side, value in (("candidate", c), ("baseline", b)):
            deps.evaluation_events.evaluation_result(evaluation_result(
                release_id=release.release_id, stream=STREAM, variant=side, scorer="judge" if failed else how,
                score=None if failed else value, error_type=failed))
        u = judge.to_unit(c - b)
        n, total, squares = n + 1, total + u, squares + u * u
        rows.append({"request": digest, "key": key, "candidate": c, "baseline": b, "difference": c - b, "how": how,
                     "reason": reason, **_signals(pair)})
    sums = state.sums.add(n, total, squares)
    pairs = state.pairs + int(n)
    judge_calls, cost_total = scorer.calls, state.cost_usd + cost
    exhausted = None
    if pairs >= plan.max_pairs:
        exhausted = f"the cap of {plan.max_pairs:,} pairs is reached"
    elif cost_total >= plan.max_cost_usd:
        exhausted = f"the cap of ${plan.max_cost_usd:g} on shadow answers is reached (${cost_total:.4f})"
    elif judge_calls + 2 > plan.max_judge_calls:
        exhausted = f"the judge budget of {plan.max_judge_calls:,} calls is spent"
    elif interval >= plan.max_intervals:
        exhausted = f"{plan.max_intervals} looks are over"
    verdict = judge.decide(sums, margin=margin, alpha=alpha, min_pairs=plan.min_pairs, unscored_now=unscored,
                           exhausted=exhausted)
    share = state.share
    if verdict.action == "block":
        fenced_shadow(deps, release, manifest, 0.0)  # the switch: the app stops shadowing
    elif verdict.action == "continue" and keys:
        # The app does not count: the rate cap is kept here, on the pairs that arrived during the look.
        rate = len(keys) / manifest.canary.bake_seconds
        if rate > plan.max_requests_per_second * RATE_SLACK:
            share = state.share * plan.max_requests_per_second / rate
            fenced_shadow(deps, release, manifest, share)
            notes.append(f"{rate:.3g} shadow requests/s arrived, over the cap of {plan.max_requests_per_second:g}: "
                         f"share lowered from {state.share:.3g} to {share:.3g}")
    if duplicates:
        notes.append(f"{duplicates} pairs delivered twice, counted once")
    deps.artifacts.put_json(ledger_key, {"pairs": rows})
    look_key = evidence_key(release, STREAM, f"look-{interval:04d}.json")
    deps.artifacts.put_json(look_key, {
        "at": now.isoformat(), "interval": interval, "share": state.share, "pairs": pairs, "new_pairs": int(n),
        "estimate": verdict.estimate, "lower": verdict.lower, "upper": verdict.upper, "margin": margin,
        "action": verdict.action, "outcome": verdict.outcome, "unscored": unscored, "duplicates": duplicates,
        "cost_usd": cost_total, "judge_calls": judge_calls, "notes": notes, "signals": paired_signals(rows)})
    return state.model_copy(update={
        "action": verdict.action, "outcome": verdict.outcome, "intervals": interval, "pairs": pairs, "share": share,
        "duplicates": state.duplicates + duplicates, "imputed": state.imputed + imputed,
        "unscored": state.unscored + unscored, "judge_calls": judge_calls, "judge_tokens": scorer.tokens,
        "cost_usd": cost_total, "sums": sums, "cursor": cursor, "pairs_key": ledger_key,
        "estimate": verdict.estimate, "lower": verdict.lower, "upper": verdict.upper,
        "last_reasons": [*verdict.reasons, *notes][:10]})


def paired_signals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Over every judged pair so far, both answers' means side by side (baseline, candidate): latency, tokens
    and cost per answer, and guardrail interventions counted. Recorded for the report, not judged here."""
    scored = [r for r in rows if "difference" in r]
    out: dict[str, Any] = {"pairs": len(scored)}
    for name in ("latency_ms", "tokens", "cost_usd"):
        values = [r[name] for r in scored if isinstance(r.get(name), list) and None not in r[name]]
        out[name] = ([sum(v[0] for v in values) / len(values), sum(v[1] for v in values) / len(values)]
                     if values else None)
    out["guardrail"] = [sum(1 for r in scored if (r.get("guardrail") or [False, False])[i]) for i in (0, 1)]
    return out


def _signals(pair: CapturedPair) -> dict[str, Any]:
    """The per-answer signals, paired (for the report): guardrail, latency, tokens, cost."""
    b, c = pair.baseline, pair.candidate
    return {"guardrail": [b.guardrail_intervened, c.guardrail_intervened], "latency_ms": [b.latency_ms, c.latency_ms],
            "tokens": [b.input_tokens + b.output_tokens, c.input_tokens + c.output_tokens],
            "cost_usd": [b.cost_usd, c.cost_usd]}

