"""Run one release through the state machine, locally or against AWS, with live progress.

Local files named in a manifest (prompts, datasets, suites) are uploaded to
the artifact bucket under content-addressed keys and the manifest is
rewritten to point at them; s3:// references are left alone.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_cicd.cli.paths import resolve_ref
from genai_cicd.models.manifest import decode_manifest_text, parse_manifest


def upload_manifest_artifacts(manifest_path: Path, s3: Any, bucket: str) -> dict[str, Any]:
    """Validate the manifest, upload its local files, return the rewritten manifest."""
    text = manifest_path.read_text(encoding="utf-8")
    data = decode_manifest_text(text, str(manifest_path))
    parsed = parse_manifest(data, str(manifest_path))  # fail before uploading anything
    # Every file the release reads, named once (ReleaseManifest.artifact_refs).
    for where, _ in parsed.artifact_refs():
        path = where.split(".")
        node: Any = data
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or path[-1] not in node:
            continue
        ref = node[path[-1]]
        if str(ref).startswith("s3://"):
            continue
        local = resolve_ref(manifest_path, ".".join(path), str(ref))
        body = local.read_bytes()
        key = f"artifacts/{hashlib.sha256(body).hexdigest()[:16]}/{local.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        node[path[-1]] = f"s3://{bucket}/{key}"
    return data


@dataclass
class TrafficGenerator:
    """Drives the sample app while a release runs, so real metrics reach CloudWatch."""

    invoke: Callable[[dict[str, Any]], None]
    questions: list[str]
    rate_per_second: float = 40.0
    sent: int = 0
    # Traffic flows once the canary starts: before that it would only compete with the gates
    # for the one interpreter the embedded AWS runs in.
    active: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_second
        i = 0
        while not self.active.wait(0.05):
            if self._stop.is_set():
                return
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.invoke({"question": self.questions[i % len(self.questions)]})
            self.sent += 1
            i += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class ProgressPrinter:
    """Prints states entered and task outcomes from the execution history."""

    def __init__(self, sfn: Any, execution_arn: str, out: Callable[[str], None],
                 on_state: Callable[[str], None] | None = None) -> None:
        self._sfn = sfn
        self._arn = execution_arn
        self._out = out
        self._on_state = on_state
        self._seen = 0

    def poll(self) -> int:
        """Print what happened since the last poll; returns how many new history events there were."""
        try:
            events = self._sfn.get_execution_history(executionArn=self._arn, maxResults=1000)["events"]
        except Exception:  # noqa: BLE001 - progress is best effort
            return 0
        new = len(events) - self._seen
        for event in events[self._seen:]:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                if self._on_state is not None:
                    self._on_state(name)
                if not name.endswith("?"):
                    self._out(f"  -> {name}")
            elif kind == "TaskStateExited":
                details = event.get("stateExitedEventDetails", {})
                self._describe(details.get("name", ""), details.get("output", ""))
        self._seen = len(events)
        return max(new, 0)

    def _describe(self, state: str, output: str) -> None:
        try:
            data = json.loads(output)
        except (TypeError, json.JSONDecodeError):
            return
        if state in ("PromptRegression", "GuardrailSuite", "InjectionSuite", "SchemaContract"):
            self._out(f"     {data.get('gate')}: {data.get('status')} - {str(data.get('summary'))[:150]}")
        elif state == "QualityGate":
            q = data.get("quality", {})
            self._out(f"     quality gate: {q.get('decision')} {q.get('blocked_by') or ''}")
        elif state in ("StartCanary", "ShiftTraffic", "FullRollout"):
            self._out(f"     candidate weight now {data.get('canary', {}).get('weight')}%")
        elif state == "AnalyzeCanary":
            c = data.get("canary", {})
            reasons = "; ".join(c.get("last_reasons", [])[:1])
            self._out(f"     canary @{c.get('weight')}%: {c.get('action')} - {reasons[:140]}")
        elif state == "SendProbes":
            probes = data.get("canary", {}).get("probes", {})
            self._out(f"     probe requests so far: {probes.get('sent')}"
                      + (f" (stopped: {probes['stopped']})" if probes.get("stopped") else ""))
        elif state in ("Rollback", "SafetyRollback"):
            self._out(f"     rollback verified: weight {data.get('rollback', {}).get('weight')}%")
