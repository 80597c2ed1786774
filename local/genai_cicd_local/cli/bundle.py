"""What the pipeline's build step runs: offline checks, then the release bundle.

``check`` needs no model: it validates the release manifest, every dataset, suite
and score file it names, the JSON Schemas of the structured-output contracts, and
lints the guardrail suite. Local files are read relative to the manifest; ``s3://``
references are read with the caller's AWS credentials, and reported as unchecked
(not failed) where there are none. It writes a JUnit XML report for CodeBuild.

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

from genai_cicd import s3_keys
from genai_cicd.errors import InvalidInput
from genai_cicd.gates.eval_formats import rows_from
from genai_cicd.logic.pipeline_events import manifest_key
from genai_cicd.models.dataset import GoldenCase, GuardrailCase, InjectionCase, parse_jsonl
from genai_cicd.models.manifest import ReleaseManifest, load_manifest_file, parse_manifest
from genai_cicd_local.cli.paths import resolve_ref
from genai_cicd_local.cli.upload import upload_manifest_artifacts


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    seconds: float = 0.0
    unchecked: bool = False  # could not be checked here (an s3:// reference without AWS credentials)


class Unchecked(Exception):
    """A reference that cannot be checked on this machine; reported, not failed."""


def _timed(name: str, fn: Any) -> Check:
    started = time.perf_counter()
    try:
        message = fn()
        return Check(name, True, message, time.perf_counter() - started)
    except Unchecked as exc:
        return Check(name, True, f"unchecked: {exc}", time.perf_counter() - started, unchecked=True)
    except (InvalidInput, OSError, UnicodeDecodeError, jsonschema.SchemaError) as exc:
        return Check(name, False, str(exc), time.perf_counter() - started)


def _s3_bytes(ref: str) -> bytes:
    """An s3:// reference's content, read with the caller's AWS credentials when there are any."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.Session()
    if session.get_credentials() is None:
        raise Unchecked(f"{ref}: no AWS credentials here, so this s3:// reference was not read "
                        "(run check where the build's role is, or bundle verifies it on upload)")
    bucket, _, key = ref[5:].partition("/")
    if not bucket or not key:
        raise InvalidInput(f"{ref}: expected s3://bucket/key")
    try:
        data: bytes = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return data
    except ClientError as exc:
        raise InvalidInput(f"{ref}: cannot read: {exc.response.get('Error', {}).get('Code', exc)}") from None
    except BotoCoreError as exc:
        raise Unchecked(f"{ref}: AWS unreachable ({exc})") from None


def _bytes(release: Path, ref: str, field: str = "reference") -> tuple[str, bytes]:
    """(name for messages, content) of a local path (relative to the manifest) or an s3:// reference."""
    if ref.startswith("s3://"):
        return ref, _s3_bytes(ref)
    path = resolve_ref(release, field, ref)
    return str(path), path.read_bytes()


def offline_checks(release: Path) -> list[Check]:
    checks = [_timed("manifest", lambda: f"{load_manifest_file(release).app}: valid")]
    if not checks[0].ok:
        return checks
    manifest: ReleaseManifest = load_manifest_file(release)
    gates = manifest.gates

    def dataset(ref: str, model: type[Any], field: str) -> Any:
        name, data = _bytes(release, ref, field)
        return parse_jsonl(data.decode("utf-8"), model, name)

    for arm in ("baseline", "candidate"):
        prompt = getattr(manifest, arm).prompt
        def prompt_size(p: str = prompt, a: str = arm) -> str:
            return f"{len(_bytes(release, p, f'{a}.prompt')[1].decode('utf-8')):,} characters"
        checks.append(_timed(f"prompt.{arm}", prompt_size))
    regression, evaluation = gates.prompt_regression, gates.bedrock_evaluation
    if regression is not None:
        checks.append(_timed("dataset.prompt_regression", lambda: "{} cases".format(len(dataset(
            regression.dataset, GoldenCase, "gates.prompt_regression.dataset")))))
        if regression.scores is not None:
            ext = regression.scores
            for arm in ("baseline", "candidate"):
                def scores(arm: str = arm) -> str:
                    ref = getattr(ext, arm)
                    name, data = _bytes(release, ref, f"gates.prompt_regression.scores.{arm}")
                    rows = rows_from(name, data, ext.format, getattr(ext, f"{arm}_variant"), arm)
                    found = {m for _, _, sc in rows for m in (sc or {})}
                    missing = sorted(set(ext.metrics) - found)
                    if missing:
                        raise InvalidInput(f"{name}: no score for {', '.join(missing)} (the file has "
                                           f"{', '.join(sorted(found)) or 'none'})")
                    return f"{len(rows)} results, metrics {', '.join(sorted(found))}"
                checks.append(_timed(f"scores.{arm}", scores))
    if evaluation is not None:
        checks.append(_timed("dataset.bedrock_evaluation", lambda: "{} cases".format(len(dataset(
            evaluation.dataset, GoldenCase, "gates.bedrock_evaluation.dataset")))))
    injection = gates.injection_suite
    if injection is not None:
        checks.append(_timed("suite.injection", lambda: "{} attacks".format(len(dataset(
            injection.corpus, InjectionCase, "gates.injection_suite.corpus")))))
    contract = gates.schema_contract
    if contract is not None:
        def contracts() -> str:
            cases = dataset(contract.dataset, GoldenCase, "gates.schema_contract.dataset")
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
    guardrail = gates.guardrail_suite
    if guardrail is not None:
        def guardrail_lint() -> str:
            cases = dataset(guardrail.suite, GuardrailCase, "gates.guardrail_suite.suite")
            expected = {c.expected for c in cases}
            if expected != {"GUARDRAIL_INTERVENED", "NONE"}:
                raise InvalidInput("guardrail suite needs cases of both directions (must block and benign)")
            ids = [c.id for c in cases]
            if len(ids) != len(set(ids)):
                raise InvalidInput("guardrail suite: duplicate case ids")
            return f"{len(cases)} cases, both directions"
        checks.append(_timed("suite.guardrail", guardrail_lint))
    return checks


def junit_xml(checks: list[Check], path: Path, suite_name: str = "genai-cicd offline checks") -> None:
    """A JUnit report (what CodeBuild and most CI systems show as test results): one test case per check."""
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(checks)),
                       failures=str(sum(not c.ok for c in checks)), skipped=str(sum(c.unchecked for c in checks)))
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname="genai-cicd", name=c.name, time=f"{c.seconds:.3f}")
        if not c.ok:
            ET.SubElement(case, "failure", message=c.message[:500]).text = c.message
        elif c.unchecked:
            ET.SubElement(case, "skipped", message=c.message[:500])
        else:
            ET.SubElement(case, "system-out").text = c.message
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def build_bundle(release: Path, s3: Any, bucket: str, pipeline: str, execution_id: str, commit: str | None,
                 out_dir: Path) -> dict[str, Any]:
    # Everything the offline checks can read is validated before the first upload: a bad dataset line
    # or schema found later would leave orphaned artifacts and a half-written release.
    failed = [c for c in offline_checks(release) if not c.ok]
    if failed:
        raise InvalidInput("nothing was uploaded: " + "; ".join(f"{c.name}: {c.message}" for c in failed))
    manifest = upload_manifest_artifacts(release, s3, bucket)
    hashes: dict[str, str] = {}
    for ref in _refs(manifest):
        _, _, key = ref[5:].partition("/")
        if key.startswith(s3_keys.ARTIFACTS):
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
