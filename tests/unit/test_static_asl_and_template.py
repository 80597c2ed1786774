"""Static checks: the ASL lints, waits have timeouts, templates lint, every function has events."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from genai_cicd_local.embedded.provision import load_template

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachines" / "release.asl.json"
TEMPLATE = load_template(ROOT / "template.yaml")
MACHINE = TEMPLATE["Resources"]["ReleaseStateMachine"]["Properties"]


def all_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            found.update(all_states(branch["States"]))
        if "ItemProcessor" in state:
            found.update(all_states(state["ItemProcessor"]["States"]))
    return found


DEFINITION = json.loads(ASL.read_text())
STATES = all_states(DEFINITION["States"])


def substituted() -> str:
    text = ASL.read_text()
    for key in MACHINE["DefinitionSubstitutions"]:
        text = text.replace("${" + key + "}", f"arn:aws:lambda:us-east-1:123456789012:function:{key}")
    return text


def test_every_substitution_in_the_asl_is_provided_by_the_template() -> None:
    used = set(re.findall(r"\$\{(\w+)\}", ASL.read_text()))
    assert used == set(MACHINE["DefinitionSubstitutions"])


def test_substituted_asl_passes_statelint(tmp_path: Path) -> None:
    exe = shutil.which("statelint", path=str(Path(sys.executable).parent))
    assert exe, "statelint is a dev dependency"
    target = tmp_path / "release.json"
    definition = json.loads(substituted())
    # statelint 3.1 predates ItemReader.ReaderConfig (required by AWS to read a JSON array from S3).
    branch = next(b for b in definition["States"]["Gates"]["Branches"] if "RegressionShards" in b["States"])
    assert branch["States"]["RegressionShards"]["ItemReader"].pop("ReaderConfig") == {"InputType": "JSON"}
    target.write_text(json.dumps(definition))
    result = subprocess.run([exe, str(target)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_statelint_catches_a_broken_definition(tmp_path: Path) -> None:
    exe = shutil.which("statelint", path=str(Path(sys.executable).parent))
    assert exe
    broken = json.loads(substituted())
    broken["States"]["AcquireLock"]["Next"] = "NoSuchState"
    target = tmp_path / "broken.json"
    target.write_text(json.dumps(broken))
    assert subprocess.run([exe, str(target)], capture_output=True, check=False).returncode != 0


def test_jsonpath_only() -> None:
    text = ASL.read_text()
    assert "JSONata" not in text and '"Assign"' not in text


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if s["Type"] == "Task"])
def test_every_task_has_a_timeout_and_retries_only_transient_errors(name: str) -> None:
    state = STATES[name]
    assert "TimeoutSeconds" in state or "TimeoutSecondsPath" in state
    for retrier in state.get("Retry", []):
        if name in ("Rollback", "SafetyRollback", "FreeLock"):
            continue  # rollback must complete (then escalates); releasing the lock is idempotent
        assert not {"States.ALL", "States.TaskFailed"} & set(retrier["ErrorEquals"]), name


def test_after_traffic_moved_every_task_catches_to_a_rollback() -> None:
    for name in ("StartCanary", "AnalyzeCanary", "ShiftTraffic", "FullRollout"):
        targets = {c["Next"] for c in STATES[name]["Catch"] if "States.ALL" in c["ErrorEquals"]}
        assert targets == {"SafetyRollback"}, name


def test_every_wait_loop_is_bounded() -> None:
    # WaitForLook loops end by the judge's max_intervals_per_step; the evaluation poll by max_polls;
    # the whole execution by the machine timeout.
    assert DEFINITION["TimeoutSeconds"] <= 7 * 86400


@pytest.mark.parametrize("template", ["template.yaml", "examples/support_bot/template.yaml"])
def test_cfn_lint_is_clean(template: str) -> None:
    exe = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert exe
    result = subprocess.run([exe, str(ROOT / template)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_every_function_has_code_and_at_least_one_event_file() -> None:
    for logical, resource in TEMPLATE["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        folder = ROOT / resource["Properties"]["CodeUri"]
        assert (folder / "app.py").is_file(), logical
        assert list((ROOT / "events" / folder.name).glob("*.json")), f"no events/{folder.name}/*.json"


def test_star_resources_are_justified_in_a_comment() -> None:
    lines = (ROOT / "template.yaml").read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if re.search(r'Resource:\s*"\*"', line):
            assert "#" in line, f"template.yaml:{number}: '*' resource without a reason"


def test_published_json_schemas_match_the_models() -> None:
    from genai_cicd_local.cli.main import schema_models

    for name, model in schema_models().items():
        published = json.loads((ROOT / "docs" / "schemas" / f"{name}.schema.json").read_text())
        assert published == model.model_json_schema(by_alias=True), f"regenerate docs/schemas/{name}"


def test_the_layers_requirements_together_are_the_runtime_dependencies_each_in_one_layer() -> None:
    import tomllib

    def pins(path: Path) -> set[str]:
        return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    core, stats = pins(ROOT / "shared" / "requirements.txt"), pins(ROOT / "shared" / "stats_layer" / "requirements.txt")
    assert core | stats == declared
    assert not core & stats
    assert not any(p.startswith(("numpy", "rouge-score")) for p in core)


def test_pipeline_kit_template_is_cfn_lint_clean() -> None:
    exe = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert exe
    result = subprocess.run([exe, str(ROOT / "examples" / "pipeline" / "pipeline.yaml")], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_the_stacks_canary_defaults_are_the_models_defaults() -> None:
    """One set of defaults: a deployed stack, `genai-cicd canary judge` without --plan and bench/ agree."""
    from genai_cicd.models.manifest import CanaryPlan

    params = {k: v.get("Default") for k, v in TEMPLATE["Parameters"].items()}
    value = TEMPLATE["Resources"]["DefaultsParameter"]["Properties"]["Value"]
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    for key, default in params.items():
        text = text.replace("${" + key + "}", str(default))
    canary = json.loads(text)["canary"]
    model = CanaryPlan()
    assert canary, "the stack sets no canary defaults"
    for field, stack_value in canary.items():
        assert getattr(model, field) == stack_value, field


def _function_timeouts() -> dict[str, int]:
    default = TEMPLATE["Globals"]["Function"]["Timeout"]
    return {name: int(res["Properties"].get("Timeout", default)) for name, res in TEMPLATE["Resources"].items()
            if res["Type"] == "AWS::Serverless::Function"}


def test_every_lambda_task_waits_at_least_as_long_as_its_function_may_run() -> None:
    """A state that times out first abandons a function still working (and retries it next to itself)."""
    timeouts = _function_timeouts()
    for name, state in STATES.items():
        found = re.match(r"\$\{(\w+)Arn\}", state.get("Resource", "")) if state["Type"] == "Task" else None
        if found:
            assert state["TimeoutSeconds"] >= timeouts[found.group(1)], (name, timeouts[found.group(1)])


def _compared(rule: dict[str, Any]) -> set[str]:
    if "And" in rule or "Or" in rule:
        return set().union(*(_compared(r) for r in rule.get("And", rule.get("Or", []))))
    if "Not" in rule:
        return _compared(rule["Not"])
    return {rule["Variable"]} if "IsPresent" not in rule else set()


def _guarded(rule: dict[str, Any]) -> set[str]:
    return {r["Variable"] for r in rule.get("And", []) if r.get("IsPresent") is True}


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if s["Type"] == "Choice"])
def test_every_choice_guards_its_fields_with_is_present(name: str) -> None:
    """A Choice that reads a missing field fails the execution with States.Runtime, which no Catch handles."""
    absent_handled: set[str] = set()
    for rule in STATES[name]["Choices"]:
        negated = rule.get("Not", {})
        if negated.get("IsPresent") is True and set(negated) == {"Variable", "IsPresent"}:
            absent_handled.add(negated["Variable"])
            continue
        unguarded = _compared(rule) - _guarded(rule) - absent_handled
        assert not unguarded, (name, unguarded)


def test_the_history_model_matches_the_loops_in_the_asl() -> None:
    from genai_cicd.models import limits

    assert STATES["WaitForLook"]["Next"] == "AnalyzeCanary" and STATES["AnalyzeCanary"]["Next"] == "CanaryDecision"
    assert {"ProbesNeeded?", "ShiftTraffic"} <= {c["Next"] for c in STATES["CanaryDecision"]["Choices"]}
    assert STATES["ShiftTraffic"]["Next"] == "NotifyCanaryStep"
    assert STATES["NotifyCanaryStep"]["Next"] == "ProbesNeeded?"
    assert STATES["ProbesNeeded?"]["Default"] == "WaitForLook"
    assert [c["Next"] for c in STATES["ProbesNeeded?"]["Choices"]] == [limits.PROBE_STATE]
    assert STATES[limits.PROBE_STATE]["Next"] == "WaitForLook"
    assert STATES["WaitForEvaluation"]["Next"] == "PollEvaluationJobs"
    assert STATES["PollEvaluationJobs"]["Next"] == "EvaluationDone?"
    def events(names: tuple[str, ...]) -> int:
        return sum(limits.EVENTS_PER_VISIT[STATES[n]["Type"]] for n in names)

    assert events(limits.CANARY_LOOP) == limits.CANARY_PASS_EVENTS
    assert events(limits.STEP_CHANGE) == limits.STEP_EVENTS
    assert events(limits.EVALUATION_LOOP) == limits.POLL_EVENTS
    assert events((limits.PROBE_STATE,)) == limits.PROBE_EVENTS
    # Every other state visited once, each Lambda task retried up to 4 times (4 events per retry).
    looped = set(limits.CANARY_LOOP + limits.STEP_CHANGE + limits.EVALUATION_LOOP + (limits.PROBE_STATE,))
    once = sum(limits.EVENTS_PER_VISIT.get(s["Type"], 4) + (16 if s["Type"] == "Task" else 0)
               for n, s in STATES.items() if n not in looped)
    assert once <= limits.FIXED_EVENTS, once


def test_a_plan_that_could_overflow_the_execution_history_is_refused() -> None:
    from genai_cicd.models.limits import HISTORY_LIMIT, history_problem, worst_case_history
    from genai_cicd.models.manifest import parse_manifest
    from tests.utils import sample_manifest

    data = sample_manifest("good-prompt")
    assert history_problem(parse_manifest(data)) is None
    data["canary"] = {**data["canary"], "steps": [1, 2, 5, 10, 25, 50], "max_intervals_per_step": 500}
    manifest = parse_manifest(data)
    assert worst_case_history(manifest) > HISTORY_LIMIT
    problem = history_problem(manifest)
    assert problem is not None and "25,000" in problem


TRAFFIC_ACTIONS = {"lambda:UpdateAlias", "codedeploy:CreateDeployment", "codedeploy:StopDeployment",
                   "appconfig:StartDeployment", "appconfig:StopDeployment"}


def _statements(policies: list[Any]) -> list[dict[str, Any]]:
    found = []
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


def test_no_traffic_moving_action_has_an_unconditioned_wildcard() -> None:
    """Moving traffic on "any function" would let one team's manifest shift another team's traffic."""
    checked = wildcards = 0
    for name, res in TEMPLATE["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for statement in _statements(res["Properties"].get("Policies") or []):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if not TRAFFIC_ACTIONS & set(actions):
                continue
            checked += 1
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            text = [r.get("Fn::Sub", r) if isinstance(r, dict) else r for r in resources]
            wildcard = [r for r in text if isinstance(r, str) and r.endswith(":*")]
            if wildcard:
                wildcards += 1
                condition = json.dumps(statement.get("Condition") or {})
                assert "aws:ResourceTag/genai-cicd:app" in condition, (name, actions, wildcard)
    assert checked >= 4 and wildcards >= 3


def test_every_outcome_that_holds_the_lock_settles_through_one_sequence() -> None:
    """Blocked, promoted, rolled back, failed and rejected all end WriteReleaseReport -> AnnounceOutcome ->
    AnswerPipeline -> FreeLock -> HowItEnded; each outcome state only says what to report."""
    outcomes = {n: s for n, s in STATES.items() if n.endswith("Outcome") and s["Type"] == "Pass"}
    assert {s["Parameters"]["outcome"] for s in outcomes.values()} == {"blocked", "promoted", "rolled_back", "failed",
                                                                        "rejected"}
    for name, state in outcomes.items():
        assert state["ResultPath"] == "$.settle" and state["Next"] == "WriteReleaseReport"
        assert set(state["Parameters"]) >= {"outcome", "detail"}, name
    chain, name = [], "WriteReleaseReport"
    while STATES[name]["Type"] == "Task":
        chain.append(name)
        assert {c["Next"] for c in STATES[name]["Catch"]} <= {STATES[name]["Next"], "WriteReleaseReportSkipped"}
        name = STATES[name]["Next"]
    assert chain == ["WriteReleaseReport", "AnnounceOutcome", "AnswerPipeline", "FreeLock"] and name == "HowItEnded"
    ends = {c["Next"] for c in STATES["HowItEnded"]["Choices"]} | {STATES["HowItEnded"]["Default"]}
    assert ends == {"Promoted", "GateBlocked", "RolledBack", "Rejected", "ReleaseFailed", "ApprovalUnanswered"}
    # an approval left unanswered (AnswerPipeline's retries spent) fails the execution, whatever the outcome:
    # ReconcileRelease then answers it; it is the first choice, so no outcome can end SUCCEEDED without it
    first = STATES["HowItEnded"]["Choices"][0]
    assert first == {"Variable": "$.report_error", "IsPresent": True, "Next": "ApprovalUnanswered"}
    assert STATES["ApprovalUnanswered"]["Type"] == "Fail"
    assert {"TransientAwsError"} <= set(STATES["AnswerPipeline"]["Retry"][0]["ErrorEquals"])
    # nothing else frees the lock: the paths that never held it (Locked) or must keep it (FailedRollback) don't
    unlocks = [n for n, s in STATES.items() if s.get("Resource") == "${ReleaseLockFunctionArn}"
               and s["Parameters"].get("action") == "release"]
    assert unlocks == ["FreeLock"]
    # and every way into an end state that held the lock goes through an outcome state
    for n, s in STATES.items():
        if n not in outcomes and n != "HowItEnded":
            targets = {s.get("Next"), s.get("Default")} | {c["Next"] for c in s.get("Catch", []) + s.get("Choices", [])}
            assert not targets & {"Promoted", "GateBlocked", "RolledBack", "Rejected", "WriteReleaseReport"}, n
