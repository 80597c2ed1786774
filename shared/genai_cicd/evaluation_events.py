"""Judge scores as OpenTelemetry ``gen_ai.evaluation.result`` events (GenAI semantic conventions v1.41.0,
status Development), written as structured log records of the function that scored them.

One record per evaluated answer, in the OpenTelemetry Logs Data Model's field names (``EventName``,
``SeverityText``, ``Attributes``), so a log pipeline (a CloudWatch Logs subscription, the ADOT
collector's file-log receiver) can forward it as the event. Attributes:

- ``gen_ai.evaluation.name`` (required): what was evaluated, ``online_quality``;
- ``gen_ai.evaluation.score.value`` and ``gen_ai.evaluation.score.label`` ("pass"/"fail" for a score of
  1 or 0) when the evaluation produced a score;
- ``error.type`` when it failed (the score the judge then counts is an imputation, not a result, and is
  not reported as one);
- ``feature_flag.result.variant``: which arm answered, as the app's metrics name it.

Left out on purpose: ``gen_ai.evaluation.explanation`` (the judge's reason may quote the answer, and
logs never hold prompts or answers, docs/SECURITY.md) and ``gen_ai.response.id`` (the captured record
holds the app's request id, not the model's response id). genai-cicd's own context is under
``genai_cicd.*``: the release, the stream (user or probe) and which check scored.
"""

from __future__ import annotations

from typing import Any

EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "online_quality"


def evaluation_result(*, release_id: str, stream: str, variant: str, scorer: str, score: float | None,
                      error_type: str | None = None) -> dict[str, Any]:
    """The event's attributes for one evaluated answer."""
    attributes: dict[str, Any] = {"gen_ai.evaluation.name": EVALUATION_NAME, "feature_flag.result.variant": variant,
                                  "genai_cicd.release_id": release_id, "genai_cicd.stream": stream,
                                  "genai_cicd.scorer": scorer}
    if error_type is not None:
        attributes["error.type"] = error_type
    elif score is not None:
        attributes["gen_ai.evaluation.score.value"] = float(score)
        if score in (0.0, 1.0):
            attributes["gen_ai.evaluation.score.label"] = "pass" if score == 1.0 else "fail"
    return attributes


class LoggedEvaluationEvents:
    """Writes each event as one structured log record through the function's Powertools Logger."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def evaluation_result(self, attributes: dict[str, Any]) -> None:
        self._logger.info(EVENT, extra={"EventName": EVENT, "SeverityText": "INFO", "Attributes": attributes})
