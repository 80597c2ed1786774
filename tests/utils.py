"""Builders shared by the tests: events from events/, manifests from the sample app."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "support_bot"
# Test-sized canary settings for the suites that test what happens around the canary (locks,
# reconciliation, faults, pipeline events), not the decision (tests/unit/test_canary_decision.py):
# only slow requests are judged and any rate under 90% is negligible, so harmless traffic is shown
# safe after a handful of requests (one interval per step, as before the judge needed evidence of
# safety) even when the busy test traffic gets throttled.
# metric_settle_seconds 60: the embedded CloudWatch's EMF delay is at most 60 s (docs/EMBEDDED.md).
QUICK_CANARY: dict[str, Any] = {"min_canary_requests_per_step": 1, "negligible_rate": 0.9,
                                "metrics": ["slow_requests"], "critical_metrics": ["slow_requests"],
                                "metric_settle_seconds": 60}


def event(function: str, scenario: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / function / f"{scenario}.json").read_text())


def sample_manifest(name: str = "good-prompt", shadow: bool = False) -> dict[str, Any]:
    """A demo manifest as a dict; without its shadow phase unless ``shadow`` (the tests that change its traffic
    mechanism or time its canary predate it; the demo and tests/e2e/test_shadow_evaluation.py keep it)."""
    data: dict[str, Any] = yaml.safe_load((SAMPLE / "manifests" / f"{name}.yaml").read_text())
    if not shadow:
        data.get("canary", {}).pop("shadow", None)
    return data


EXECUTION_ID = "0c43d40f-b0d9-4962-bb4d-c8411945f6b1"  # a UUID, as CodePipeline's execution ids are


def eid(name: str) -> str:
    """A pipeline execution id (a UUID, the CodePipeline API's pattern) that a test can name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"genai-cicd-test/{name}"))


def pipeline_action_event(state: str = "STARTED", execution_id: str = EXECUTION_ID, action: str = "GenAIGate",
                          category: str = "Approval",
                          action_execution_id: str = "47f821c5-a902-44b2-ae61-b878d31ecd21") -> dict[str, Any]:
    """An action's state change as "Monitoring CodePipeline events" shows it. For an approval's STARTED,
    ``action_execution_id`` names the request it opened (tests.stack.gate_started reads it from CodePipeline)."""
    return {
        "version": "0", "id": "0a1b2c3d-0000-0000-0000-000000000000",
        "detail-type": "CodePipeline Action Execution State Change", "source": "aws.codepipeline",
        "account": "123456789012", "time": "2026-11-26T02:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:codepipeline:us-east-1:123456789012:support-bot-pipeline"],
        "detail": {"pipeline": "support-bot-pipeline", "execution-id": execution_id,
                   "action-execution-id": action_execution_id, "start-time": "2026-11-26T02:00:00.000Z",
                   "stage": "GenAIGates", "action": action, "state": state, "region": "us-east-1",
                   "type": {"owner": "AWS", "provider": "Manual", "category": category, "version": "1"},
                   "version": 1},
    }


def _refs(data: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    found = [(data[arm], "prompt") for arm in ("baseline", "candidate") if isinstance(data.get(arm), dict)]
    for gate in (data.get("gates") or {}).values():
        if isinstance(gate, dict):
            found += [(gate, key) for key in ("dataset", "suite", "corpus") if isinstance(gate.get(key), str)
                      and not gate[key].startswith("s3://")]
    return found


def manifest_file(tmp: Path, name: str = "good-prompt", **sections: Any) -> Path:
    """A sample manifest, its files copied beside it, with some sections replaced or merged."""
    data = sample_manifest(name)
    base = SAMPLE / "manifests"
    for arm in ("baseline", "candidate"):
        data[arm]["prompt"] = str((base / data[arm]["prompt"]).resolve())
    for gate in data.get("gates", {}).values():
        for key in ("dataset", "suite", "corpus"):
            if key in gate:
                gate[key] = str((base / gate[key]).resolve())
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp / f"{name}-{len(list(tmp.glob('*.yaml')))}.yaml"
    # Manifests name files relative to themselves, inside their repository (cli/paths.py): copy what
    # the manifest names next to it, as a release's repository would hold it.
    for node, key in _refs(data):
        source = Path(node[key])
        if source.is_absolute():
            copy = tmp / "files" / f"{hashlib.sha256(str(source).encode()).hexdigest()[:12]}-{source.name}"
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, copy)
            node[key] = str(copy.relative_to(tmp))
    path.write_text(yaml.safe_dump(data))
    return path
