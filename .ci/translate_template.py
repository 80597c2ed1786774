"""Translate a SAM template to the CloudFormation that `sam deploy` would submit, offline.

Usage: python .ci/translate_template.py template.yaml > translated.json

Runs in the security-tools virtualenv (aws-sam-translator). What `sam package`
does first is done here: local CodeUri/ContentUri become placeholder S3 URIs and
DefinitionUri is inlined, so the scanners see the real resources and policies.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from samtranslator.translator.transform import transform


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (!Ref, !Sub, !GetAtt ...)."""


def _intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = {"Ref": "Ref", "Condition": "Condition"}.get(suffix, f"Fn::{suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


class NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def packaged(template: dict[str, Any], base: Path) -> dict[str, Any]:
    for logical, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://packaged-artifacts/{logical}.zip"
        if isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((base / props.pop("DefinitionUri")).read_text())
    return template


def main() -> int:
    path = Path(sys.argv[1])
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = packaged(yaml.load(path.read_text(), Loader=CfnLoader), path.parent)
    print(json.dumps(transform(template, {}, NoManagedPolicies()), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
