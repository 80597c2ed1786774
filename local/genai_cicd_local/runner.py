"""Releases on the embedded AWS: set up the sample app, run, collect the outcome."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genai_cicd import s3_keys
from genai_cicd.aws.ledger import Ledger
from genai_cicd.aws.traffic import AppConfigFlag
from genai_cicd.models.ledger import anchors_in, verify_anchors, verify_chain
from genai_cicd.models.manifest import ProbePlan, parse_manifest
from genai_cicd_local.app_traffic import TrafficGenerator
from genai_cicd_local.cli.progress import ProgressPrinter
from genai_cicd_local.cli.upload import upload_manifest_artifacts
from genai_cicd_local.embedded.aws_session import EmbeddedAWS

SAMPLE = Path("examples") / "support_bot"
POLL_MIN_SECONDS = 0.2
POLL_MAX_SECONDS = 1.0
CANARY_POLL_SECONDS = 0.5


class LocalReleaseRunner:
    def __init__(self, aws: EmbeddedAWS, out: Callable[[str], None] = print, traffic_rate: float = 40.0) -> None:
        self.aws = aws
        self.out = out
        self.traffic_rate = traffic_rate
        self.root = aws.root
        self._setup_done = False
        self._queue_url: str | None = None

    def setup(self) -> None:
        """What a team has before its first release: guardrails, a subscriber, the app live."""
        if self._setup_done:
            return
        bedrock = self.aws.client("bedrock")
        for path in sorted((self.root / SAMPLE / "guardrails").glob("*.json")):
            config = json.loads(path.read_text())
            gid = bedrock.create_guardrail(**config)["guardrailId"]
            bedrock.create_guardrail_version(guardrailIdentifier=gid, description="initial")
        sqs, sns = self.aws.client("sqs"), self.aws.client("sns")
        self._queue_url = sqs.create_queue(QueueName="release-notifications")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.aws.control_plane.outputs["ReleaseTopicArn"], Protocol="sqs", Endpoint=arn)
        self._setup_done = True

    def seed_event_fixtures(self) -> None:
        """What the files in events/ point at: sample artifacts and two stored release manifests."""
        self.setup()
        s3 = self.aws.client("s3")
        sample = self.root / SAMPLE
        for folder in ("prompts", "data"):
            for path in sorted((sample / folder).glob("*")):
                s3.put_object(Bucket=self.aws.bucket, Key=f"examples/support_bot/{folder}/{path.name}",
                              Body=path.read_bytes())
        good = json.loads((self.root / "events" / "validate_manifest" / "inline-manifest.json").read_text())
        manifest = parse_manifest(good["input"]["manifest"])
        contract = manifest.model_copy(update={
            "candidate": manifest.candidate.model_copy(
                update={"prompt": "examples/support_bot/prompts/classifier-v1.txt"}),
            "gates": parse_manifest({**good["input"]["manifest"], "gates": {
                "schema_contract": {"dataset": "examples/support_bot/data/contracts.jsonl"}}}).gates,
        })
        evaluation = manifest.model_copy(update={"gates": parse_manifest({**good["input"]["manifest"], "gates": {
            "bedrock_evaluation": {"dataset": "examples/support_bot/data/golden.jsonl", "poll_seconds": 1,
                                   "role_arn": "arn:aws:iam::123456789012:role/BedrockEvaluationRole",
                                   "evaluator_model_id": "local.sim-judge-v1"}}}).gates})
        probing = manifest.model_copy(update={"canary": manifest.canary.model_copy(update={
            "probes": ProbePlan(function_name=self.aws.function_name("SupportBotFunction"), requests_per_second=2)})})
        for release_id, m in (("evt-release", manifest), ("evt-contract", contract), ("evt-eval", evaluation),
                              ("evt-probes", probing)):
            s3.put_object(Bucket=self.aws.bucket, Key=s3_keys.release_manifest(release_id),
                          Body=json.dumps(m.model_dump(mode="json")).encode())
        self.seed_flag(manifest.model_dump(mode="json"))
        # events/reconcile_release points at an execution stopped right after it started.
        sfn = self.aws.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=self.aws.state_machine_arn, name="evt-aborted", input=json.dumps(
            {"manifest": manifest.model_dump(mode="json"), "started_by": "events/"}))["executionArn"]
        sfn.stop_execution(executionArn=arn, error="Example", cause="stopped by the event fixtures")
        self.aws.backend.open_approval("support-bot-pipeline", "GenAIGates", "GenAIGate", "exec-1")

    def seed_flag(self, manifest: dict[str, Any]) -> None:
        """Production runs the baseline before the release starts (weight 0)."""
        parsed = parse_manifest(manifest)
        out = self.aws.control_plane.outputs
        flag = AppConfigFlag(
            self.aws.client("appconfig"), application_id=out["FlagApplicationId"],
            environment_id=out["FlagEnvironmentId"], profile_id=out["FlagProfileId"],
            strategy_id=self.aws.control_plane.physical["FlagDeploymentStrategy"],
            baseline=parsed.baseline.model_dump(mode="json"), candidate=parsed.baseline.model_dump(mode="json"),
            release_id="production")
        flag.set_weight(0.0)

    def flag_weight(self) -> float:
        out = self.aws.control_plane.outputs
        flag = AppConfigFlag(
            self.aws.client("appconfig"), application_id=out["FlagApplicationId"],
            environment_id=out["FlagEnvironmentId"], profile_id=out["FlagProfileId"],
            strategy_id=self.aws.control_plane.physical["FlagDeploymentStrategy"], baseline={}, candidate={},
            release_id="read")
        return flag.current_weight()

    def _save_report(self, name: str) -> str | None:
        """Copy the release report from S3 to reports/releases/ and rebuild reports/index.html."""
        from genai_cicd.logic.report_index import PREFIX, local_index

        s3 = self.aws.client("s3")
        target = self.root / "reports" / "releases"
        saved = None
        copies = {s3_keys.report(name, "md"): f"{name}.md", s3_keys.report(name, "html"): f"{name}.html",
                  s3_keys.report_cases(name): f"{name}-cases.html"}
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.aws.bucket, Prefix=PREFIX)
        listed = [obj for page in pages for obj in page.get("Contents", [])]
        copies |= {obj["Key"]: f"{name}.entry.json" for obj in listed if obj["Key"].endswith(f"-{name}.json")}
        for key, local in copies.items():
            try:
                body = s3.get_object(Bucket=self.aws.bucket, Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                continue
            target.mkdir(parents=True, exist_ok=True)
            _replace(target / local, body)
            if local.endswith(".html") and not local.endswith("-cases.html"):
                saved = str(target / local)
        if target.is_dir():
            _replace(self.root / "reports" / "index.html", local_index(str(target)).encode("utf-8"))
        return saved

    def notifications(self) -> list[dict[str, Any]]:
        sqs = self.aws.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for m in batch:
                envelope = json.loads(m["Body"])
                messages.append({"subject": envelope.get("Subject"), "body": json.loads(envelope["Message"])})
                sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=m["ReceiptHandle"])

    def questions(self, traffic_file: str = "traffic.jsonl") -> list[str]:
        lines = (self.root / SAMPLE / "data" / traffic_file).read_text().splitlines()
        return [json.loads(line)["question"] for line in lines if line.strip()]

    def run(self, manifest_path: Path, name: str | None = None, started_by: str = "cli",
            traffic_rate: float | None = None, traffic_file: str = "traffic.jsonl") -> dict[str, Any]:
        self.setup()
        manifest = upload_manifest_artifacts(manifest_path, self.aws.client("s3"), self.aws.bucket)
        self.seed_flag(manifest)
        self.notifications()  # drop anything left from earlier releases
        name = name or f"local-{uuid.uuid4().hex[:12]}"
        sfn = self.aws.client("stepfunctions")
        lam = self.aws.client("lambda")
        app_fn = self.aws.function_name("SupportBotFunction")

        def call_app(event: dict[str, Any]) -> None:
            lam.invoke(FunctionName=app_fn, Payload=json.dumps(event).encode())

        traffic = TrafficGenerator(call_app, self.questions(traffic_file), traffic_rate or self.traffic_rate)
        started = time.monotonic()
        arn = sfn.start_execution(stateMachineArn=self.aws.state_machine_arn, name=name, input=json.dumps(
            {"manifest": manifest, "started_by": started_by}))["executionArn"]
        self.out(f"release {name} started ({manifest_path.name})")
        def on_state(state: str) -> None:
            if state == "StartCanary":
                traffic.active.set()

        progress = ProgressPrinter(sfn, arn, self.out, on_state)
        notes: list[dict[str, Any]] = []

        def announce() -> int:
            fresh = self.notifications()
            for note in fresh:
                notes.append(note)
                self.out(f"     [SNS] {note['subject']}")
            return len(fresh)

        traffic.start()
        pause = POLL_MIN_SECONDS
        try:
            while True:
                described = sfn.describe_execution(executionArn=arn)
                changed = progress.poll() + announce()
                if described["status"] != "RUNNING":
                    break
                # Back off while a long task runs: moto returns (and serialises) the whole history on
                # every poll, which competes with the canary for the one interpreter. Poll fast again
                # as soon as something happens; during the canary, about twice per interval.
                quiet = not changed and not traffic.active.is_set()
                pause = (min(pause * 1.5, POLL_MAX_SECONDS) if quiet
                         else CANARY_POLL_SECONDS if traffic.active.is_set() else POLL_MIN_SECONDS)
                time.sleep(pause)
        finally:
            traffic.stop()
        progress.poll()
        announce()
        seconds = time.monotonic() - started
        return self.summarise(name, arn, described, seconds, traffic.sent, notes)

    def summarise(self, name: str, arn: str, described: dict[str, Any], seconds: float,
                  requests: int, notes: list[dict[str, Any]]) -> dict[str, Any]:
        error = described.get("error")
        outcome = {"SUCCEEDED": "promoted"}.get(described["status"]) or {
            "GateBlocked": "blocked", "CanaryRolledBack": "rolled_back", "InvalidInput": "invalid",
            "ApprovalRejected": "rejected"}.get(error or "", "failed")
        blocked_by = None
        if outcome == "blocked":
            verdict = self.aws.client("s3").get_object(Bucket=self.aws.bucket,
                                                       Key=s3_keys.release(name, "quality_gate.json"))["Body"].read()
            blocked_by = ",".join(json.loads(verdict)["blocked_by"]) or None
        report = self._save_report(name)
        ledger = Ledger(self.aws.client("dynamodb"), self.aws.control_plane.physical["ControlPlaneTable"])
        entries = ledger.entries(name)
        anchors = anchors_in([n["body"] for n in notes], name)  # heads published outside the table
        # The metric that decided a rollback, or the last one shown safe before promotion.
        decided = [e.detail.get("detail", {}) for e in entries if e.event in ("promoted", "rolled_back")]
        return {"scenario": name, "execution_arn": arn, "outcome": outcome, "blocked_by": blocked_by,
                "decided_on": decided[-1].get("metric") if decided else None,
                "decided_by_stream": decided[-1].get("stream") if decided else None,
                "probe_requests": int(decided[-1].get("probe_requests") or 0) if decided else 0,
                "probe_cost_usd": decided[-1].get("probe_cost_usd") if decided else None,
                "judge_calls": decided[-1].get("judge_calls") if decided else None,
                "final_candidate_weight": self.flag_weight(), "notifications": len(notes),
                "notification_subjects": [n["subject"] for n in notes], "ledger_entries": len(entries),
                "ledger_verified": not verify_chain(entries) and not verify_anchors(entries, anchors),
                "ledger_anchors": len(anchors), "error": error, "seconds": round(seconds, 2),
                "report": report,
                "app_requests": requests}


def _replace(path: Path, body: bytes) -> None:
    """Write by renaming a finished file over the old one: a reader (a browser, another release saving
    its report at the same time) sees the old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    partial.write_bytes(body)
    os.replace(partial, path)
