"""What each command says to a person: the verdict in a sentence first, the evidence, what to do next.

``--json`` prints the structure instead (for machines; the same documents as before). Numbers are
rounded for people here and never in the JSON.
"""

from __future__ import annotations

import math
from typing import Any

OUTCOME_WORDS = {"promoted": "PROMOTED", "blocked": "BLOCKED", "rolled_back": "ROLLED BACK", "invalid": "REFUSED",
                 "rejected": "REJECTED", "failed": "FAILED"}


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def gate_compare(verdict: dict[str, Any]) -> list[str]:
    metrics = verdict["metrics"]
    decision = verdict["decision"]
    margin = metrics[0]["margin"] if metrics else 0.0
    cases = max((m["cases"] for m in metrics), default=0)
    where = (f"{_plural(cases, 'case')}, {verdict.get('format', 'score')} files, run {verdict.get('run', 1)}, "
             f"alpha {verdict['alpha']:.3g}")
    if decision == "pass":
        head = (f"PASS: the candidate is shown no worse than the baseline by more than {margin:g} on "
                f"{_plural(len(metrics), 'metric')} ({where}).")
        step = "Next: nothing to do; --json prints the full verdict."
    elif decision == "block":
        names = [m["metric"] for m in metrics if m["decision"] == "block"]
        head = f"BLOCK: {', '.join(names)} {'is' if len(names) == 1 else 'are'} shown worse ({where})."
        step = ("Next: look at the cases the candidate lost; comparing this candidate again spends less alpha "
                "(--previous-runs).")
    else:
        names = [m["metric"] for m in metrics if m["decision"] != "pass"]
        needed = max((m.get("cases_needed") or 0 for m in metrics), default=0)
        head = (f"INCONCLUSIVE: {', '.join(names)} not yet shown within the margin {margin:g} ({where}); a pass "
                "needs evidence, and this is not enough.")
        step = (f"Next: add cases (about {needed} in all) or repeats, then compare again with --previous-runs "
                f"{verdict.get('run', 1)}." if needed else "Next: add cases or repeats, then compare again.")
    lines = [head]
    for m in metrics:
        lines.append(f"  {m['metric']}: {m['decision']}; candidate {_num(m['candidate_mean'])} vs baseline "
                     f"{_num(m['baseline_mean'])}, difference {m['difference']:+.3f}, lower bound "
                     f"{m['lower_bound']:+.3f} (must be above -{m['margin']:g})")
        if m["decision"] != "pass":
            lines.append(f"    {m['reason']}")
    return [*lines, step]


def canary_judge(result: dict[str, Any]) -> list[str]:
    final = result["final"]
    action, outcome = final["action"], final.get("outcome", "")
    at = final.get("at_interval")
    decided = f", decided on {final['decided_on']}" if final.get("decided_on") else ""
    words = {"promote": "PROMOTE", "rollback": "ROLL BACK", "continue": "NO DECISION YET"}.get(action, action.upper())
    head = f"{words}: {outcome.replace('_', ' ')} after {_plural(at or 0, 'interval')}{decided}."
    lines = [head]
    for name, m in (final.get("metrics") or {}).items():
        ratio = ("" if m.get("estimate") is None else
                 f"; {m['estimate']:.2f} times the baseline (could be {_num(m.get('lower'), 2)} to "
                 f"{_num(m.get('upper'), 2)})")
        lines.append(f"  {name}: {m.get('status')}; canary {m.get('canary')} vs baseline {m.get('baseline')}{ratio}")
    lines += [f"  why: {reason}" for reason in final.get("reasons") or []]
    steps = {"promote": "Next: the plan would promote this canary.",
             "rollback": "Next: the plan would roll this canary back; look at the deciding metric above.",
             "continue": "Next: the stream ended before a decision; a longer stream (or more traffic) decides."}
    return [*lines, steps.get(action, "Next: --json prints every interval's decision.")]


def canary_plan(result: dict[str, Any], sentence: str) -> list[str]:
    lines = [f"PLAN: {sentence[0].upper()}{sentence[1:]}."]
    for step in result["steps"]:
        rollback = ", ".join(f"{metric} in {_minutes(t)}" for metric, t in step["minutes_to_rollback"].items())
        lines.append(f"  step {step['weight']:g}%: {step['canary_requests_per_minute']:.0f} canary requests a minute; "
                     f"shown safe in {_minutes(step['minutes_to_shown_safe'])} (90% within "
                     f"{_minutes(step['minutes_to_shown_safe_p90'])}); a regression rolled back: {rollback}"
                     + ("" if step["fits"] else f"; does NOT fit the step's intervals: about "
                        f"{step['share_not_shown_safe']:.0%} of harmless canaries would end not shown safe"))
    return [*lines, "Next: --json prints the estimate for machines; canary judge replays a recorded stream."]


def release(result: dict[str, Any]) -> list[str]:
    outcome = result["outcome"]
    by = f" by {result['blocked_by']}" if result.get("blocked_by") else ""
    decided = f", decided on {result['decided_on']}" if result.get("decided_on") else ""
    error = f" ({result['error']})" if result.get("error") and outcome not in ("blocked", "rolled_back") else ""
    lines = [f"{OUTCOME_WORDS.get(outcome, outcome.upper())}: release {result['scenario']}{by}{decided}{error}; the "
             f"candidate ends with {result['final_candidate_weight']:g}% of traffic.",
             f"  {result['notifications']} notifications, {result['ledger_entries']} ledger entries (chain "
             f"{'verified' if result.get('ledger_verified') else 'NOT verified'}), "
             f"{result['simulated_seconds'] / 60:.0f} simulated min in {result['seconds']:.0f} s"]
    if result.get("report"):
        lines.append(f"  report: {result['report']}")
    return [*lines, "Next: open the report for the evidence; --json prints this summary for machines."]


def deployed_release(name: str, outcome: str, error: str | None, cause: str | None, report: str | None
                     ) -> list[str]:
    """A release on a deployed stack, from its execution's end (DescribeExecution) and its report's place."""
    from genai_cicd.errors import domain_message

    why = f" ({domain_message(cause or error, 300)})" if error and outcome not in ("promoted",) else ""
    lines = [f"{OUTCOME_WORDS.get(outcome, outcome.upper())}: release {name} on the deployed stack{why}."]
    if report:
        lines.append(f"  report: {report}")
    return [*lines, "Next: the report has the evidence; the SNS topic and the ledger have every transition."]


def _minutes(m: float) -> str:
    return "never" if math.isinf(m) else f"about {m:.0f} min" if m >= 1 else "under a minute"
