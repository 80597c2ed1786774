"""Template security: checkov and cfn-lint (with the serverless rules) on what `sam deploy` would submit.

Zero findings beyond .ci/security-approved.yaml, each approval with its reason;
approvals that no longer match a finding fail too. Plus the checks no scanner
makes: KMS on every store, no wildcard resource without a comment, no wildcard
action, least-privilege policies per function.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.utils import ROOT

SEC_BIN = ROOT / ".venv-sec" / "bin"
APPROVED = yaml.safe_load((ROOT / ".ci" / "security-approved.yaml").read_text())


def tool(name: str) -> Path:
    path = SEC_BIN / name
    assert path.exists(), f"{path} missing: run `make security-tools` (make test does it)"
    return path


@pytest.fixture(scope="module")
def translated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cfn") / "template.json"
    result = subprocess.run([str(tool("python")), str(ROOT / ".ci" / "translate_template.py"),
                             str(ROOT / "template.yaml")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out.write_text(result.stdout)
    return out


def test_checkov_finds_nothing_unapproved_on_the_translated_template(translated: Path) -> None:
    result = subprocess.run([str(tool("checkov")), "-f", str(translated), "--framework", "cloudformation",
                             "-o", "json", "--quiet", "--compact"], capture_output=True, text=True, check=False,
                            cwd=translated.parent)
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["resource_count"] > 50
    unapproved = sorted(f for f in failed if f[0] not in APPROVED["checkov"])
    stale = sorted(set(APPROVED["checkov"]) - {check for check, _ in failed})
    assert not unapproved, unapproved
    assert not stale, f"approved but no longer found (remove them): {stale}"


def test_cfn_lint_with_serverless_rules_finds_nothing_unapproved() -> None:
    result = subprocess.run([str(tool("cfn-lint")), "-a", "cfn_lint_serverless.rules", "--format", "parseable",
                             "--", str(ROOT / "template.yaml")], capture_output=True, text=True, check=False)
    rules = [line.split(":")[5] for line in result.stdout.splitlines() if line.count(":") >= 6]
    assert result.stdout.strip() == "" or rules, result.stdout
    unapproved = sorted({r for r in rules if r not in APPROVED["cfn-lint-serverless"]})
    stale = sorted(set(APPROVED["cfn-lint-serverless"]) - set(rules))
    assert not unapproved, result.stdout
    assert not stale, f"approved but no longer found (remove them): {stale}"


def resources(translated: Path) -> dict[str, Any]:
    return dict(json.loads(translated.read_text())["Resources"])


def test_every_store_is_encrypted_with_the_control_plane_key(translated: Path) -> None:
    key = {"Fn::GetAtt": ["ControlPlaneKey", "Arn"]}
    ref = {"Ref": "ControlPlaneKey"}
    for name, r in resources(translated).items():
        props = r.get("Properties", {})
        kind = r["Type"]
        if kind == "AWS::SNS::Topic" or kind == "AWS::SQS::Queue":
            assert props.get("KmsMasterKeyId") in (key, ref), name
        elif kind == "AWS::S3::Bucket":
            rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            assert rule["SSEAlgorithm"] == "aws:kms" and rule["KMSMasterKeyID"] in (key, ref), name
        elif kind == "AWS::DynamoDB::Table":
            assert props["SSESpecification"]["SSEEnabled"] and props["SSESpecification"]["KMSMasterKeyId"] in (key, ref)
        elif kind == "AWS::Logs::LogGroup":
            assert props.get("KmsKeyId") in (key, ref) and props.get("RetentionInDays"), name
        elif kind == "AWS::Lambda::Function":
            assert props["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogs"}, name  # never the default group
        elif kind == "AWS::Events::EventBus":
            assert props.get("KmsKeyIdentifier") in (key, ref), name


def statements(translated: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, r in resources(translated).items():
        if r["Type"] == "AWS::IAM::Role":
            for policy in r["Properties"].get("Policies", []):
                document = policy.get("PolicyDocument")
                if isinstance(document, dict):  # SAM policy templates under a condition are Fn::If
                    found += [(name, s) for s in document["Statement"]]
    return found


def test_no_policy_allows_every_action_or_a_wildcard_service(translated: Path) -> None:
    for role, s in statements(translated):
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        assert not [a for a in actions if a == "*" or a.endswith(":*")], (role, actions)


def test_every_wildcard_resource_in_the_template_carries_a_comment_saying_why() -> None:
    lines = (ROOT / "template.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.search(r'Resource: "\*"', line):
            assert "#" in line or lines[i - 1].strip().startswith("#"), f"template.yaml:{i + 1}: {line.strip()}"
        if re.search(r":\*\"$", line.strip()) and "Resource" in " ".join(lines[max(0, i - 3):i + 1]):
            window = lines[max(0, i - 4):i + 1]
            assert any(w.strip().startswith("#") or " # " in w for w in window), f"template.yaml:{i + 1}"


def test_the_vendored_sam_policy_templates_are_aws_sam_translators_own() -> None:
    """The embedded AWS expands SAM policy templates from a vendored copy (aws-sam-translator pins a pydantic
    that conflicts with ours); the copy must be the pinned translator's file, unchanged."""
    result = subprocess.run([str(tool("python")), "-c",
                             "import samtranslator, pathlib; print(pathlib.Path(samtranslator.__file__).parent / "
                             "'policy_templates_data' / 'policy_templates.json')"],
                            capture_output=True, text=True, check=True)
    theirs = json.loads(Path(result.stdout.strip()).read_text())
    ours = json.loads((ROOT / "local" / "genai_cicd_local" / "embedded" / "data" / "sam_policy_templates.json")
                      .read_text())
    assert ours == theirs


def test_the_embedded_roles_grant_what_sam_translates_them_to(translated: Path) -> None:
    """The statements the embedded AWS evaluates (embedded/iam.py) are those SAM deploys: per role, the same
    actions, expanded by the translator itself."""
    from genai_cicd_local.embedded.iam import template_statements
    from genai_cicd_local.embedded.provision import load_template

    sam: dict[str, set[str]] = {}
    for role, s in statements(translated):
        if s.get("Effect") == "Allow":
            sam.setdefault(role, set()).update(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ours: dict[str, set[str]] = {}
    for st in template_statements(load_template(ROOT / "template.yaml"), "t"):
        if st.effect == "Allow":
            ours.setdefault(st.source.split(" ")[1] + "Role", set()).update(st.actions)
    assert ours.keys() == sam.keys()
    for role in ours:
        assert ours[role] - UNDER_A_CONDITION == sam[role] - ADDED_BY_SAM, role


# Granted under a template condition (HasEvaluationRole): the translation above deploys the defaults.
UNDER_A_CONDITION = {"iam:PassRole"}
# SAM adds it for EventInvokeConfig's OnFailure queue: Lambda's service sends the failed event with the
# function's role; the function's code never calls it (so the embedded evaluator does not grant it).
ADDED_BY_SAM = {"sqs:SendMessage"}
