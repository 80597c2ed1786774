"""genai-cicd command line.

Exit codes: 0 pass / promote / ok, 1 block / rollback / failed release, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genai_cicd.errors import InvalidInput
from genai_cicd.gates.eval_formats import FORMATS
from genai_cicd.models import aws_ids
from genai_cicd.models.dataset import MAX_DATASET_BYTES
from genai_cicd_local.cli import words

MAX_EVENT_BYTES = 6 * 1024 * 1024  # the payload limit of a synchronous Lambda invocation

# (scenario, expected outcome, user requests per second, live traffic file under the sample's data/)
DEMO_SCENARIOS = [
    ("good-prompt", "promoted", 20.0, "traffic.jsonl"),
    ("quality-regression", "blocked", 20.0, "traffic.jsonl"),
    ("injection-regression", "blocked", 20.0, "traffic.jsonl"),
    ("slow-model", "rolled_back", 20.0, "traffic.jsonl"),
    ("live-quality-regression", "blocked", 20.0, "traffic-teams.jsonl"),
    ("low-traffic-probes", "promoted", 0.5, "traffic.jsonl"),
]


def find_root(start: Path | None = None) -> Path:
    for candidate in [start or Path.cwd(), *(start or Path.cwd()).parents, Path(__file__).resolve().parents[3]]:
        if (candidate / "template.yaml").is_file() and (candidate / "statemachines").is_dir():
            return candidate
    raise InvalidInput("cannot find the genai-cicd project root (template.yaml); use --root")


def _print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, sort_keys=True, default=str))


def _report_files(args: argparse.Namespace, lines: list[str], checks: list[Any], suite: str,
                  extra_markdown: str = "", junit: bool = True) -> None:
    """--summary: append the verdict in words (and the report's Markdown) to a Markdown file, such as a GitHub
    Actions job summary; --junit: one JUnit test case per metric, gate or check."""
    if getattr(args, "summary", None):
        from genai_cicd_local.cli.github import summary_markdown

        with Path(args.summary).open("a", encoding="utf-8") as out:
            out.write(summary_markdown(lines, extra_markdown))
    if junit and getattr(args, "junit", None):
        from genai_cicd_local.cli.bundle import junit_xml

        junit_xml(checks, Path(args.junit), suite)


def _emit(args: argparse.Namespace, doc: Any, lines: list[str]) -> None:
    """The verdict in words first (cli/words.py), or the structure with --json."""
    if getattr(args, "json", False):
        _print_json(doc)
    else:
        print("\n".join(lines))


def cmd_demo(args: argparse.Namespace) -> int:
    from genai_cicd_local.embedded.aws_session import EmbeddedAWS
    from genai_cicd_local.runner import LocalReleaseRunner

    root = args.root or find_root()
    started = time.monotonic()
    out: Callable[[str], None] = (lambda _: None) if args.json else print
    if args.lanes > 1:
        from genai_cicd_local.cli.demo_lanes import run_in_lanes

        releases = run_in_lanes(root, args.seed, out, quiet=args.quiet or args.json)
        summary = write_summary(root, releases, started, out)
    else:
        with EmbeddedAWS(root, seed=args.seed) as aws:
            runner = LocalReleaseRunner(aws, out=out if not args.quiet else (lambda _: None))
            summary = run_demo(runner, root, out)
    if args.json:
        _print_json(summary)
    return 0 if all(r["outcome"] == r["expected"] for r in summary["releases"]) else 1


def run_demo(runner: Any, root: Path, out: Callable[[str], None] = print) -> dict[str, Any]:
    """The six demo releases through ``runner`` (DEMO_SCENARIOS) in order, the summary written to
    reports/demo-summary.json and returned. tests/e2e/test_demo_releases.py runs this too."""
    started = time.monotonic()
    releases = [run_scenario(runner, root, scenario, out) for scenario in DEMO_SCENARIOS]
    return write_summary(root, releases, started, out)


def run_scenario(runner: Any, root: Path, scenario: tuple[str, str, float, str], out: Callable[[str], None]
                 ) -> dict[str, Any]:
    """One demo release through ``runner``, announced before and after."""
    from genai_cicd_local.runner import SAMPLE

    name, expected, rate, traffic = scenario
    out(f"\n=== {name} (expected: {expected}; live traffic {rate:g} requests/s) ===")
    result = runner.run(root / SAMPLE / "manifests" / f"{name}.yaml", name=f"demo-{name}",
                        started_by="demo", traffic_rate=rate, traffic_file=traffic)
    result["scenario"] = name
    result["expected"] = expected
    out(f"=== {name}: {result['outcome']}" + (f" by {result['blocked_by']}" if result["blocked_by"] else "")
        + f", candidate weight {result['final_candidate_weight']}%, {result['notifications']} "
          f"notifications, {result['ledger_entries']} ledger entries, "
          f"{result['simulated_seconds'] / 60:.0f} simulated min in {result['seconds']} s")
    return result


def write_summary(root: Path, releases: list[dict[str, Any]], started: float, out: Callable[[str], None]
                  ) -> dict[str, Any]:
    """reports/demo-summary.json, the report index over every release, and the table."""
    from genai_cicd.logic.report_index import local_index

    summary = {"releases": releases, "total_seconds": round(time.monotonic() - started, 2)}
    path = root / "reports" / "demo-summary.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if (root / "reports" / "releases").is_dir():
        (root / "reports" / "index.html").write_text(local_index(str(root / "reports" / "releases")),
                                                     encoding="utf-8")
    out(f"\n{'scenario':24} {'expected':12} {'outcome':12} {'blocked_by':18} {'decided_on':15} probes "
        "weight  sim min  seconds")
    for r in releases:
        out(f"{r['scenario']:24} {r['expected']:12} {r['outcome']:12} {str(r['blocked_by']):18} "
            f"{str(r['decided_on']):15} {r['probe_requests']:6d} {r['final_candidate_weight']:6.1f}  "
            f"{r['simulated_seconds'] / 60:7.1f}  {r['seconds']:7.2f}")
    out(f"summary written to {path} ({summary['total_seconds']:.0f} s)")
    return summary


def cmd_release(args: argparse.Namespace) -> int:
    from genai_cicd.models.manifest import load_manifest_file
    from genai_cicd_local.cli.upload import upload_manifest_artifacts

    load_manifest_file(Path(args.manifest))  # bad input fails here, before any AWS client exists
    if args.state_machine_arn:
        import boto3

        if not args.bucket:
            raise InvalidInput("--state-machine-arn needs --bucket (the stack's ArtifactBucketName)")
        manifest = upload_manifest_artifacts(Path(args.manifest), boto3.client("s3"), args.bucket)
        sfn = boto3.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=args.state_machine_arn, name=args.name or f"cli-{int(time.time())}",
                                  input=json.dumps({"manifest": manifest, "started_by": args.started_by}))[
            "executionArn"]
        if not args.wait:
            _emit(args, {"execution_arn": arn}, [
                f"STARTED: release {arn.rsplit(':', 1)[-1]} on the deployed stack.", f"  execution: {arn}",
                "Next: follow it in the Step Functions console (or add --wait); its report and notifications "
                "say how it ended."])
            return 0
        return wait_for_release(args, sfn, boto3.client("s3"), arn)
    from genai_cicd_local.embedded.aws_session import EmbeddedAWS
    from genai_cicd_local.runner import LocalReleaseRunner

    root = args.root or find_root()
    with EmbeddedAWS(root, seed=args.seed) as aws:
        # Progress goes to standard error as the release runs; standard output starts with the verdict.
        result = LocalReleaseRunner(aws, out=lambda line: print(line, file=sys.stderr)).run(
            Path(args.manifest).resolve(), name=args.name, started_by=args.started_by)
    said = words.release(result)
    _emit(args, result, said)
    _report_files(args, said, release_checks(result), "genai-cicd release", _report_markdown(result))
    return 0 if result["outcome"] == "promoted" else 1


def cmd_github_comment(args: argparse.Namespace) -> int:
    from genai_cicd_local.cli.github import cmd_github_comment as comment

    print(f"OK: pull-request comment {comment(args.body_file)}.")
    return 0


def wait_for_release(args: argparse.Namespace, sfn: Any, s3: Any, arn: str) -> int:
    """--wait: print the deployed release's progress (to stderr) until it ends, then its verdict and report."""
    from genai_cicd import s3_keys
    from genai_cicd_local.cli.bundle import Check
    from genai_cicd_local.cli.progress import follow_execution, outcome_of

    described = follow_execution(sfn, arn, lambda line: print(line, file=sys.stderr), args.poll_seconds,
                                 max(args.poll_seconds, 60.0), time.sleep)
    name, outcome = arn.rsplit(":", 1)[-1], outcome_of(described)
    key = s3_keys.report(name, "md")
    try:
        report = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read().decode("utf-8")
    except s3.exceptions.NoSuchKey:
        report = ""  # a release refused before it had a report (invalid input): the error says why
    said = words.deployed_release(name, outcome, described.get("error"), described.get("cause"),
                                  f"s3://{args.bucket}/{key}" if report else None)
    _emit(args, {"execution_arn": arn, "status": described["status"], "outcome": outcome,
                 "error": described.get("error"), "report": f"s3://{args.bucket}/{key}" if report else None}, said)
    _report_files(args, said, [Check("release", outcome == "promoted", said[0])], "genai-cicd release", report)
    return 0 if outcome == "promoted" else 1


def release_checks(result: dict[str, Any]) -> list[Any]:
    """A release as JUnit test cases: the outcome, and the gate or metric that decided it."""
    from genai_cicd_local.cli.bundle import Check

    promoted = result["outcome"] == "promoted"
    why = words.release(result)[0]
    checks = [Check("release", promoted, why)]
    if result.get("blocked_by"):
        checks += [Check(f"gate {gate}", False, f"blocked the release {result['scenario']}")
                   for gate in str(result["blocked_by"]).split(",")]
    if result.get("decided_on"):
        checks.append(Check(f"canary {result['decided_on']}", promoted,
                            f"decided the canary: {result['outcome'].replace('_', ' ')}"))
    return checks


def _report_markdown(result: dict[str, Any]) -> str:
    report = result.get("report")
    if not report:
        return ""
    path = Path(str(report)).with_suffix(".md")
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def cmd_invoke(args: argparse.Namespace) -> int:
    from genai_cicd.models.documents import load_json, read_text

    root = args.root or find_root()
    # Both checked before the embedded AWS starts (it takes seconds): a typo answers at once.
    names = function_names(root)
    logical = names.get(args.function)
    if logical is None:
        known = sorted(set(names.values()))
        raise InvalidInput(f"unknown function {args.function!r}; the functions are: {', '.join(known)} (or their "
                           "folder names under functions/ and examples/support_bot/)")
    event = load_json(read_text(Path(args.event), max_bytes=MAX_EVENT_BYTES, what="Lambda event"), args.event)
    from genai_cicd_local.embedded.aws_session import EmbeddedAWS
    from genai_cicd_local.runner import LocalReleaseRunner

    with EmbeddedAWS(root, seed=args.seed) as aws:
        LocalReleaseRunner(aws, out=lambda _: None).seed_event_fixtures()
        payload, error = aws.invoke(logical, event)
    if args.json:
        _print_json(payload)
    else:
        print(f"FAILED: {logical} raised {error}; its payload:" if error else f"OK: {logical} returned; its payload:")
        _print_json(payload)
    return 1 if error else 0


def function_names(root: Path) -> dict[str, str]:
    """Every name ``invoke`` accepts (logical id, or the folder of its code) -> the logical id, from the
    templates alone."""
    from genai_cicd_local.embedded.provision import load_template

    names: dict[str, str] = {}
    for template in (root / "template.yaml", root / "examples" / "support_bot" / "template.yaml"):
        resources = load_template(template).get("Resources") or {}
        for logical, resource in resources.items():
            if resource.get("Type") == "AWS::Serverless::Function":
                names[logical] = logical
                code = (resource.get("Properties") or {}).get("CodeUri")
                if isinstance(code, str):
                    names.setdefault(Path(code).name, logical)
    return names


def cmd_dataset(args: argparse.Namespace) -> int:
    from genai_cicd.models.dataset import GoldenCase, content_hash, parse_jsonl
    from genai_cicd.models.documents import read_text

    path = Path(args.file)
    text = read_text(path, max_bytes=MAX_DATASET_BYTES, what="dataset")
    cases = parse_jsonl(text, GoldenCase, str(path))
    if args.dataset_command == "validate":
        doc = {"file": str(path), "cases": len(cases), "hash": content_hash(text)}
        _emit(args, doc, [f"VALID: {path} has {len(cases)} golden cases, every line checked.",
                          f"  content hash {doc['hash']} (the release records it)"])
        return 0
    lines = []
    for case in cases:
        line: dict[str, Any] = {"prompt": case.prompt}
        if case.reference_response:
            line["referenceResponse"] = case.reference_response
        if case.category:
            line["category"] = case.category
        lines.append(json.dumps(line, ensure_ascii=False))
    output = "\n".join(lines) + "\n"
    converted = f"CONVERTED: {len(cases)} cases of {path} to a Bedrock evaluation prompt dataset"
    if args.output:
        Path(args.output).write_text(output, encoding="utf-8")
        print(f"{converted}, written to {args.output}.")
    else:
        print(f"{converted} (on standard output).", file=sys.stderr)  # stdout stays the dataset
        sys.stdout.write(output)
    return 0


def cmd_gate_compare(args: argparse.Namespace) -> int:
    from genai_cicd.gates.compare import compare_files

    verdict = compare_files(Path(args.baseline), Path(args.candidate), metric=args.metric, margin=args.margin,
                            alpha=args.alpha, threshold=args.threshold, previous_runs=args.previous_runs,
                            fmt=args.format, baseline_variant=args.baseline_variant,
                            candidate_variant=args.candidate_variant)
    said = words.gate_compare(verdict)
    _emit(args, verdict, said)
    from genai_cicd_local.cli.bundle import Check

    _report_files(args, said, [Check(m["metric"], m["decision"] == "pass", m["reason"]) for m in verdict["metrics"]],
                  "genai-cicd gate compare")
    return 0 if verdict["decision"] == "pass" else 1


def cmd_canary_judge(args: argparse.Namespace) -> int:
    from genai_cicd.canary.replay import replay_file

    result = replay_file(Path(args.input), Path(args.plan) if args.plan else None)
    _emit(args, result, words.canary_judge(result))
    return 0 if result["final"]["action"] == "promote" else 1


def _baseline_rates(text: str) -> dict[str, float] | float:
    """"0.01" (every count metric) or "errors=0.01,slow_requests=0.02"."""
    try:
        if "=" not in text:
            return float(text)
        return {k.strip(): float(v) for k, v in (part.split("=", 1) for part in text.split(","))}
    except ValueError:
        raise InvalidInput(f"--baseline-rate: expected a rate such as 0.01 or errors=0.01,slow_requests=0.02, "
                           f"got {text!r}") from None


def cmd_canary_plan(args: argparse.Namespace) -> int:
    import math

    from genai_cicd.canary.planning import estimate
    from genai_cicd.canary.replay import load_plan
    from genai_cicd.canary.stream import ArmCounts, CanaryStream, Interval

    every = ArmCounts(requests=1, errors=0, slow_requests=0, low_quality=0, guardrail_interventions=0)
    plan = load_plan(Path(args.plan) if args.plan else None,
                     CanaryStream(canary_share=0.05, intervals=[Interval(baseline=every, canary=every)]))
    rates = _baseline_rates(args.baseline_rate)
    if isinstance(rates, float):
        rates = {m.value: rates for m in plan.metrics}
    for metric, rate in rates.items():
        if metric not in {m.value for m in plan.metrics}:
            raise InvalidInput(f"--baseline-rate: {metric} is not one of the plan's metrics")
        if not (0.0 <= rate < 1.0 and math.isfinite(rate)):
            raise InvalidInput(f"--baseline-rate: {metric}={rate} must be in [0, 1)")
    if not (args.rps > 0 and math.isfinite(args.rps)):
        raise InvalidInput("--rps must be a positive number")
    if not args.dispersion >= 1.0 or not math.isfinite(args.dispersion):
        raise InvalidInput("--dispersion must be a number >= 1")
    result = estimate(plan, requests_per_second=args.rps, baseline_rates=rates, dispersion=args.dispersion)
    doc = result.model_dump() | {"summary": result.sentence()}
    _emit(args, doc, words.canary_plan(doc, result.sentence()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from genai_cicd_local.cli.bundle import junit_xml, offline_checks

    checks = offline_checks(Path(args.release))
    if args.junit:
        junit_xml(checks, Path(args.junit))
    failed = [c for c in checks if not c.ok]
    if getattr(args, "summary", None):
        skipped_checks = sum(c.unchecked for c in checks)
        head = (f"FAILED: {len(failed)} of {len(checks)} checks of {args.release} failed." if failed else
                f"OK: all {len(checks)} checks of {args.release} passed"
                + (f" ({skipped_checks} not checkable here)." if skipped_checks else "."))
        _report_files(args, [head, *(f"  {'FAIL' if not c.ok else 'skip' if c.unchecked else 'ok'} {c.name}: "
                                     f"{c.message}" for c in checks)], [], "", junit=False)
    if args.json:
        _print_json([{"name": c.name, "ok": c.ok, "unchecked": c.unchecked, "message": c.message} for c in checks])
        return 0 if not failed else 2
    skipped = sum(c.unchecked for c in checks)
    print(f"FAILED: {len(failed)} of {len(checks)} checks of {args.release} failed; nothing was run." if failed else
          f"OK: all {len(checks)} checks of {args.release} passed" + (f" ({skipped} not checkable here)."
                                                                      if skipped else "."))
    for c in checks:
        print(f"  {'FAIL' if not c.ok else 'skip' if c.unchecked else 'ok  '} {c.name}: {c.message}")
    if failed:
        print("Next: fix the lines named above and run check again.")
    return 0 if not failed else 2


def cmd_bundle(args: argparse.Namespace) -> int:
    import boto3

    from genai_cicd_local.cli.bundle import build_bundle

    doc = build_bundle(Path(args.release), boto3.client("s3"), args.bucket, args.pipeline, args.execution_id,
                       args.commit, Path(args.out))
    _emit(args, doc, [f"BUNDLED: {doc['artifacts']} files uploaded; the release input is in {doc['out']}.",
                      f"  manifest: {doc['manifest_uri']}"])
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    import boto3

    from genai_cicd.aws.ledger import Ledger
    from genai_cicd.models.ledger import anchors_in, verify_anchors, verify_chain

    anchors: list[tuple[int, str]] = []
    if args.anchors:
        messages = []
        try:
            lines = Path(args.anchors).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{args.anchors}: cannot read: {exc}") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                message = json.loads(line)
                # An SNS envelope (as SQS receives it) or the message body itself.
                messages.append(json.loads(message["Message"]) if "Message" in message else message)
            except (json.JSONDecodeError, TypeError, KeyError) as exc:
                raise InvalidInput(f"{args.anchors}:{number}: not a notification: {exc}") from None
        anchors = anchors_in(messages, args.release_id)
    entries = Ledger(boto3.client("dynamodb"), args.table).entries(args.release_id)
    problems = verify_chain(entries) + verify_anchors(entries, anchors)
    doc = {"release_id": args.release_id, "entries": [e.model_dump() for e in entries],
           "anchors_checked": len(anchors), "verified": not problems and bool(entries), "problems": problems}
    head = (f"VERIFIED: the ledger of {args.release_id} has {len(entries)} entries and an intact hash chain "
            f"({len(anchors)} anchors checked)." if doc["verified"] else
            f"NOT VERIFIED: {args.release_id}: " + ("no ledger entries" if not entries else "; ".join(problems)))
    _emit(args, doc, [head, *(f"  {e.seq:4d} {e.event} by {e.actor}" for e in entries)])
    return 0 if entries and not problems else 1


def cmd_approve(args: argparse.Namespace) -> int:
    import boto3

    from genai_cicd.aws.control_table import DynamoApprovals
    from genai_cicd.aws.executions import StepFunctionsExecutions
    from genai_cicd.logic.approval import decide_approval

    try:
        decide_approval(args.release_id, not args.reject, args.by, args.comment or "",
                        approvals=DynamoApprovals(boto3.client("dynamodb"), args.table),
                        executions=StepFunctionsExecutions(boto3.client("stepfunctions")))
    except LookupError as exc:
        raise InvalidInput(str(exc)) from None
    print(f"{'rejected' if args.reject else 'approved'} {args.release_id} by {args.by}")
    return 0


def schema_models() -> dict[str, Any]:
    from genai_cicd.canary.stream import CanaryStream
    from genai_cicd.gates.eval_formats import ScoreLine
    from genai_cicd.models.dataset import GoldenCase, GuardrailCase, InjectionCase
    from genai_cicd.models.manifest import ReleaseManifest

    return {"manifest": ReleaseManifest, "golden-case": GoldenCase, "guardrail-case": GuardrailCase,
            "injection-case": InjectionCase, "score-line": ScoreLine, "canary-stream": CanaryStream}


SCHEMA_NOTES = {
    "manifest": "the release manifest: what changed, the gates, the canary plan (YAML or JSON)",
    "golden-case": "one line of a golden dataset (prompt regression, schema contract, Bedrock evaluation)",
    "guardrail-case": "one line of a guardrail suite (must block / benign)",
    "injection-case": "one line of a prompt-injection corpus",
    "score-line": "one line of a score file for `gate compare` (case, repeat, scores in [0, 1])",
    "canary-stream": "the input of `canary judge`: per-interval counts of both arms",
}


def cmd_schema(args: argparse.Namespace) -> int:
    if args.name is None:
        print(f"{len(schema_models())} formats genai-cicd reads or writes:")
        for name in sorted(schema_models()):
            print(f"  {name:16} {SCHEMA_NOTES.get(name, '')}")
        print("\ngenai-cicd schema NAME prints one as JSON Schema (also in docs/schemas/).")
        return 0
    model = schema_models()[args.name]
    _print_json(model.model_json_schema(by_alias=True))
    return 0


def release_name(value: str) -> str:
    """A release id: what Step Functions accepts as an execution name, safe as a file and key name."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", value):
        raise argparse.ArgumentTypeError(f"{value[:100]!r}: use 1 to 80 letters, digits, '-' or '_' (it names the "
                                         "execution, its S3 prefix and its report file)")
    return value


def pattern_type(pattern: str, explain: str) -> Callable[[str], str]:
    """An argparse type that takes a value only in the documented format ``pattern`` (models/aws_ids.py)."""
    def check(value: str) -> str:
        if not aws_ids.matches(pattern, value):
            raise argparse.ArgumentTypeError(f"{value[:200]!r}: {explain}")
        return value

    return check


pipeline_name = pattern_type(aws_ids.PIPELINE_NAME, "a CodePipeline name is 1 to 100 letters, digits, '.', '@', "
                                                    "'-' or '_'")
pipeline_execution_id = pattern_type(aws_ids.PIPELINE_EXECUTION_ID, "a CodePipeline execution id is a lowercase "
                                                                    "UUID, as in $CODEPIPELINE_EXECUTION_ID (e.g. "
                                                                    "3137f7cb-7cf7-4b3f-8e1e-2a5f6c0d9b1a)")
state_machine_arn = pattern_type(aws_ids.STATE_MACHINE_ARN, "expected a state machine ARN, arn:aws:states:REGION:"
                                                            "ACCOUNT:stateMachine:NAME (the stack's "
                                                            "ReleaseStateMachineArn output)")


def lane_count(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 2:
        raise argparse.ArgumentTypeError(f"{value}: the demo runs in 1 or 2 lanes")
    return number


def positive(value: str) -> float:
    number = finite(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value}: must be a number above 0")
    return number


def finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{value}: must be a finite number")
    return number


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genai-cicd", description=__doc__)
    global_options(p, argparse.SUPPRESS)
    p.set_defaults(root=None, seed=7, json=False)
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="six releases of the sample app on the embedded AWS")
    demo.add_argument("--quiet", action="store_true", help="print only each release's outcome and the summary")
    demo.add_argument("--lanes", type=lane_count, default=2,
                      help="processes the releases run in, each its own embedded AWS (default 2; 1: one after another)")
    demo.set_defaults(func=cmd_demo)
    rel = sub.add_parser("release", help="run one release (embedded AWS unless --state-machine-arn)")
    rel.add_argument("--manifest", required=True,
                     help="the release manifest (YAML or JSON); the files it names are relative to it")
    rel.add_argument("--name", type=release_name, help="the release id (default: cli-<time>)")
    rel.add_argument("--started-by", default="cli", help="who started it, as the report and the ledger record it "
                                                         "(default: cli)")
    rel.add_argument("--state-machine-arn", type=state_machine_arn,
                     help="start the release on a deployed stack (its ReleaseStateMachineArn output) instead of "
                          "the embedded AWS; needs AWS credentials")
    rel.add_argument("--bucket", help="with --state-machine-arn: the stack's ArtifactBucketName, where the manifest's "
                                      "files are uploaded")
    rel.add_argument("--wait", action="store_true", help="with --state-machine-arn: follow the release until it ends, "
                                                         "then print its verdict and report (exit 0 promoted, 1 not)")
    rel.add_argument("--poll-seconds", type=positive, default=10.0,
                     help="with --wait: seconds between polls of the execution while it changes (default 10)")
    report_options(rel)
    rel.set_defaults(func=cmd_release)
    inv = sub.add_parser("invoke", help="run one function in-process on the embedded AWS")
    inv.add_argument("function", help="logical id (ValidateManifestFunction) or folder (validate_manifest)")
    inv.add_argument("--event", required=True, help="the event JSON file (see events/<function>/)")
    inv.set_defaults(func=cmd_invoke)
    ds = sub.add_parser("dataset", help="golden dataset tools")
    ds_sub = ds.add_subparsers(dest="dataset_command", required=True)
    v = ds_sub.add_parser("validate", help="check every line of a golden dataset; print its case count and hash")
    v.add_argument("file", help="golden dataset (JSONL, schema golden-case)")
    c = ds_sub.add_parser("convert", help="write a golden dataset in another tool's format")
    c.add_argument("file", help="golden dataset (JSONL, schema golden-case)")
    c.add_argument("--to", choices=["bedrock"], required=True,
                   help="bedrock: the prompt dataset of a Bedrock evaluation job (prompt, referenceResponse, category)")
    c.add_argument("--output", help="write here instead of standard output")
    ds.set_defaults(func=cmd_dataset)
    gate = sub.add_parser("gate", help="gate tools")
    gate_sub = gate.add_subparsers(dest="gate_command", required=True)
    cmp_ = gate_sub.add_parser("compare", help="paired non-inferiority on score files (ours, promptfoo, DeepEval, "
                                                "Inspect AI)")
    cmp_.add_argument("--baseline", required=True,
                      help="the baseline's results: score lines (JSONL), promptfoo `eval -o` JSON, a DeepEval test "
                           "run JSON or an Inspect AI log (.json or .eval)")
    cmp_.add_argument("--candidate", required=True,
                      help="the candidate's results, same cases; may be the same file as --baseline when it holds "
                           "both variants (promptfoo)")
    cmp_.add_argument("--format", choices=list(FORMATS),
                      help="the files' format (default: recognised from their content)")
    cmp_.add_argument("--baseline-variant", help="in a file with several providers or prompts (promptfoo): the "
                                                 "baseline's label (default: the one named 'baseline')")
    cmp_.add_argument("--candidate-variant", help="in a file with several providers or prompts: the candidate's "
                                                  "label (default: the one named 'candidate')")
    cmp_.add_argument("--metric", help="judge only this metric (default: every metric in the files)")
    cmp_.add_argument("--margin", type=finite, default=0.05,
                      help="how much worse the candidate's mean may be, in (0, 1) (default 0.05)")
    cmp_.add_argument("--alpha", type=finite, default=0.05,
                      help="chance of passing a candidate worse by the margin, over all its runs (default 0.05)")
    cmp_.add_argument("--threshold", type=finite, default=0.0,
                      help="absolute floor for the candidate's mean, in [0, 1] (default 0)")
    cmp_.add_argument("--previous-runs", type=int, default=0,
                      help="how many times this candidate was compared before: each earlier run spends alpha")
    report_options(cmp_)
    cmp_.set_defaults(func=cmd_gate_compare)
    canary = sub.add_parser("canary", help="canary tools")
    canary_sub = canary.add_subparsers(dest="canary_command", required=True)
    judge = canary_sub.add_parser("judge", help="replay a canary stream through the production decision")
    judge.add_argument("--input", required=True, help="canary stream JSON (genai-cicd schema canary-stream)")
    judge.add_argument("--plan", help="a manifest's canary: section (YAML or JSON) or a whole manifest; "
                                      "missing fields take the stack's defaults")
    judge.set_defaults(func=cmd_canary_judge)
    cplan = canary_sub.add_parser("plan", help="expected minutes per step to 'shown safe' and to a rollback")
    cplan.add_argument("--rps", type=finite, required=True, help="total requests per second of the app")
    cplan.add_argument("--baseline-rate", required=True,
                       help="bad-event rate of the baseline: 0.01 for every metric, or errors=0.01,slow_requests=0.02")
    cplan.add_argument("--plan", help="a manifest's canary: section (YAML or JSON); default: the stack's defaults")
    cplan.add_argument("--dispersion", type=finite, default=1.0,
                       help="variance-to-mean ratio of bad-event counts (1: independent requests; bursts: more)")
    cplan.set_defaults(func=cmd_canary_plan)
    check = sub.add_parser("check", help="offline checks of a release (no AWS, no model), JUnit XML")
    check.add_argument("--release", required=True, help="the release manifest the team edits")
    check.add_argument("--junit", help="write a JUnit XML report here (unchecked s3:// references are 'skipped')")
    check.add_argument("--summary", help="append the verdict in Markdown to this file (e.g. $GITHUB_STEP_SUMMARY)")
    check.set_defaults(func=cmd_check)
    bundle = sub.add_parser("bundle", help="upload a release's files and write the pipeline's release input")
    bundle.add_argument("--release", required=True, help="the release manifest the team edits")
    bundle.add_argument("--bucket", required=True, help="the control plane's ArtifactBucketName")
    bundle.add_argument("--pipeline", required=True, type=pipeline_name, help="the CodePipeline pipeline's name")
    bundle.add_argument("--execution-id", required=True, type=pipeline_execution_id,
                        help="the pipeline execution id (CODEPIPELINE_EXECUTION_ID)")
    bundle.add_argument("--commit", help="the source commit, pinned into the manifest for the audit trail")
    bundle.add_argument("--out", default="build", help="where to write manifest.json and release-input.json "
                                                       "(default: build)")
    bundle.set_defaults(func=cmd_bundle)
    schema = sub.add_parser("schema", help="print the JSON Schema of a user-facing format; without a name, list them")
    schema.add_argument("name", nargs="?", choices=sorted(schema_models()),
                        help="the format (default: list the formats and what each describes)")
    schema.set_defaults(func=cmd_schema)
    audit = sub.add_parser("audit", help="print a release's ledger and verify its hash chain (AWS)")
    audit.add_argument("release_id", type=release_name, help="the release id (its execution name)")
    audit.add_argument("--table", required=True, help="the stack's DynamoDB table (ControlPlaneTable)")
    audit.add_argument("--anchors", help="JSON lines of the release's notifications (SNS envelopes or bodies) kept "
                                         "outside the table: their ledger heads must match the chain")
    audit.set_defaults(func=cmd_audit)
    appr = sub.add_parser("approve", help="approve or reject a release waiting for manual approval (AWS)")
    appr.add_argument("release_id", type=release_name, help="the release id waiting in ManualApproval")
    appr.add_argument("--by", required=True, help="who decides, as the report and the ledger record it")
    appr.add_argument("--table", required=True, help="the stack's DynamoDB table (ControlPlaneTable)")
    appr.add_argument("--reject", action="store_true", help="reject instead of approve: the release ends blocked")
    appr.add_argument("--comment", help="a short note kept with the decision")
    appr.set_defaults(func=cmd_approve)
    gh = sub.add_parser("github-comment", help="post (or update) one comment on the pull request this GitHub "
                                               "Actions job runs for")
    gh.add_argument("--body-file", required=True, help="the Markdown to post, e.g. the job summary genai-cicd wrote")
    gh.set_defaults(func=cmd_github_comment)
    for command in _subparsers(p):
        global_options(command, argparse.SUPPRESS)  # `genai-cicd demo --seed 3` as well as `genai-cicd --seed 3 demo`
    return p


def report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit", help="write a JUnit XML report here (one test case per metric, gate or check)")
    parser.add_argument("--summary", help="append the verdict in Markdown to this file, e.g. $GITHUB_STEP_SUMMARY "
                                          "(a release appends its report too)")


def global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Options every command takes, before or after its name (SUPPRESS: an absent one keeps the default)."""
    parser.add_argument("--root", type=Path, default=default,
                        help="project root (default: found from the current directory)")
    parser.add_argument("--seed", type=int, default=default,
                        help="seed of the simulated model (embedded AWS; default 7)")
    parser.add_argument("--json", action="store_true", default=default,
                        help="print the result as JSON for machines instead of words")


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += [sub, *_subparsers(sub)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
