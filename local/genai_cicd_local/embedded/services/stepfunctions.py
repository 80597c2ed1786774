"""Step Functions GetExecutionHistory with the paging AWS documents (moto's engine runs the executions).

moto returns every event of the history on every call and ignores ``maxResults``, ``nextToken``
and ``reverseOrder``; its serialiser then spends the interpreter on a history that grows with each
canary look. Here a call gets one page, as the Step Functions API Reference (GetExecutionHistory)
says: ``maxResults`` 0 or absent is 100, at most 1000; ``reverseOrder`` lists the newest first;
``nextToken`` is returned while more events remain and must come back with the other arguments
unchanged (else InvalidToken); ``includeExecutionData`` false leaves out inputs and outputs.
Errors (an unknown or malformed ARN) are moto's own answers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from genai_cicd_local.embedded.services.base import BackendError, NotServed

DEFAULT_PAGE, MAX_PAGE = 100, 1000
_DATA = ("input", "output", "inputDetails", "outputDetails")


class ExecutionHistoryService:
    def get_execution_history(self, p: dict[str, Any]) -> dict[str, Any]:
        from moto.stepfunctions.responses import get_backend

        arn = str(p.get("executionArn", ""))
        parts = arn.split(":")
        if len(parts) < 8:
            raise NotServed
        try:
            events = list(get_backend(parts[4], parts[3]).get_execution_history(arn)["events"])
        except Exception:  # noqa: BLE001 - moto raises its documented error for this ARN
            raise NotServed from None
        size = int(p.get("maxResults") or DEFAULT_PAGE)
        if not 0 < size <= MAX_PAGE:
            raise BackendError("ValidationException", f"maxResults must be between 0 and {MAX_PAGE}")
        if p.get("reverseOrder"):
            events.reverse()
        start = _offset(p.get("nextToken"), arn, bool(p.get("reverseOrder")), size)
        page = [{**e, "timestamp": _instant(e.get("timestamp"))} for e in events[start:start + size]]
        if p.get("includeExecutionData") is False:
            page = [{k: _without_data(v) for k, v in e.items()} for e in page]
        out: dict[str, Any] = {"events": page}
        if start + size < len(events):
            out["nextToken"] = json.dumps([arn, bool(p.get("reverseOrder")), size, start + size])
        return out


def _offset(token: Any, arn: str, reverse: bool, size: int) -> int:
    if token is None:
        return 0
    try:
        t_arn, t_reverse, t_size, offset = json.loads(str(token))
    except (ValueError, TypeError):
        raise BackendError("InvalidToken", "the pagination token is not valid") from None
    if [t_arn, t_reverse, t_size] != [arn, reverse, size] or not isinstance(offset, int) or offset < 0:
        raise BackendError("InvalidToken", "the pagination token was issued for other arguments")
    return offset


def _instant(value: Any) -> Any:
    """moto keeps ISO 8601 strings in UTC; botocore hands callers datetimes (what its parser makes of them)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return value


def _without_data(details: Any) -> Any:
    return {k: v for k, v in details.items() if k not in _DATA} if isinstance(details, dict) else details
