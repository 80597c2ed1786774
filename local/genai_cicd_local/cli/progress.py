"""A release's progress in plain words: the states it enters and what each task decided."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# What each state of statemachines/release.asl.json means to a person watching a release.
# None: bookkeeping not worth a line (notifications are printed as [SNS] lines instead).
# tests/unit/test_cli_words.py checks that every state of the ASL is named here.
STATE_LABELS: dict[str, str | None] = {
    "LoadManifest": "checking the manifest", "NotifyInvalid": None, "InvalidInput": "stopped: the manifest is invalid",
    "KeepPointersOnly": None, "AcquireLock": "taking the release lock for this app and environment",
    "NotifyLocked": None, "ReportLocked": None, "Locked": "stopped: another release of this app holds the lock",
    "NotifyFailedNoLock": None, "FailedNoLock": "stopped: the lock could not be taken", "NotifyStarted": None,
    "Gates": "running the gates", "PromptRegressionRequested?": None,
    "PromptRegression": "prompt regression: golden dataset, candidate vs baseline",
    "PromptRegressionFailed": "prompt regression could not run", "PromptRegressionSkipped": None,
    "PlanRegressionShards": "prompt regression: splitting the golden dataset into shards",
    "RegressionShards": "prompt regression: scoring the shards in parallel", "ScoreShard": None,
    "ReduceRegressionShards": "prompt regression: judging every shard together", "GuardrailSuiteRequested?": None,
    "GuardrailSuite": "guardrail suite: must-block and benign cases", "GuardrailSuiteFailed": "guardrail suite "
    "could not run", "GuardrailSuiteSkipped": None, "InjectionSuiteRequested?": None,
    "InjectionSuite": "prompt-injection suite: attacks on both variants",
    "InjectionSuiteFailed": "prompt-injection suite could not run", "InjectionSuiteSkipped": None,
    "SchemaContractRequested?": None, "SchemaContract": "structured-output contract",
    "SchemaContractFailed": "structured-output contract could not run", "SchemaContractSkipped": None,
    "BedrockEvaluationRequested?": None, "StartEvaluationJobs": "Bedrock evaluation: starting the jobs",
    "WaitForEvaluation": None, "PollEvaluationJobs": None, "EvaluationDone?": None,
    "BedrockEvaluationResult": "Bedrock evaluation: judging the jobs' scores",
    "BedrockEvaluationFailed": "Bedrock evaluation could not run", "BedrockEvaluationSkipped": None,
    "BedrockEvaluationMalformed": "Bedrock evaluation returned a result that cannot be read",
    "QualityGate": "quality gate: every requested gate must have run and passed", "KeepVerdictOnly": None,
    "Blocked?": None,
    "GateBlocked": "blocked: the candidate never received traffic", "NotifyGatesPassed": None,
    "ApprovalRequired?": None, "NoApprovalNeeded": None, "ManualApproval": "waiting for a person to approve",
    "Rejected": "stopped: approval rejected",
    "NotifyApproved": None, "ShadowRequested?": None,
    "StartShadow": "shadow: the candidate also answers a share of live requests, off the users' path",
    "NotifyShadowStarted": None, "ShadowBake": None, "AnalyzeShadow": None, "ShadowDecision": None,
    "NotifyShadowPassed": "shadow: shown non-inferior, the canary starts",
    "ShadowBlockedOutcome": "shadow: blocked, no user was served by the candidate",
    "StartCanary": "canary: first traffic to the candidate", "NotifyCanaryStep": None,
    "ProbesNeeded?": None, "SendProbes": "sending probe requests through the app", "WaitForLook": None,
    "AnalyzeCanary": None, "CanaryDecision": None, "ShiftTraffic": "canary: next traffic step",
    "FullRollout": "promoting: all traffic to the candidate",
    "Promoted": "done: promoted", "Rollback": "rolling back: all traffic to the baseline",
    "RolledBack": "done: rolled back",
    "SafetyRollback": "something failed after traffic moved: putting all traffic back on the baseline",
    "ReleaseFailed": "done: the release failed",
    "ApprovalUnanswered": "done, but the pipeline's approval could not be answered: ReconcileRelease answers it",
    "NotifyFailedRollback": None,
    "FailedRollback": "the rollback could not be verified: check the traffic by hand",
    "NotifyLoadFailed": None,
    "LoadFailed": "stopped: the manifest could not be loaded",
    # the settle sequence every outcome ends with (the outcome is carried in $.settle)
    "BlockedOutcome": None, "PromotedOutcome": None, "RolledBackOutcome": None, "FailedOutcome": None,
    "FailedBeforeTrafficOutcome": None, "RejectedOutcome": None, "WriteReleaseReport": "writing the release report",
    "WriteReleaseReportSkipped": None, "AnnounceOutcome": None, "AnswerPipeline": None, "FreeLock": None,
    "HowItEnded": None,
}
BAKING_LINE_EVERY_MINUTES = 5
HISTORY_PAGE = 100  # GetExecutionHistory's default page
ACTION_WORDS = {"continue": "keep baking", "next_step": "shown safe, next step", "promote": "shown safe, promote",
                "rollback": "roll back"}


class ProgressPrinter:
    """Prints, in plain words, the states a release enters and what each task decided."""

    def __init__(self, sfn: Any, execution_arn: str, out: Callable[[str], None],
                 on_state: Callable[[str], None] | None = None) -> None:
        self._sfn = sfn
        self._arn = execution_arn
        self._out = out
        self._on_state = on_state
        self._seen = 0
        self._canary_began: Any = None  # simulated time the canary started (history timestamps)
        self._printed_minute = -BAKING_LINE_EVERY_MINUTES

    def poll(self) -> int:
        """Print what happened since the last poll; returns how many new history events there were.

        Reads only the new events: the newest first, page by page, down to the last one seen (event ids
        grow by one per event), so a long canary's history is not read again on every poll."""
        try:
            fresh = self._new_events()
        except Exception:  # noqa: BLE001 - progress is best effort
            return 0
        for event in fresh:
            kind = event["type"]
            self._at = event.get("timestamp")
            if kind.endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                if name == "StartCanary" and self._canary_began is None:
                    self._canary_began = self._at
                if self._on_state is not None:
                    self._on_state(name)
                label = STATE_LABELS.get(name, name)
                if label:
                    self._out(f"  -> {label}")
            elif kind == "TaskStateExited":
                details = event.get("stateExitedEventDetails", {})
                self._describe(details.get("name", ""), details.get("output", ""))
        return len(fresh)

    def _new_events(self) -> list[dict[str, Any]]:
        newest_first: list[dict[str, Any]] = []
        request: dict[str, Any] = {"executionArn": self._arn, "reverseOrder": True, "maxResults": HISTORY_PAGE}
        while True:
            page = self._sfn.get_execution_history(**request)
            for event in page["events"]:
                if int(event.get("id", 0)) <= self._seen:
                    break
                newest_first.append(event)
            else:
                if page.get("nextToken"):
                    request["nextToken"] = page["nextToken"]
                    continue
            break
        if newest_first:
            self._seen = int(newest_first[0].get("id", self._seen + len(newest_first)))
        return newest_first[::-1]

    def _canary_minute(self) -> int | None:
        """Simulated minutes since the canary started (the history is stamped with the simulated clock)."""
        try:
            return int((self._at - self._canary_began).total_seconds() // 60)
        except (TypeError, AttributeError):
            return None

    def _describe(self, state: str, output: str) -> None:
        try:
            data = json.loads(output)
        except (TypeError, json.JSONDecodeError):
            return
        if state in ("PromptRegression", "GuardrailSuite", "InjectionSuite", "SchemaContract",
                     "ReduceRegressionShards"):
            status = {"PASS": "passed", "BLOCK": "blocks the release", "SKIPPED": "skipped"}.get(
                str(data.get("status")), data.get("status"))
            self._out(f"     {str(data.get('gate')).replace('_', ' ')} {status}: {str(data.get('summary'))[:200]}")
        elif state == "QualityGate":
            q = data.get("quality", {})
            if q.get("decision") == "PASS":
                self._out("     quality gate passed: every requested gate ran and passed")
            else:
                self._out(f"     quality gate blocks the release: {', '.join(q.get('blocked_by') or [])} failed")
        elif state in ("StartCanary", "ShiftTraffic", "FullRollout"):
            self._out(f"     the candidate now receives {data.get('canary', {}).get('weight')}% of requests")
        elif state == "AnalyzeCanary":
            c = data.get("canary", {})
            minute = self._canary_minute()
            if c.get("action") == "continue" and minute is not None and \
                    minute - self._printed_minute < BAKING_LINE_EVERY_MINUTES:
                return  # one "keep baking" line every few simulated minutes is enough to follow it
            if minute is not None:
                self._printed_minute = minute
            reasons = "; ".join(c.get("last_reasons", [])[:1])
            action = ACTION_WORDS.get(str(c.get("action")), c.get("action"))
            when = f"canary minute {minute} " if minute is not None else "canary "
            self._out(f"     {when}at {c.get('weight')}%: {action} - {reasons[:240]}")
        elif state == "AnalyzeShadow":
            sh = data.get("shadow", {})
            self._out(f"     shadow look {sh.get('intervals')}: {sh.get('pairs')} pairs - "
                      f"{'; '.join(sh.get('last_reasons', [])[:1])[:240]}")
        elif state == "SendProbes":
            probes = data.get("canary", {}).get("probes", {})
            self._out(f"     probe requests sent so far: {probes.get('sent')}"
                      + (f" (stopped: {probes['stopped']})" if probes.get("stopped") else ""))
        elif state in ("Rollback", "SafetyRollback"):
            self._out(f"     rollback read back: the candidate receives {data.get('rollback', {}).get('weight')}% "
                      "of requests")


# How a release ended, from DescribeExecution: SUCCEEDED is a promotion; a failed execution names its end
# state's error (the ASL's Fail states: GateBlocked, CanaryRolledBack, InvalidInput, ApprovalRejected).
ERROR_OUTCOMES = {"GateBlocked": "blocked", "CanaryRolledBack": "rolled_back", "InvalidInput": "invalid",
                  "ApprovalRejected": "rejected"}


def outcome_of(described: dict[str, Any]) -> str:
    if described.get("status") == "SUCCEEDED":
        return "promoted"
    return ERROR_OUTCOMES.get(str(described.get("error") or ""), "failed")


def follow_execution(sfn: Any, arn: str, out: Callable[[str], None], pause: float, max_pause: float,
                     sleep: Callable[[float], None], watch: Callable[[], int] = lambda: 0) -> dict[str, Any]:
    """Print a release's progress until it ends and return its DescribeExecution. ``watch`` is polled too (new
    notifications, say) and returns how many things it reported; polls back off while nothing happens."""
    progress = ProgressPrinter(sfn, arn, out)
    wait = pause
    while True:
        described = sfn.describe_execution(executionArn=arn)
        changed = progress.poll() + watch()
        if described["status"] != "RUNNING":
            break
        wait = pause if changed else min(wait * 1.5, max_pause)
        sleep(wait)
    progress.poll()
    watch()
    return dict(described)
