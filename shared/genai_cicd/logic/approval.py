"""Manual approval: park the task token, announce it, resume on a decision."""

from __future__ import annotations

import json
import time
from typing import Any

from genai_cicd.logic.deps import Deps
from genai_cicd.logic.notify import notify
from genai_cicd.models.tasks import ApprovalRequest, NotifyInput


def request_approval(event: ApprovalRequest, deps: Deps) -> dict[str, Any]:
    release = event.release
    deps.client("dynamodb").put_item(
        TableName=deps.config.table_name,
        Item={"pk": {"S": f"APPROVAL#{release.release_id}"}, "sk": {"S": "TOKEN"},
              "task_token": {"S": event.task_token},
              "expiration": {"N": str(int(time.time()) + release.approval_timeout_seconds + 3600)}},
    )
    notify(NotifyInput(release=release, event="awaiting_approval",
                       detail={"reasons": [f"approve with: genai-cicd approve {release.release_id} --by NAME "
                                           f"--table {deps.config.table_name} [--reject]"]}),
           deps)
    return {"parked": True}


def decide_approval(release_id: str, approved: bool, approver: str, comment: str, *, dynamodb: Any, sfn: Any,
                    table: str) -> None:
    """Resume a release waiting in ManualApproval (what `genai-cicd approve` calls)."""
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": f"APPROVAL#{release_id}"}, "sk": {"S": "TOKEN"}}, ConsistentRead=True,
    ).get("Item")
    if not item:
        raise LookupError(f"release {release_id} is not waiting for approval")
    token = item["task_token"]["S"]
    if approved:
        sfn.send_task_success(taskToken=token, output=json.dumps({"approver": approver, "comment": comment[:500]}))
    else:
        sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause=f"rejected by {approver}")
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": f"APPROVAL#{release_id}"}, "sk": {"S": "TOKEN"}})
