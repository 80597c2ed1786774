"""Online quality: score the answers the app captured since the last interval, blind to the variant.

The app (genai_cicd_app) writes sampled answers to
``releases/{id}/samples/{stream}/{time}-{n}.json`` (docs/FORMATS.md "Captured
answers"). Each interval this reads the new ones of both streams (user and
probe), shuffles them together and scores each with the same checks, never
telling a scorer which variant answered:

- a guardrail intervention or a refusal scores 0;
- with ``response_schema``, an answer that is not valid JSON of the schema scores 0;
- otherwise the release's LLM judge grades the answer to the question (no reference);
- ``store: hashes`` records carry the score the app computed at capture time.

Fail closed: a scorer that fails counts as the worst score for the arm (0 for
the canary, 1 for the baseline); a record that cannot be read, or one left
over once the judge budget is spent, is *unscored* -- and an interval with
unscored answers never promotes (canary.decision).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genai_cicd import s3_keys
from genai_cicd.deps import Deps
from genai_cicd.errors import ArtifactUnreadable
from genai_cicd.evaluation_events import evaluation_result
from genai_cicd.gates.model_scorers import LLMJudge, VerdictRejected
from genai_cicd.gates.refusal import is_refusal
from genai_cicd.logic.context import evidence_key
from genai_cicd.models.manifest import ONLINE_RUBRIC, OnlineQuality, ReleaseManifest
from genai_cicd.models.tasks import OnlineScoring, ReleaseContext
from genai_cicd.providers.base import ProviderError

STREAMS = ("user", "probe")
# A sample is read once its capture time is this far behind the end of the interval: a write still
# in flight when the interval closed is read in the next one, not skipped by the cursor.
SETTLE_SECONDS = 2.0
Arm = Literal["baseline", "candidate"]


class CapturedAnswer(BaseModel):
    """One record written by genai_cicd_app.ReleasedApp.capture (schema 1)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    schema_: Literal[1] = Field(alias="schema")
    variant: Arm
    synthetic: bool
    probe_id: str | None = None
    request_id: str
    captured_at: str
    latency_ms: float = Field(ge=0)
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    guardrail_intervened: bool
    store: Literal["content", "hashes"]
    request: str | None = None
    answer: str | None = None
    request_sha256: str | None = None
    answer_sha256: str | None = None
    scores: dict[str, float] | None = None


class ArmScores(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: float = 0.0
    total: float = 0.0
    squares: float = 0.0
    unscored: float = 0.0


class IntervalScores(BaseModel):
    """Per stream and arm: what the judge folds in as quality_count / quality_sum / quality_unscored."""

    model_config = ConfigDict(extra="forbid")

    streams: dict[str, dict[str, ArmScores]] = Field(default_factory=dict)
    # Per stream: probe pairs scored together, as (candidate - baseline + 1) / 2 of each pair.
    pairs: dict[str, ArmScores] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def arm(self, stream: str, arm: str) -> dict[str, float]:
        a = self.streams.get(stream, {}).get(arm, ArmScores())
        fields = {"quality_count": a.count, "quality_sum": a.total, "quality_sum_squares": a.squares,
                  "quality_unscored": a.unscored}
        p = self.pairs.get(stream)
        if arm == "candidate" and p is not None and p.count:
            fields |= {"quality_pairs": p.count, "quality_pairs_sum": p.total, "quality_pairs_sum_squares": p.squares}
        return fields


def _timestamp(key: str) -> datetime | None:
    name = key.rsplit("/", 1)[-1]
    try:
        return datetime.strptime(name.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ")
    except ValueError:
        return None


def new_sample_keys(deps: Deps, release_id: str, stream: str, after: str | None, until: datetime) -> list[str]:
    """Keys captured since ``after`` and settled by ``until`` (naive UTC), in capture order."""
    keys = [key for key in deps.artifacts.keys_after(s3_keys.samples(release_id, stream), after)
            if (stamp := _timestamp(key)) is not None and stamp <= until]
    return sorted(keys)


def zero_reason(answer: str | None, guardrail_intervened: bool, schema: dict[str, Any] | None) -> str | None:
    """Why an answer scores 0 without a judge, if it does: a guardrail intervention, a refusal, or (with a
    response schema) an answer that is not valid JSON of it."""
    if guardrail_intervened:
        return "guardrail"
    if is_refusal(answer or ""):
        return "refusal"
    if schema is not None:
        import jsonschema  # imported here: most functions never check a schema, and it costs their cold start

        try:
            jsonschema.validate(json.loads(answer or ""), schema)
        except (json.JSONDecodeError, jsonschema.ValidationError):
            return "schema"
    return None


@dataclass(frozen=True)
class Answer:
    """One side of a pair as a scorer sees it (never told which side)."""

    text: str | None
    guardrail_intervened: bool
    app_score: float | None = None  # store: hashes


def score_pair(judge: LLMJudge | None, schema: dict[str, Any] | None, question: str, candidate: Answer,
               baseline: Answer, store: str, rng: random.Random) -> PairScore | None:
    """Both answers to one prompt: (candidate, baseline, how, the judge's reason), or None when they cannot
    be scored (no judge, or no app score). Checks first; otherwise the judge sees both answers in one call
    and again in the other order, the first shown chosen by a coin (never by side), and each answer's score
    is the mean of its two positions. The caller keeps the budget (two calls a pair)."""
    if store == "hashes":
        c, b = candidate.app_score, baseline.app_score
        if c is None or b is None or not (0.0 <= c <= 1.0 and 0.0 <= b <= 1.0):
            return None
        return c, b, "app", None
    zero = {"candidate": zero_reason(candidate.text, candidate.guardrail_intervened, schema),
            "baseline": zero_reason(baseline.text, baseline.guardrail_intervened, schema)}
    if zero["candidate"] and zero["baseline"]:
        return 0.0, 0.0, f"candidate {zero['candidate']}, baseline {zero['baseline']}", None
    if judge is None:
        return None
    sides = {"candidate": candidate, "baseline": baseline}
    first = "candidate" if rng.random() < 0.5 else "baseline"
    second = "baseline" if first == "candidate" else "candidate"
    s_first, s_second, reason = judge.grade_pair(question, sides[first].text or "", sides[second].text or "")
    scores = {first: s_first, second: s_second}
    for side, why in zero.items():
        if why:
            scores[side] = 0.0
    how = "judge" + "".join(f", {side} {why}" for side, why in zero.items() if why)
    return scores["candidate"], scores["baseline"], how, reason


PairScore = tuple[float, float, str, str | None]  # candidate, baseline, how it was scored, the judge's reason


def imputed_on_failure(score: Callable[[], PairScore | None]) -> tuple[PairScore | None, str | None]:
    """Score a pair; a judge that fails scores it as the worst difference (candidate 0, baseline 1), never a
    pass. Returns the score and the failure's type, if any."""
    try:
        return score(), None
    except (VerdictRejected, ProviderError) as exc:
        failed = type(exc).__name__
        return (0.0, 1.0, f"imputed: {failed}", None), failed


class Scorer:
    """The checks of the module docstring, with the release's judge and budget."""

    def __init__(self, config: OnlineQuality, judge: LLMJudge | None, state: OnlineScoring) -> None:
        self.config = config
        self.judge = judge
        self.calls = state.judge_calls
        self.tokens = state.judge_tokens
        self.spent = state.budget_spent

    def _budget_left(self) -> bool:
        if self.calls >= self.config.max_judge_calls or self.tokens >= self.config.max_judge_tokens:
            self.spent = True
        return not self.spent

    def score(self, record: CapturedAnswer) -> tuple[float | None, str]:
        """(score, how); None = unscored (budget spent or nothing to score with)."""
        if record.store == "hashes":
            value = (record.scores or {}).get("quality")
            if value is None or not 0.0 <= value <= 1.0:
                return None, "no app score in [0, 1]"
            return value, "app"
        answer, question = record.answer or "", record.request or ""
        why = zero_reason(answer, record.guardrail_intervened, self.config.response_schema)
        if why:
            return 0.0, why
        if self.judge is None:
            return None, "no judge"
        if not self._budget_left():
            return None, "budget"
        before_calls, before_tokens = self.judge.calls, self.judge.tokens
        try:
            value = self.judge.grade(question, answer)
        finally:
            self.calls += self.judge.calls - before_calls
            self.tokens += self.judge.tokens - before_tokens
        return value, "judge"

    def score_pair(self, candidate: CapturedAnswer, baseline: CapturedAnswer, rng: random.Random
                   ) -> PairScore | None:
        """Two probe answers to one prompt, as a pair (``score_pair``), within the budget."""
        def side(record: CapturedAnswer) -> Answer:
            return Answer(record.answer, record.guardrail_intervened, (record.scores or {}).get("quality"))

        needs_judge = candidate.store == "content" and not all(
            zero_reason(r.answer, r.guardrail_intervened, self.config.response_schema) for r in (candidate, baseline))
        if needs_judge and self.judge is not None and (not self._budget_left()
                                                       or self.calls + 2 > self.config.max_judge_calls):
            self.spent = True
            return None
        judge = self.judge
        before_calls, before_tokens = (judge.calls, judge.tokens) if judge else (0, 0)
        try:
            return score_pair(judge, self.config.response_schema, candidate.request or "", side(candidate),
                              side(baseline), candidate.store, rng)
        finally:
            if judge is not None:
                self.calls += judge.calls - before_calls
                self.tokens += judge.tokens - before_tokens


def score_interval(deps: Deps, release: ReleaseContext, manifest: ReleaseManifest, state: OnlineScoring,
                   end: datetime, interval: int) -> tuple[IntervalScores, OnlineScoring, str | None]:
    """Score what was captured since the last interval; returns the scores, the new state, and the key
    of the per-sample results in S3 (scores only, never content)."""
    config = manifest.canary.online_quality
    if config is None:
        return IntervalScores(), state, None
    judge = (LLMJudge(deps.provider, config.judge.model_id, config.judge.rubric or ONLINE_RUBRIC)
             if config.judge is not None else None)
    scorer = Scorer(config, judge, state)
    until = end.replace(tzinfo=None) - timedelta(seconds=SETTLE_SECONDS)
    cursors = dict(state.cursors)
    todo: list[tuple[str, str]] = []
    notes: list[str] = []
    for stream in STREAMS:
        keys = new_sample_keys(deps, release.release_id, stream, cursors.get(stream), until)
        if keys:
            cursors[stream] = keys[-1]
        # Blind and unbiased: a random subset when more arrived than one interval may score.
        rng = random.Random(hashlib.sha256(f"{release.release_id}:{stream}:{interval}".encode()).digest())
        if len(keys) > config.max_samples_per_interval:
            notes.append(f"{stream}: scored a random {config.max_samples_per_interval} of {len(keys)} new answers")
            keys = rng.sample(keys, config.max_samples_per_interval)
        todo += [(stream, k) for k in keys]
    random.Random(interval).shuffle(todo)
    result: dict[str, dict[str, ArmScores]] = {s: {"baseline": ArmScores(), "candidate": ArmScores()}
                                               for s in STREAMS}
    rows: list[dict[str, Any]] = []
    scored = imputed = unscored = 0
    loaded: dict[str, CapturedAnswer | Exception] = {}
    for _, key in todo:
        try:
            loaded[key] = CapturedAnswer.model_validate(deps.artifacts.read_json_counted(key))
        except (ArtifactUnreadable, ValidationError, ValueError, RecursionError) as exc:  # nested too deep
            loaded[key] = exc
    # Probe pairs (one prompt to each variant) are scored together and judged as pairs.
    probe_pairs = _probe_pairs([(k, r) for s, k in todo if s == "probe" and isinstance(r := loaded[k], CapturedAnswer)])
    in_pairs = {k for pair in probe_pairs for k, _ in pair}
    pair_sums = ArmScores()
    rng = random.Random(hashlib.sha256(f"{release.release_id}:pairs:{interval}".encode()).digest())
    for (c_key, c_rec), (b_key, b_rec) in probe_pairs:
        got, pair_failed = imputed_on_failure(functools.partial(scorer.score_pair, c_rec, b_rec, rng))
        imputed += 2 if pair_failed else 0
        if got is None:
            unscored += 2
            for side in ("candidate", "baseline"):
                result["probe"][side].unscored += 1
            rows += [{"key": c_key, "stream": "probe", "variant": "candidate", "score": None, "how": "pair unscored"},
                     {"key": b_key, "stream": "probe", "variant": "baseline", "score": None, "how": "pair unscored"}]
            continue
        c, b, how, _ = got
        for side, given, key in (("candidate", c, c_key), ("baseline", b, b_key)):
            sums = result["probe"][side]
            sums.count, sums.total, sums.squares = sums.count + 1, sums.total + given, sums.squares + given * given
            deps.evaluation_events.evaluation_result(evaluation_result(
                release_id=release.release_id, stream="probe", variant=side, scorer="judge" if pair_failed else how,
                score=None if pair_failed else given, error_type=pair_failed))
            rows.append({"key": key, "stream": "probe", "variant": side, "score": given, "how": f"pair: {how}"})
        u = (c - b + 1.0) / 2.0
        pair_sums.count, pair_sums.total, pair_sums.squares = (pair_sums.count + 1, pair_sums.total + u,
                                                              pair_sums.squares + u * u)
        scored += 2
    for stream, key in todo:
        if key in in_pairs:
            continue
        record_or_error = loaded[key]
        if isinstance(record_or_error, CapturedAnswer):
            record = record_or_error
        else:
            unscored += 1
            rows.append({"key": key, "stream": stream, "unreadable": type(record_or_error).__name__})
            # Unknown arm: count it against both, so neither can promote on this interval.
            for side in ("baseline", "candidate"):
                result[stream][side].unscored += 1
            continue
        if record.synthetic != (stream == "probe"):
            unscored += 1
            result[stream][record.variant].unscored += 1
            rows.append({"key": key, "stream": stream, "unreadable": "synthetic flag does not match the stream"})
            continue
        arm_sums = result[stream][record.variant]
        failed: str | None = None
        try:
            value, how = scorer.score(record)
        except (VerdictRejected, ProviderError) as exc:
            failed = type(exc).__name__
            value, how = (0.0 if record.variant == "candidate" else 1.0), f"imputed: {failed}"
            imputed += 1
        if value is not None:  # an evaluation ran (and scored, or failed): its OpenTelemetry event
            deps.evaluation_events.evaluation_result(evaluation_result(
                release_id=release.release_id, stream=stream, variant=record.variant,
                scorer="judge" if failed else how, score=None if failed else value, error_type=failed))
        if value is None:
            arm_sums.unscored += 1
            unscored += 1
        else:
            arm_sums.count += 1
            arm_sums.total += value
            arm_sums.squares += value * value
            scored += 1
        rows.append({"key": key, "stream": stream, "variant": record.variant, "score": value, "how": how})
    if scorer.spent and unscored:
        notes.append(f"judge budget spent ({scorer.calls} calls, {scorer.tokens:,} tokens): scoring stopped, "
                     f"{unscored} answers unscored")
    new_state = OnlineScoring(cursors=cursors, judge_calls=scorer.calls, judge_tokens=scorer.tokens,
                              scored=state.scored + scored, imputed=state.imputed + imputed,
                              unscored=state.unscored + unscored, budget_spent=scorer.spent)
    results_key: str | None = None
    if rows:
        results_key = evidence_key(release, "canary", f"quality-{interval:04d}.json")
        deps.artifacts.put_json(results_key, {"interval": interval, "samples": rows, "notes": notes})
    return (IntervalScores(streams=result, pairs={"probe": pair_sums} if pair_sums.count else {}, notes=notes),
            new_state, results_key)


_PROBE_ID = re.compile(r"^(\d+)-(baseline|candidate)$")


def _probe_pairs(records: list[tuple[str, CapturedAnswer]]
                 ) -> list[tuple[tuple[str, CapturedAnswer], tuple[str, CapturedAnswer]]]:
    """(candidate, baseline) probe records of one pair (SendProbes' ids ``<n>-<arm>``, the same prompt), in
    pair order; a half whose other half is not in this batch is scored alone."""
    halves: dict[str, dict[str, tuple[str, CapturedAnswer]]] = {}
    for key, record in records:
        match = _PROBE_ID.match(record.probe_id or "")
        if match and match.group(2) == record.variant and record.synthetic:
            halves.setdefault(match.group(1), {})[record.variant] = (key, record)
    pairs = []
    for n in sorted(halves, key=int):
        both = halves[n]
        if set(both) != {"candidate", "baseline"}:
            continue
        c, b = both["candidate"][1], both["baseline"][1]
        if (c.request_sha256 or c.request) == (b.request_sha256 or b.request):  # the same prompt, or not a pair
            pairs.append((both["candidate"], both["baseline"]))
    return pairs
