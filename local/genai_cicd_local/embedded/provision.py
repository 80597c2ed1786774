"""Create a SAM template's resources on the embedded AWS (moto + EmbeddedBackend).

The tests and the demo provision from template.yaml itself, so they cannot
drift from what ``sam deploy`` creates. Only the resource types the control
plane and the sample app use are supported; any other type is an error, not
a silent skip. Intrinsics supported: Ref, GetAtt, Sub, If/Equals/Not, Join.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genai_cicd_local.embedded.iam import Authorizer, statements_of
from genai_cicd_local.embedded.lambda_runtime import EmbeddedLambdaRuntime, FunctionSpec

ACCOUNT = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags into their long form."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule (AWS::S3::Bucket Rule) as PutBucketLifecycleConfiguration takes it."""
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters") or []]
    out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"],
                           "Filter": {"Tag": tags[0]} if len(tags) == 1 else
                           {"And": {"Prefix": rule.get("Prefix", ""), "Tags": tags}} if tags else
                           {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]}
    return out


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Stack:
    name: str
    region: str
    template: dict[str, Any]
    base_dir: Path
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)

    # -- intrinsics ------------------------------------------------------------
    def pseudo(self, name: str) -> str | None:
        return {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                "AWS::StackName": self.name, "AWS::URLSuffix": "amazonaws.com"}.get(name)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"Ref to unknown or not-yet-created {name}")

    def getatt(self, resource: str, attribute: str) -> str:
        try:
            return self.attributes[resource][attribute]
        except KeyError:
            raise KeyError(f"GetAtt {resource}.{attribute} is not available") from None

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(parts[0], parts[1])
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.conditions[cond] else no)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return a == b
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(i) for i in self.resolve(items))
        return {k: r for k, v in value.items() if (r := self.resolve(v)) is not _NO_VALUE}

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def repl(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in extra:
                return str(extra[token])
            if "." in token and not token.startswith("AWS::"):
                res, att = token.split(".", 1)
                return self.getatt(res, att)
            return str(self.ref(token))

        return re.sub(r"\$\{([^}!]+)\}", repl, text)


_NO_VALUE = object()


class Provisioner:
    """Creates resources type by type, in an order that satisfies the references used."""

    ORDER = ["AWS::KMS::Key", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::S3::BucketPolicy",
             "AWS::SNS::Topic", "AWS::Events::EventBus", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy",
             "AWS::SSM::Parameter", "AWS::AppConfig::Application", "AWS::AppConfig::Environment",
             "AWS::AppConfig::ConfigurationProfile", "AWS::AppConfig::DeploymentStrategy",
             "AWS::Serverless::LayerVersion", "AWS::Logs::LogGroup", "AWS::Serverless::Function",
             "AWS::Serverless::StateMachine", "AWS::Lambda::Version", "AWS::Lambda::Alias"]

    def __init__(self, boto_session: Any, runtime: EmbeddedLambdaRuntime,
                 authorizer: Authorizer | None = None) -> None:
        self.session = boto_session
        self.runtime = runtime
        self.authorizer = authorizer  # gets each function's and the state machine's role, as SAM expands them
        self._role_arn: str | None = None

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def role(self) -> str:
        if self._role_arn is None:
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                             "Principal": {"Service": "lambda.amazonaws.com"}}]}
            self._role_arn = self.client("iam").create_role(
                RoleName="genai-cicd-embedded", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        return self._role_arn

    def deploy(self, template_path: Path, stack_name: str, region: str,
               parameter_overrides: dict[str, str] | None = None) -> Stack:
        template = load_template(template_path)
        stack = Stack(stack_name, region, template, template_path.parent)
        for name, spec in (template.get("Parameters") or {}).items():
            value = (parameter_overrides or {}).get(name, spec.get("Default"))
            if value is None:
                raise ValueError(f"{template_path}: parameter {name} has no default and no value")
            stack.parameters[name] = str(value)
        for name, expr in (template.get("Conditions") or {}).items():
            stack.conditions[name] = bool(stack.resolve(expr))
        resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
        unknown = {r["Type"] for r in resources.values()} - set(self.ORDER)
        if unknown:
            raise ValueError(f"{template_path}: the embedded AWS cannot create {sorted(unknown)}")
        globals_fn = ((template.get("Globals") or {}).get("Function")) or {}
        deferred: list[tuple[str, dict[str, Any]]] = []
        for rtype in self.ORDER:
            for logical, resource in resources.items():
                if resource["Type"] != rtype:
                    continue
                try:
                    self._create(stack, logical, resource, globals_fn)
                except KeyError:
                    # Refers to something created later (a function naming the state
                    # machine that invokes its siblings): create it after the rest.
                    deferred.append((logical, resource))
        for logical, resource in deferred:
            self._create(stack, logical, resource, globals_fn)
        for name, out in (template.get("Outputs") or {}).items():
            stack.outputs[name] = str(stack.resolve(out["Value"]))
        return stack

    def _physical(self, stack: Stack, logical: str) -> str:
        return f"{stack.name}-{logical}"[:64]

    def _create(self, stack: Stack, logical: str, resource: dict[str, Any], globals_fn: dict[str, Any]) -> None:
        rtype = resource["Type"]
        props = stack.resolve(resource.get("Properties") or {})
        name = self._physical(stack, logical)
        arn_base = f"arn:aws:{{}}:{stack.region}:{ACCOUNT}:"
        if rtype == "AWS::KMS::Key":
            meta = self.client("kms").create_key(Description=props.get("Description", ""))["KeyMetadata"]
            stack.physical[logical] = meta["KeyId"]
            stack.attributes[logical] = {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}
        elif rtype == "AWS::DynamoDB::Table":
            self.client("dynamodb").create_table(
                TableName=name, AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"))
            stack.physical[logical] = name
            stack.attributes[logical] = {"Arn": arn_base.format("dynamodb") + f"table/{name}"}
        elif rtype == "AWS::S3::Bucket":
            bucket = name.lower()
            self.client("s3").create_bucket(Bucket=bucket, **(
                {} if stack.region == "us-east-1" else
                {"CreateBucketConfiguration": {"LocationConstraint": stack.region}}))
            stack.physical[logical] = bucket
            stack.attributes[logical] = {"Arn": f"arn:aws:s3:::{bucket}"}
            rules = (props.get("LifecycleConfiguration") or {}).get("Rules")
            if rules:
                self.client("s3").put_bucket_lifecycle_configuration(
                    Bucket=bucket, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]})
        elif rtype == "AWS::SNS::Topic":
            arn = self.client("sns").create_topic(Name=name)["TopicArn"]
            stack.physical[logical] = arn
            stack.attributes[logical] = {"TopicName": name, "TopicArn": arn}
        elif rtype == "AWS::Events::EventBus":
            bus = props.get("Name", name)
            arn = self.client("events").create_event_bus(Name=bus)["EventBusArn"]
            stack.physical[logical] = bus
            stack.attributes[logical] = {"Arn": arn, "Name": bus}
        elif rtype == "AWS::SQS::Queue":
            url = self.client("sqs").create_queue(QueueName=name)["QueueUrl"]
            stack.physical[logical] = url
            stack.attributes[logical] = {"Arn": arn_base.format("sqs") + name, "QueueName": name, "QueueUrl": url}
        elif rtype == "AWS::SSM::Parameter":
            self.client("ssm").put_parameter(Name=props["Name"], Value=props["Value"], Type=props["Type"])
            stack.physical[logical] = props["Name"]
        elif rtype == "AWS::AppConfig::Application":
            app_id = self.client("appconfig").create_application(Name=props["Name"])["Id"]
            stack.physical[logical] = app_id
        elif rtype == "AWS::AppConfig::Environment":
            stack.physical[logical] = self.client("appconfig").create_environment(
                ApplicationId=props["ApplicationId"], Name=props["Name"])["Id"]
        elif rtype == "AWS::AppConfig::ConfigurationProfile":
            stack.physical[logical] = self.client("appconfig").create_configuration_profile(
                ApplicationId=props["ApplicationId"], Name=props["Name"], LocationUri=props["LocationUri"],
                Type=props.get("Type", "AWS.Freeform"))["Id"]
        elif rtype == "AWS::AppConfig::DeploymentStrategy":
            stack.physical[logical] = self.client("appconfig").create_deployment_strategy(
                Name=props["Name"], DeploymentDurationInMinutes=int(props["DeploymentDurationInMinutes"]),
                FinalBakeTimeInMinutes=int(props.get("FinalBakeTimeInMinutes", 0)),
                GrowthFactor=float(props["GrowthFactor"]), GrowthType=props.get("GrowthType", "LINEAR"),
                ReplicateTo=props.get("ReplicateTo", "NONE"))["Id"]
        elif rtype == "AWS::Serverless::LayerVersion":
            # The layer is the installed genai_cicd package itself: nothing to create.
            stack.physical[logical] = arn_base.format("lambda") + f"layer:{name}:1"
        elif rtype == "AWS::Logs::LogGroup":
            stack.physical[logical] = f"/embedded/{name}"
            stack.attributes[logical] = {"Arn": arn_base.format("logs") + f"log-group:/embedded/{name}"}
        elif rtype == "AWS::Serverless::Function":
            self._function(stack, logical, name, props, stack.resolve(globals_fn))
        elif rtype == "AWS::Serverless::StateMachine":
            definition = (stack.base_dir / props["DefinitionUri"]).read_text(encoding="utf-8")
            for key, value in (props.get("DefinitionSubstitutions") or {}).items():
                definition = definition.replace("${" + key + "}", str(value))
            name = props.get("Name", name)  # template.yaml names it, so policies can name it without a cycle
            arn = self.client("stepfunctions").create_state_machine(
                name=name, definition=definition, roleArn=self.role(), type=props.get("Type", "STANDARD"))[
                "stateMachineArn"]
            stack.physical[logical] = arn
            stack.attributes[logical] = {"Arn": arn, "Name": name}
            self._role(stack, logical, "$states", props)
        elif rtype == "AWS::Lambda::Version":
            v = self.client("lambda").publish_version(FunctionName=props["FunctionName"])
            stack.physical[logical] = v["FunctionArn"]
            stack.attributes[logical] = {"Version": v["Version"]}
        elif rtype == "AWS::Lambda::Alias":
            a = self.client("lambda").create_alias(FunctionName=props["FunctionName"], Name=props["Name"],
                                                   FunctionVersion=props["FunctionVersion"])
            stack.physical[logical] = a["AliasArn"]
        # Encryption settings and bucket, key and queue policies are not enforced; identity policies are
        # (embedded/iam.py).

    def _role(self, stack: Stack, logical: str, caller: str, props: dict[str, Any]) -> None:
        """The role SAM creates for a function or state machine (<logical>Role), from its Policies."""
        if self.authorizer is None:
            return
        owner = f"{stack.name} {logical}"
        principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{stack.name}-{logical}Role/{caller.lstrip('$')}"
        self.authorizer.add_role(caller, principal, statements_of(props.get("Policies"), stack.resolve, owner))

    def _function(self, stack: Stack, logical: str, name: str, props: dict[str, Any], glob: dict[str, Any]) -> None:
        env = {**((glob.get("Environment") or {}).get("Variables") or {}),
               **((props.get("Environment") or {}).get("Variables") or {})}
        env = {k: str(v) for k, v in env.items()}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", "# code runs in-process from CodeUri; see EmbeddedLambdaRuntime\n")
        arn = self.client("lambda").create_function(
            FunctionName=name, Runtime=props.get("Runtime", glob.get("Runtime", "python3.13")), Role=self.role(),
            Handler=props["Handler"], Code={"ZipFile": buf.getvalue()},
            Timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
            MemorySize=int(props.get("MemorySize", glob.get("MemorySize", 128))),
            Environment={"Variables": env},
            Tags={str(k): str(v) for k, v in {**(glob.get("Tags") or {}), **(props.get("Tags") or {})}.items()},
        )["FunctionArn"]
        spec = FunctionSpec(name=name, arn=arn, code_dir=(stack.base_dir / props["CodeUri"]).resolve(),
                            handler=props["Handler"], environment=env,
                            timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                            memory=int(props.get("MemorySize", glob.get("MemorySize", 128))))
        self.runtime.register(spec)
        self._role(stack, logical, name, props)
        stack.functions[logical] = spec
        stack.physical[logical] = name
        stack.attributes[logical] = {"Arn": arn}
        for event_name, event in (props.get("Events") or {}).items():
            if event["Type"] == "EventBridgeRule":
                p = event["Properties"]
                stack.rules.append({"name": f"{name}-{event_name}", "pattern": p["Pattern"], "function": name,
                                    "dead_letter_arn": (p.get("DeadLetterConfig") or {}).get("Arn")})
                self.client("events").put_rule(Name=f"{name}-{event_name}"[:64],
                                               EventPattern=json.dumps(p["Pattern"]))
