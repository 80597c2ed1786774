"""What the pipeline's build step runs: offline checks, then the release bundle.

``check`` needs no AWS and no model: it validates the release manifest, every
dataset and suite it names, the JSON Schemas of the structured-output contracts,
and lints the guardrail suite. It writes a JUnit XML report for CodeBuild.

``bundle`` uploads the manifest's files to the control plane's artifact bucket
(content-addressed), pins what the build knows (commit, pipeline execution,
content hashes) into the manifest, stores it where the StartRelease function
looks for it, and writes the build outputs: ``manifest.json`` and
``release-input.json`` (the Step Functions invoke action's input).
"""

from __future__ import annotations

import hashlib
import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from genai_cicd.cli.local_release import upload_manifest_artifacts
from genai_cicd.cli.paths import resolve_ref
from genai_cicd.errors import InvalidInput
from genai_cicd.logic.pipeline_events import manifest_key
from genai_cicd.models.dataset import GoldenCase, GuardrailCase, InjectionCase, parse_jsonl
from genai_cicd.models.manifest import ReleaseManifest, load_manifest_file, parse_manifest


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    seconds: float = 0.0


def _timed(name: str, fn: Any) -> Check:
    started = time.perf_counter()
    try:
        message = fn()
        return Check(name, True, message, time.perf_counter() - started)
    except (InvalidInput, OSError, UnicodeDecodeError, jsonschema.SchemaError) as exc:
        return Check(name, False, str(exc), time.perf_counter() - started)


def _local(release: Path, ref: str, field: str = "reference") -> Path:
    if ref.startswith("s3://"):
        raise InvalidInput(f"{ref}: offline checks need files in the repository, not s3:// references")
    return resolve_ref(release, field, ref)


def offline_checks(release: Path) -> list[Check]:
    checks = [_timed("manifest", lambda: f"{load_manifest_file(release).app}: valid")]
    if not checks[0].ok:
        return checks
    manifest: ReleaseManifest = load_manifest_file(release)
    gates = manifest.gates

    def dataset(ref: str, model: type[Any]) -> Any:
        path = _local(release, ref)
        return parse_jsonl(path.read_text(encoding="utf-8"), model, str(path))

    for arm in ("baseline", "candidate"):
        prompt = getattr(manifest, arm).prompt
        checks.append(_timed(f"prompt.{arm}", lambda p=prompt: f"{len(_local(release, p).read_text()):,} characters"))
    if gates.prompt_regression:
        checks.append(_timed("dataset.prompt_regression",
                             lambda: f"{len(dataset(gates.prompt_regression.dataset, GoldenCase))} cases"))  # type: ignore[union-attr]
    if gates.bedrock_evaluation:
        checks.append(_timed("dataset.bedrock_evaluation",
                             lambda: f"{len(dataset(gates.bedrock_evaluation.dataset, GoldenCase))} cases"))  # type: ignore[union-attr]
    if gates.injection_suite:
        checks.append(_timed("suite.injection",
                             lambda: f"{len(dataset(gates.injection_suite.corpus, InjectionCase))} attacks"))  # type: ignore[union-attr]
    if gates.schema_contract:
        def contracts() -> str:
            cases = dataset(gates.schema_contract.dataset, GoldenCase)  # type: ignore[union-attr]
            with_schema = [c for c in cases if c.json_schema is not None]
            if not with_schema:
                raise InvalidInput("schema_contract: no case declares a schema")
            for number, case in enumerate(with_schema, start=1):
                try:
                    jsonschema.Draft202012Validator.check_schema(case.json_schema)
                except jsonschema.SchemaError as exc:
                    raise InvalidInput(
                        f"contract case {case.id or number}: invalid JSON Schema: {exc.message}") from None
            return f"{len(with_schema)} contracts with valid JSON Schemas"
        checks.append(_timed("suite.schema_contract", contracts))
    if gates.guardrail_suite:
        def guardrail_lint() -> str:
            cases = dataset(gates.guardrail_suite.suite, GuardrailCase)  # type: ignore[union-attr]
            expected = {c.expected for c in cases}
            if expected != {"GUARDRAIL_INTERVENED", "NONE"}:
                raise InvalidInput("guardrail suite needs cases of both directions (must block and benign)")
            ids = [c.id for c in cases]
            if len(ids) != len(set(ids)):
                raise InvalidInput("guardrail suite: duplicate case ids")
            return f"{len(cases)} cases, both directions"
        checks.append(_timed("suite.guardrail", guardrail_lint))
    return checks


def junit_xml(checks: list[Check], path: Path) -> None:
    suite = ET.Element("testsuite", name="genai-cicd offline checks", tests=str(len(checks)),
                       failures=str(sum(not c.ok for c in checks)))
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname="genai-cicd", name=c.name, time=f"{c.seconds:.3f}")
        if not c.ok:
            ET.SubElement(case, "failure", message=c.message[:500]).text = c.message
        else:
            ET.SubElement(case, "system-out").text = c.message
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def build_bundle(release: Path, s3: Any, bucket: str, pipeline: str, execution_id: str, commit: str | None,
                 out_dir: Path) -> dict[str, Any]:
    manifest = upload_manifest_artifacts(release, s3, bucket)
    hashes: dict[str, str] = {}
    for ref in _refs(manifest):
        _, _, key = ref[5:].partition("/")
        if key.startswith("artifacts/"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            hashes[ref] = "sha256:" + hashlib.sha256(body).hexdigest()
    manifest["build"] = {"commit": commit, "pipeline": pipeline, "pipeline_execution_id": execution_id,
                         "artifacts": hashes}
    document = parse_manifest(manifest, str(release)).model_dump(mode="json", exclude_none=True)
    key = manifest_key(pipeline, execution_id)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(),
                  ContentType="application/json")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").write_text(json.dumps(document, indent=2) + "\n")
    release_input = {"manifest_uri": f"s3://{bucket}/{key}", "started_by": f"codepipeline:{pipeline}"}
    (out_dir / "release-input.json").write_text(json.dumps(release_input) + "\n")
    return {"manifest_uri": release_input["manifest_uri"], "artifacts": len(hashes), "out": str(out_dir)}


def _refs(manifest: dict[str, Any]) -> list[str]:
    return [ref for _, ref in parse_manifest(manifest).artifact_refs() if ref.startswith("s3://")]
