"""Manual approval: park the task token, announce it, resume on a decision."""

from __future__ import annotations

import json

from genai_cicd import clock as clock_seam
from genai_cicd.deps import Deps
from genai_cicd.logic.notify import notify
from genai_cicd.models.results import ApprovalParked
from genai_cicd.models.tasks import ApprovalRequest, NotifyInput
from genai_cicd.ports import Approvals, Executions


def request_approval(event: ApprovalRequest, deps: Deps) -> ApprovalParked:
    release = event.release
    deps.approvals.park(release.release_id, event.task_token,
                        expires_at=int(clock_seam.now()) + release.approval_timeout_seconds + 3600)
    notify(NotifyInput(release=release, event="awaiting_approval",
                       detail={"reasons": [f"approve with: genai-cicd approve {release.release_id} --by NAME "
                                           f"--table {deps.config.table_name} [--reject]"]}),
           deps)
    return ApprovalParked(parked=True, release_id=release.release_id)


def decide_approval(release_id: str, approved: bool, approver: str, comment: str, *, approvals: Approvals,
                    executions: Executions) -> None:
    """Resume a release waiting in ManualApproval (what `genai-cicd approve` calls)."""
    token = approvals.token(release_id)
    if token is None:
        raise LookupError(f"release {release_id} is not waiting for approval")
    if approved:
        executions.succeed_task(token, json.dumps({"approver": approver, "comment": comment[:500]}))
    else:
        executions.fail_task(token, "ApprovalRejected", f"rejected by {approver}")
    approvals.forget(release_id)
