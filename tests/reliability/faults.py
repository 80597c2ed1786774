"""A fault at every AWS call the release makes, one at a time: the release ends clean, traffic where it belongs.

The calls are discovered, not listed: a clean release and a release forced down
the rollback path are run first, and every (function, service:Operation) pair
they made is then made to fail in its own release, with throttling, a 5xx,
access denied or a timeout in turn. Afterwards: the execution has ended, the
candidate weight (read back from AppConfig) is 100 only if the ledger's last
outcome is ``promoted`` and 0 otherwise, the lock is free and the ledger's hash
chain verifies. The figures go to reports/reliability/faults-<half>.json.

The discovered calls are split in two halves, one per test file (test_faults_at_every_call.py and
test_faults_at_every_call_second_half.py), so `make test`'s two workers share them: every call is
still made to fail once, and each file discovers the calls on its own stack first.
"""


from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import flag_documents, ledger_events, lock_holder, quiesce
from tests.utils import QUICK_CANARY, ROOT, manifest_file

KINDS = [("ThrottlingException", 400), ("InternalServerError", 500), ("AccessDeniedException", 403),
         ("Timeout", 0)]
OUTCOMES = {"promoted", "failed", "blocked", "rolled_back"}
# Forces the rollback path: AnalyzeCanary cannot read CloudWatch.
BREAK_CANARY = ("cloudwatch:GetMetricData", "AnalyzeCanary")
HALVES = 2


def control_plane_calls(aws: EmbeddedAWS) -> set[tuple[str, str]]:
    functions = {spec.name: logical for logical, spec in aws.control_plane.functions.items()}
    return {(functions[caller], op) for (caller, op) in aws.backend.calls_by_caller if caller in functions}


# App traffic during the canary: the quick canary (slow_requests only, negligible 0.9) needs a handful of
# requests, and the demo's 20 requests/s would only take CPU from the test files running beside this one.
TRAFFIC_RATE = 8.0


def run_release(aws: EmbeddedAWS, runner: LocalReleaseRunner, path: Path, name: str) -> dict[str, Any]:
    try:
        # No warm-up: these releases test where traffic ends up after a fault, not the planner's estimate
        # (which then says "no baseline traffic"; StartCanary still makes its CloudWatch read).
        result = runner.run(path, name=name, traffic_rate=TRAFFIC_RATE, warmup=0)
    finally:
        aws.backend.clear_failures()
    quiesce(aws)
    return result


def inject(aws: EmbeddedAWS, operation: str, caller: str, kind: tuple[str, int]) -> None:
    # Three in a row: one call's worth of botocore retries (standard mode, 3 attempts).
    aws.backend.inject_failure(operation, kind[0], "injected by the reliability suite", kind[1], times=3,
                               caller=caller)


@pytest.fixture(scope="module")
def discovered(aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, list[tuple[str, str]], set[tuple[str, str]]]:
    """The manifest, every (function, call) of a clean and a rolled-back release, and the rollback-only ones."""
    path = manifest_file(tmp_path_factory.mktemp("faults"), "good-prompt",
                         gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={**QUICK_CANARY, "steps": [25, 50]})
    aws.backend.calls_by_caller.clear()
    assert run_release(aws, runner, path, "faults-discover-ok")["outcome"] == "promoted"
    happy = control_plane_calls(aws)
    aws.backend.calls_by_caller.clear()
    inject(aws, BREAK_CANARY[0], BREAK_CANARY[1], ("AccessDeniedException", 403))
    assert run_release(aws, runner, path, "faults-discover-rollback")["outcome"] == "failed"
    rollback_path = control_plane_calls(aws) - happy
    cases = sorted(happy) + sorted(rollback_path)
    assert len(cases) >= 25, cases
    return path, cases, rollback_path


def fault_each_call(aws: EmbeddedAWS, runner: LocalReleaseRunner,
                    discovered: tuple[Path, list[tuple[str, str]], set[tuple[str, str]]], shard: int) -> None:
    """Make each discovered call of this half fail in its own release, and check how each release ended."""
    path, cases, rollback_path = discovered
    records, problems = [], []
    for i, (function, operation) in enumerate(cases):
        if i % HALVES != shard:
            continue
        kind = KINDS[i % len(KINDS)]
        name = f"fault-{i:02d}"
        fired_before = len(aws.backend.fault_log)
        if (function, operation) in rollback_path:
            inject(aws, BREAK_CANARY[0], BREAK_CANARY[1], ("AccessDeniedException", 403))
        aws.cold_start()  # cached parameters would hide the calls a cold start makes
        inject(aws, operation, function, kind)
        result = run_release(aws, runner, path, name)
        fired = [f for f in aws.backend.fault_log[fired_before:] if f["operation"] == operation]
        events, chain = ledger_events(aws, name)
        outcome = next((e for e in reversed(events) if e in OUTCOMES), None)
        docs = [d for d in flag_documents(aws) if d["release_id"] == name]
        moved_before_fault = bool(fired) and any(
            d["candidate_weight"] > 0 and d["seq"] < fired[0]["seq"] for d in docs)
        weight = runner.flag_weight()
        back_on_baseline = [d["started"] for d in docs if d["candidate_weight"] == 0.0]
        record = {"function": function, "operation": operation, "fault": kind[0], "fired": len(fired),
                  "outcome": result["outcome"], "ledger_outcome": outcome, "weight": weight,
                  "traffic_had_moved": moved_before_fault, "lock": lock_holder(aws), "chain_ok": not chain,
                  "seconds_to_baseline": round(back_on_baseline[-1] - fired[0]["at"], 2)
                  if moved_before_fault and back_on_baseline else None}
        records.append(record)
        expected_weight = 100.0 if outcome == "promoted" else 0.0
        if not (fired and result["outcome"] in OUTCOMES and outcome is not None and weight == expected_weight
                and record["lock"] is None and record["chain_ok"]):
            problems.append(record)
        # Failed before traffic moved: traffic never left the baseline.
        if outcome != "promoted" and not moved_before_fault and fired and any(
                d["candidate_weight"] > 0 and d["seq"] > fired[0]["seq"] for d in docs):
            problems.append({**record, "problem": "traffic moved after a failure before the canary"})
    write_report(records, shard)
    assert records and not problems, json.dumps(problems, indent=1)


def write_report(records: list[dict[str, Any]], shard: int) -> None:
    out = ROOT / "reports" / "reliability"
    out.mkdir(parents=True, exist_ok=True)
    times = [r["seconds_to_baseline"] for r in records if r["seconds_to_baseline"] is not None]
    summary = {"cases": len(records), "after_traffic_moved": len(times),
               "outcomes": {o: sum(r["outcome"] == o for r in records) for o in sorted(OUTCOMES)},
               "seconds_to_baseline_median": statistics.median(times) if times else None,
               "seconds_to_baseline_max": max(times) if times else None, "records": records}
    (out / f"faults-{shard}.json").write_text(json.dumps(summary, indent=1))
