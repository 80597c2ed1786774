"""``genai-cicd canary judge``: replay a canary stream through the judge, interval by interval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from genai_cicd.canary.judge import JudgeConfig, JudgeState, judge_interval
from genai_cicd.canary.stream import CanaryStream
from genai_cicd.errors import InvalidInput
from genai_cicd.models.validation import describe_validation_error

DEFAULT_METRICS = ["errors", "slow_requests", "low_quality", "guardrail_interventions"]


def replay(stream: CanaryStream, config_kwargs: dict[str, Any]) -> dict[str, Any]:
    present = {m for iv in stream.intervals for arm in (iv.baseline, iv.canary) for m in DEFAULT_METRICS
               if getattr(arm, m) is not None}
    metrics = config_kwargs.pop("metrics", None) or [m for m in DEFAULT_METRICS if m in present] or ["errors"]
    critical = config_kwargs.pop("critical", None) or ["errors"]
    config = JudgeConfig(metrics=metrics, critical_metrics=[m for m in critical if m in metrics], **config_kwargs)
    state = JudgeState()
    decisions = []
    final: dict[str, Any] = {"decision": "continue", "at_interval": len(stream.intervals) - 1, "metric": None,
                             "evidence": {}}
    for iv in stream.intervals:
        state, d = judge_interval(state, iv.baseline.model_dump(), iv.canary.model_dump(), config)
        decisions.append({"interval": d.interval, "decision": d.decision, "reasons": d.reasons})
        final = {"decision": d.decision, "at_interval": d.interval, "metric": d.metric, "evidence": d.evidence}
        if d.decision in ("rollback", "promote"):
            break
    return {"decisions": decisions, "final": final, "config": config.model_dump()}


def replay_file(path: Path, **kwargs: Any) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    try:
        stream = CanaryStream.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, str(path))) from None
    return replay(stream, kwargs)
