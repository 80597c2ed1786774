"""LoadManifest: validate the start input and the manifest, store the normalised copy.

Defaults for the canary plan and approval come from one SSM parameter
(template.yaml ``DefaultsParameter``, read through Powertools Parameters):
values in the manifest win. Nothing is written unless validation passes.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities import parameters
from pydantic import ValidationError

from genai_cicd import s3_keys
from genai_cicd.deps import Deps
from genai_cicd.errors import InvalidInput, ManifestInvalid
from genai_cicd.models.dataset import content_hash
from genai_cicd.models.limits import history_problem
from genai_cicd.models.manifest import (
    GATE_NAMES,
    AliasTraffic,
    CodeDeployTraffic,
    ReleaseManifest,
    decode_manifest_text,
    derive_change_kinds,
    parse_manifest,
)
from genai_cicd.models.tasks import ReleaseContext, ReleaseInput, ValidateInput
from genai_cicd.models.validation import describe_validation_error
from genai_cicd.ports import APP_TAG, TargetUnavailable

DEFAULTABLE = ("canary", "approval", "gates")


def merge_defaults(manifest: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Defaults fill what the manifest leaves out; gate defaults never switch a gate on."""
    merged = dict(manifest)
    for section in ("canary", "approval"):
        base = defaults.get(section)
        if isinstance(base, dict):
            own = merged.get(section)
            merged[section] = {**base, **own} if isinstance(own, dict) else (own if own is not None else base)
    gate_defaults = defaults.get("gates")
    own_gates = merged.get("gates")
    if isinstance(gate_defaults, dict) and isinstance(own_gates, dict):
        merged["gates"] = {
            name: ({**gate_defaults[name], **cfg} if isinstance(cfg, dict) and isinstance(gate_defaults.get(name), dict)
                   else cfg)
            for name, cfg in own_gates.items()
        }
    return merged


def read_defaults(deps: Deps) -> dict[str, Any]:
    value = parameters.get_parameter(deps.config.defaults_parameter, transform="json", max_age=60)
    if not isinstance(value, dict) or not set(value) <= set(DEFAULTABLE):
        raise ManifestInvalid(f"{deps.config.defaults_parameter}: defaults must be an object with keys "
                              f"{', '.join(DEFAULTABLE)}")
    return value


def check_artifacts(manifest: ReleaseManifest, deps: Deps, source: str) -> None:
    """Every file the release reads is in the artifact bucket (the only one its functions may read) and exists.

    Checked before anything is written, locked, announced or moved, so a typo or a reference to
    another team's bucket fails here with the field named, not halfway through the gates.
    """
    problems = []
    for field, ref in manifest.artifact_refs():
        try:
            bucket, _ = deps.artifacts.locate(ref)
        except InvalidInput as exc:
            problems.append(f"{source}: {field}: {exc}")
            continue
        if bucket != deps.config.artifact_bucket:
            problems.append(f"{source}: {field}: {ref} is outside the artifact bucket {deps.config.artifact_bucket}; "
                            "`genai-cicd bundle` uploads a release's files there")
        elif not deps.artifacts.exists(ref):
            problems.append(f"{source}: {field}: {ref} does not exist")
    if problems:
        raise ManifestInvalid("\n".join(problems))



def check_targets(manifest: ReleaseManifest, deps: Deps, source: str) -> None:
    """The traffic targets a release names must be registered for its app, before anything moves.

    A Lambda function (alias and CodeDeploy mechanisms) and a CodeDeploy deployment group are
    registered by the tag ``genai-cicd:app=<app>``; the traffic policies only allow tagged
    targets, and this check makes the tag's value match the manifest's app, so one team's
    manifest cannot shift another team's traffic. The AppConfig mechanism may move only the
    control plane's own flag (its policies name it).
    """
    plan, cfg = manifest.canary, deps.config
    problems: list[str] = []

    def tagged(kind: str, name: str, tags: dict[str, str]) -> None:
        owner = tags.get(APP_TAG)
        if owner != manifest.app:
            problems.append(f"{source}: canary: {kind} {name} is registered for "
                            f"{'no app' if owner is None else repr(owner)}, not {manifest.app!r} (tag {APP_TAG})")

    target = manifest.traffic()
    if isinstance(target, AliasTraffic | CodeDeployTraffic):
        try:
            function = deps.app_functions.registration(target.function_name)
        except TargetUnavailable as exc:
            raise ManifestInvalid(f"{source}: canary: function {target.function_name}: {exc}") from None
        tagged("function", target.function_name, function.tags)
        if isinstance(target, CodeDeployTraffic):
            arn = function.arn.split(":")
            group = f"{target.application_name}/{target.deployment_group_name}"
            group_arn = f"arn:{arn[1]}:codedeploy:{arn[3]}:{arn[4]}:deploymentgroup:{group}"
            tagged("CodeDeploy deployment group", group, deps.app_functions.deployment_group_tags(group_arn))
    else:
        flag = target.flag
        named = {"application_id": (flag.application_id, cfg.appconfig_application_id),
                 "environment_id": (flag.environment_id, cfg.appconfig_environment_id),
                 "configuration_profile_id": (flag.configuration_profile_id, cfg.appconfig_profile_id)}
        for field, (given, own) in named.items():
            if given is not None and given != own:
                problems.append(f"{source}: canary.appconfig.{field}: {given} is not the control plane's flag "
                                f"({own}); the stack may move only its own flag")
    if plan.probes is not None:
        # Probes invoke the app: only a function registered for this app (the probe policy needs the tag).
        name = plan.probes.function_name
        try:
            function = deps.app_functions.registration(name)
        except TargetUnavailable as exc:
            raise ManifestInvalid(f"{source}: canary.probes.function_name: {name}: {exc}") from None
        tagged("probe function", name, function.tags)
    if problems:
        raise ManifestInvalid("\n".join(problems))


def validate_release(event: ValidateInput, deps: Deps) -> ReleaseContext:
    try:
        start = ReleaseInput.model_validate(event.input)
    except ValidationError as exc:
        raise ManifestInvalid(describe_validation_error(exc, "execution input")) from None
    if start.manifest is not None:
        raw, source = start.manifest, "execution input manifest"
    elif start.manifest_uri is not None:
        source = start.manifest_uri
        raw = decode_manifest_text(deps.artifacts.read_text(source), source)
    else:  # ReleaseInput refuses this
        raise ManifestInvalid("execution input: give 'manifest' or 'manifest_uri'")
    manifest: ReleaseManifest = parse_manifest(merge_defaults(raw, read_defaults(deps)), source)
    if (too_long := history_problem(manifest)) is not None:
        raise ManifestInvalid(f"{source}: {too_long}")
    check_artifacts(manifest, deps, source)
    check_targets(manifest, deps, source)
    document = json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True)
    release_id = event.execution_name
    key = s3_keys.release_manifest(release_id)
    uri = deps.artifacts.put_text(key, document, "application/json")
    variants = {}
    prompt_hashes: dict[str, str] = {}
    for arm in ("baseline", "candidate"):
        v = getattr(manifest, arm)
        try:
            prompt_hashes[arm] = content_hash(deps.artifacts.read_bytes(v.prompt))
        except InvalidInput:
            prompt_hashes[arm] = "missing"
        variants[arm] = {"model_id": v.model_id, "prompt": v.prompt, "prompt_hash": prompt_hashes[arm],
                         "guardrail": f"{v.guardrail.id}:{v.guardrail.version}" if v.guardrail else None,
                         "lambda_version": v.lambda_version, "temperature": v.temperature,
                         "max_tokens": v.max_tokens}
    declared = set(manifest.change.kinds)
    derived = derive_change_kinds(manifest.baseline, manifest.candidate, prompt_hashes)
    effective = declared | derived
    selection = manifest.selected_gates(effective)
    gates = {name: selection[name] is None for name in GATE_NAMES}
    kinds_note = None
    if declared != derived:
        kinds_note = (f"declared change kinds [{', '.join(sorted(declared))}] differ from those found by comparing "
                      f"baseline and candidate [{', '.join(sorted(derived)) or 'none'}]; gates run for "
                      f"[{', '.join(sorted(effective))}]")
    # The candidate as released (content, not paths): the key under which gate looks are counted.
    candidate_hash = content_hash(json.dumps({**variants["candidate"], "prompt": None}, sort_keys=True))
    bedrock = manifest.gates.bedrock_evaluation
    return ReleaseContext(
        release_id=release_id, execution_arn=event.execution_arn, app=manifest.app,
        environment=manifest.environment, manifest_uri=uri, manifest_hash=content_hash(document),
        change_kinds=sorted(k.value for k in effective), declared_kinds=sorted(k.value for k in declared),
        derived_kinds=sorted(k.value for k in derived), kinds_note=kinds_note, candidate_hash=candidate_hash,
        gates=gates,
        skipped={name: reason for name, reason in selection.items() if reason is not None},
        approval_required=manifest.approval.required, approval_timeout_seconds=manifest.approval.timeout_seconds,
        bake_seconds=manifest.canary.bake_seconds, shadow=manifest.canary.shadow is not None,
        bedrock_poll_seconds=bedrock.poll_seconds if bedrock else 60,
        pipeline=start.pipeline, started_by=start.started_by, variants=variants,
        regression_sharded=bool(manifest.gates.prompt_regression and manifest.gates.prompt_regression.shard_size),
    )
