"""Releases on the embedded AWS: set up the sample app, run, collect the outcome."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genai_cicd import s3_keys
from genai_cicd.aws.control_table import DynamoPipelineRecords
from genai_cicd.aws.ledger import Ledger
from genai_cicd.aws.traffic import AppConfigFlag
from genai_cicd.models.ledger import anchors_in, verify_anchors, verify_chain
from genai_cicd.models.manifest import JudgeSettings, ProbePlan, ShadowPlan, parse_manifest
from genai_cicd_local.app_traffic import AppTraffic, TrafficShape
from genai_cicd_local.cli.progress import follow_execution, outcome_of
from genai_cicd_local.cli.upload import upload_manifest_artifacts
from genai_cicd_local.embedded.aws_session import EVALUATION_ROLE_ARN, EmbeddedAWS

SAMPLE = Path("examples") / "support_bot"
POLL_MIN_SECONDS = 0.05
POLL_MAX_SECONDS = 0.5
# Production traffic before each release (all on the baseline), what the canary's planner looks back on:
# whole minutes holding about this many requests, at least one minute and at most the planner's 15.
WARMUP_REQUESTS = 1200


def warmup_seconds(rate_per_second: float) -> float:
    minutes = math.ceil(WARMUP_REQUESTS / rate_per_second / 60) if rate_per_second > 0 else 15
    return 60.0 * min(15, max(1, minutes))


# The pipeline execution the events/ fixtures name (a UUID, as CodePipeline's are).
EVENT_FIXTURE_EXECUTION = "0c43d40f-b0d9-4962-bb4d-c8411945f6b1"


class LocalReleaseRunner:
    def __init__(self, aws: EmbeddedAWS, out: Callable[[str], None] = print, traffic_rate: float = 20.0) -> None:
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
                                   "role_arn": EVALUATION_ROLE_ARN,
                                   "evaluator_model_id": "local.sim-judge-v1"}}}).gates})
        probing = manifest.model_copy(update={"canary": manifest.canary.model_copy(update={
            "probes": ProbePlan(function_name=self.aws.function_name("SupportBotFunction"), requests_per_second=2)})})
        # events/shadow_evaluation starts shadow answers for evt-release (the lock holder of events/release_lock).
        manifest = manifest.model_copy(update={"canary": manifest.canary.model_copy(update={
            "shadow": ShadowPlan(judge=JudgeSettings(model_id="local.sim-judge-v1"))})})
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
        token = self.aws.backend.open_approval("support-bot-pipeline", "GenAIGates", "GenAIGate",
                                               EVENT_FIXTURE_EXECUTION)
        # events/report_to_pipeline answers for evt-release: StartRelease's record that it started it.
        DynamoPipelineRecords(self.aws.client("dynamodb"), self.aws.control_plane.physical["ControlPlaneTable"]) \
            .record_execution("support-bot-pipeline", EVENT_FIXTURE_EXECUTION, "evt-release",
                              f"{self.aws.state_machine_arn.replace(':stateMachine:', ':execution:')}:evt-release",
                              1, token)

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
                  s3_keys.report_cases(name): f"{name}-cases.html",
                  s3_keys.report_shadow_pairs(name): f"{name}-shadow-pairs.html"}
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
            if local == f"{name}.html":
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
            traffic_rate: float | None = None, traffic_file: str = "traffic.jsonl",
            traffic: TrafficShape | None = None, warmup: float | None = None) -> dict[str, Any]:
        """One release on the embedded AWS with simulated users of the sample app.

        The users (``traffic``, or ``traffic_rate`` requests/s of the default shape) arrive in simulated
        time: ``warmup`` seconds of production traffic first (all on the baseline; by default
        ``warmup_seconds`` plus the plan's ``metric_settle_seconds``), starting on a whole minute, then
        for as long as the release waits. Their seed is the stack's and the release's name, so a run can be repeated.
        """
        self.setup()
        manifest = upload_manifest_artifacts(manifest_path, self.aws.client("s3"), self.aws.bucket)
        self.seed_flag(manifest)
        self.notifications()  # drop anything left from earlier releases
        name = name or f"local-{uuid.uuid4().hex[:12]}"
        app_fn = self.aws.function_name("SupportBotFunction")
        shape = traffic or TrafficShape(rate_per_second=traffic_rate or self.traffic_rate)
        seed = int.from_bytes(hashlib.sha256(f"{self.aws.seed}\x1f{name}".encode()).digest()[:8], "big")
        clock = self.aws.clock
        # Users start on the next whole minute: a wait of a few seconds in the last release's gates
        # (a backoff whose length depends on thread order) never changes when they start.
        clock.advance_to((math.floor(clock.time() / 60) + 1) * 60)
        users = AppTraffic(clock, self.aws.runtime, app_fn, self.questions(traffic_file), shape, seed)
        started = time.monotonic()
        # The warm-up also outlasts CloudWatch's settle delay, so the planner sees the whole warm-up.
        settle = parse_manifest(manifest).canary.metric_settle_seconds
        with users:
            clock.advance(warmup_seconds(shape.rate_per_second) + settle if warmup is None else warmup)
            began = clock.time()
            served = self.requests_by_variant()
            described, notes = self._follow(name, manifest_path, manifest, started_by)
        seconds = time.monotonic() - started
        result = self.summarise(name, described["executionArn"], described, seconds, users.sent, notes)
        result["simulated_seconds"] = round(clock.time() - began, 1)
        after = self.requests_by_variant()
        # What the app's own metrics say was served during the release: users on the candidate, and
        # answers the candidate gave in shadow (never returned to a user).
        result["candidate_user_requests"] = int(after.get("candidate", 0) - served.get("candidate", 0))
        result["shadow_answers"] = int(after.get("candidate-shadow", 0) - served.get("candidate-shadow", 0))
        return result

    def requests_by_variant(self) -> dict[str, float]:
        """The sample app's Requests emitted so far, by variant (everything the app emitted, visible or not)."""
        totals: dict[str, float] = {}
        for (_, metric, dimensions, _, _), stats in list(self.aws.runtime.ingestion.emitted.items()):
            if metric == "Requests":
                variant = dict(dimensions).get("variant")
                if variant is not None:
                    totals[variant] = totals.get(variant, 0.0) + stats[0]
        return totals

    def _follow(self, name: str, manifest_path: Path, manifest: dict[str, Any], started_by: str
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Start the execution and print its progress until it ends (the polling only watches: the
        release runs on its own thread and on simulated time)."""
        sfn = self.aws.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=self.aws.state_machine_arn, name=name, input=json.dumps(
            {"manifest": manifest, "started_by": started_by}))["executionArn"]
        self.out(f"release {name} started ({manifest_path.name})")
        notes: list[dict[str, Any]] = []

        def announce() -> int:
            fresh = self.notifications()
            for note in fresh:
                notes.append(note)
                self.out(f"     [SNS] {note['subject']}")
            return len(fresh)

        # The polling only watches: moto returns (and serialises) the whole history on every poll, which
        # takes the interpreter from the release, so polls back off while nothing happens.
        described = follow_execution(sfn, arn, self.out, POLL_MIN_SECONDS, POLL_MAX_SECONDS, time.sleep, announce)
        return described, notes

    def summarise(self, name: str, arn: str, described: dict[str, Any], seconds: float,
                  requests: int, notes: list[dict[str, Any]]) -> dict[str, Any]:
        error = described.get("error")
        outcome = outcome_of(described)
        blocked_by = None
        ledger = Ledger(self.aws.client("dynamodb"), self.aws.control_plane.physical["ControlPlaneTable"])
        entries = ledger.entries(name)
        shadow_blocked = any(e.event == "blocked" and e.detail.get("detail", {}).get("phase") == "shadow"
                             for e in entries)
        if shadow_blocked:
            blocked_by = "shadow"
        elif outcome == "blocked":
            verdict = self.aws.client("s3").get_object(Bucket=self.aws.bucket,
                                                       Key=s3_keys.release(name, "quality_gate.json"))["Body"].read()
            blocked_by = ",".join(json.loads(verdict)["blocked_by"]) or None
        report = self._save_report(name)
        anchors = anchors_in([n["body"] for n in notes], name)  # heads published outside the table
        # The metric that decided a rollback, or the last one shown safe before promotion.
        decided = [e.detail.get("detail", {}) for e in entries if e.event in ("promoted", "rolled_back")]
        return {"scenario": name, "execution_arn": arn, "outcome": outcome, "blocked_by": blocked_by,
                # the phase or metric that decided: shadow evaluation, or the canary's metric
                "decided_on": "shadow" if shadow_blocked else decided[-1].get("metric") if decided else None,
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
