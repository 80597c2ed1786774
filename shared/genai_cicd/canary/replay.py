"""``genai-cicd canary judge``: replay a canary stream through the plan's steps with the production decision.

The plan is a manifest's ``canary:`` section (YAML or JSON, the same model and
validation; a partial section is completed with the defaults, which are the
stack's). Without a plan file, the defaults. Intervals are judged in order by
``canary.decision.judge``, the function AnalyzeCanary calls. After "next
step", intervals whose realised canary share still shows an earlier step are
skipped (the recorded traffic had not moved yet); the step's weight is read
from the stream, never assumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from genai_cicd.canary.decision import CanaryEvidence, judge
from genai_cicd.canary.stream import CanaryStream, GroupField
from genai_cicd.errors import InvalidInput
from genai_cicd.models.documents import load_json, read_text
from genai_cicd.models.manifest import MAX_MANIFEST_BYTES, CanaryPlan, decode_manifest_text
from genai_cicd.models.validation import describe_validation_error

MAX_STREAM_BYTES = 64 * 1024 * 1024  # a week of one-minute intervals with every metric is a few MiB


def load_plan(path: Path | None, stream: CanaryStream) -> CanaryPlan:
    """The plan file's canary section on top of the defaults.

    When it names no ``metrics``, the default metrics the stream carries are judged (a stream
    file holds what its author measured; in production an absent metric never promotes).
    """
    data: dict[str, Any] = {}
    if path is not None:
        loaded: dict[str, Any] = decode_manifest_text(read_text(path, max_bytes=MAX_MANIFEST_BYTES, what="plan"),
                                                      str(path))
        if isinstance(loaded.get("canary"), dict):
            loaded = loaded["canary"]  # a whole manifest: take its canary section
        data = dict(loaded)
    if "metrics" not in data:
        present = {m for iv in stream.intervals for arm in (iv.baseline, iv.canary)
                   for m in ("errors", "slow_requests", "low_quality", "guardrail_interventions")
                   if getattr(arm, m) is not None}
        defaults = [m.value for m in CanaryPlan().metrics]
        data["metrics"] = [m for m in defaults if m in present] or ["errors"]
        if "critical_metrics" not in data:
            data["critical_metrics"] = [m.value for m in CanaryPlan().critical_metrics if m.value in data["metrics"]]
    try:
        return CanaryPlan.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, str(path or "plan"))) from None


def _nearest_step(plan: CanaryPlan, baseline_requests: float | None, canary_requests: float | None) -> int | None:
    total = (baseline_requests or 0.0) + (canary_requests or 0.0)
    if total <= 0:
        return None
    share = 100.0 * (canary_requests or 0.0) / total
    return min(range(len(plan.steps)), key=lambda i: abs(plan.steps[i] - share))


def _as_groups(groups: Mapping[GroupField, list[float]] | None) -> dict[str, list[float]] | None:
    return None if groups is None else {str(k): list(v) for k, v in groups.items()}


def replay(stream: CanaryStream, plan: CanaryPlan) -> dict[str, Any]:
    evidence = CanaryEvidence()
    step = 0
    step_looks = 0  # each interval of a stream is one look, look_seconds long
    decisions: list[dict[str, Any]] = []
    final: dict[str, Any] = {"action": "continue", "outcome": "baking", "decided_on": None, "at_interval": None,
                             "metrics": {}, "reasons": ["the stream ended before a verdict"]}
    for index, iv in enumerate(stream.intervals):
        shown = _nearest_step(plan, iv.baseline.requests, iv.canary.requests)
        if step > 0 and shown is not None and shown < step:
            decisions.append({"interval": index, "step": step, "skipped": f"traffic still at step {shown + 1}"})
            continue
        step_looks += 1
        baseline, canary = iv.baseline.model_dump(exclude={"groups"}), iv.canary.model_dump(exclude={"groups"})
        evidence, verdict = judge(plan, evidence, baseline, canary,
                                  step_index=step, elapsed_seconds=(index + 1) * plan.look_seconds,
                                  step_seconds=step_looks * plan.look_seconds,
                                  baseline_groups=_as_groups(iv.baseline.groups),
                                  canary_groups=_as_groups(iv.canary.groups))
        decisions.append({"interval": index, "step": step, "action": verdict.action, "outcome": verdict.outcome,
                          "metric": verdict.metric, "reasons": verdict.reasons,
                          "metrics": {m: b.model_dump() for m, b in verdict.metrics.items()}})
        final = {"action": verdict.action, "outcome": verdict.outcome, "decided_on": verdict.metric,
                 "at_interval": index, "metrics": {m: b.model_dump() for m, b in verdict.metrics.items()},
                 "reasons": verdict.reasons}
        if verdict.action in ("rollback", "promote"):
            break
        if verdict.action == "next_step":
            step += 1
            step_looks = 0
            evidence = evidence.new_step()
            final = {**final, "action": "continue", "outcome": "baking",
                     "reasons": [f"advanced to step {step + 1}; the stream ended before its verdict"]}
    return {"final": final, "decisions": decisions, "plan": plan.model_dump(mode="json", exclude_none=True)}


def read_stream(path: Path) -> CanaryStream:
    data = load_json(read_text(path, max_bytes=MAX_STREAM_BYTES, what="canary stream"), str(path))
    try:
        return CanaryStream.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, str(path))) from None


def replay_file(path: Path, plan_path: Path | None = None) -> dict[str, Any]:
    stream = read_stream(path)
    return replay(stream, load_plan(plan_path, stream))
