"""Step Functions quotas a manifest must fit: the execution history's 25,000 events.

A standard workflow fails (uncatchably) once its history reaches 25,000 events
(Step Functions quotas, "Maximum execution history size"). The release's
history grows with the canary loop (ProbesNeeded?, WaitForLook, AnalyzeCanary,
CanaryDecision per interval, and SendProbes with probes), the steps
(ShiftTraffic and NotifyCanaryStep per step) and the Bedrock evaluation poll
(WaitForEvaluation, PollEvaluationJobs, EvaluationDone? per poll). LoadManifest
refuses a plan whose worst case does not fit, before anything is locked or
moved. Events per visit: a Lambda task 5 (StateEntered, LambdaFunctionScheduled,
Started, Succeeded, StateExited); a Wait or Choice 2.
tests/unit/test_static_asl_and_template.py checks these loops against the ASL.
"""

from __future__ import annotations

from genai_cicd.models.manifest import ReleaseManifest

HISTORY_LIMIT = 25_000
EVENTS_PER_VISIT = {"Task": 5, "Wait": 2, "Choice": 2, "Pass": 2}
CANARY_LOOP = ("ProbesNeeded?", "WaitForLook", "AnalyzeCanary", "CanaryDecision")
PROBE_STATE = "SendProbes"
STEP_CHANGE = ("ShiftTraffic", "NotifyCanaryStep")
EVALUATION_LOOP = ("WaitForEvaluation", "PollEvaluationJobs", "EvaluationDone?")
# Everything outside the loops, visited once, with room for retries (each retry adds 3 to 4 events).
FIXED_EVENTS = 1_500

CANARY_PASS_EVENTS = 2 + 2 + 5 + 2  # ProbesNeeded? (Choice), WaitForLook (Wait), AnalyzeCanary (Task), CanaryDecision
PROBE_EVENTS = 5  # SendProbes (Task), in each pass when the manifest has probes
STEP_EVENTS = 5 + 5  # ShiftTraffic, NotifyCanaryStep (Tasks)
POLL_EVENTS = 2 + 5 + 2  # WaitForEvaluation, PollEvaluationJobs, EvaluationDone?


def worst_case_history(manifest: ReleaseManifest) -> int:
    plan = manifest.canary
    steps = len(plan.steps) + 1  # the last step is followed by the full rollout
    per_pass = CANARY_PASS_EVENTS + (PROBE_EVENTS if plan.probes is not None else 0)
    events = FIXED_EVENTS + steps * STEP_EVENTS + len(plan.steps) * plan.max_intervals_per_step * per_pass
    if manifest.gates.bedrock_evaluation is not None:
        events += manifest.gates.bedrock_evaluation.max_polls * POLL_EVENTS
    return events


def history_problem(manifest: ReleaseManifest) -> str | None:
    events = worst_case_history(manifest)
    if events <= HISTORY_LIMIT:
        return None
    plan = manifest.canary
    return (f"canary: {len(plan.steps)} steps x max_intervals_per_step {plan.max_intervals_per_step} (plus the "
            f"Bedrock evaluation's max_polls) could write {events:,} execution history events, over Step "
            f"Functions' {HISTORY_LIMIT:,}: use fewer steps, fewer looks per step or a longer metric_period_seconds")
