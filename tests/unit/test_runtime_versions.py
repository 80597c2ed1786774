"""One Python story: the Lambda runtime, the layer's build, and the Pythons the package accepts agree."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml
from packaging.specifiers import SpecifierSet

from tests.utils import ROOT


class Loader(yaml.SafeLoader):
    """CloudFormation's short tags (!Ref, !GetAtt, !Sub ...) read as plain values."""


Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template(path: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.load((ROOT / path).read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    return data


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = template("template.yaml")["Globals"]["Function"]["Runtime"]


def test_the_runtime_is_a_current_lambda_python_the_package_accepts() -> None:
    # python3.11 reached Lambda's deprecation on 2026-06-30 (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html)
    assert RUNTIME == "python3.13"
    accepted = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert all(v in accepted for v in ("3.11", "3.12", "3.13")) and "3.10" not in accepted
    assert RUNTIME.removeprefix("python") in accepted
    classifiers = {c.rsplit(" ", 1)[-1] for c in PYPROJECT["project"]["classifiers"] if "Python ::" in c}
    assert classifiers == {"3.11", "3.12", "3.13"}


def test_every_function_and_layer_of_both_templates_uses_that_runtime() -> None:
    for path in ("template.yaml", "examples/support_bot/template.yaml"):
        data = template(path)
        for name, resource in data["Resources"].items():
            props = resource.get("Properties") or {}
            if resource["Type"] == "AWS::Serverless::Function":
                assert props.get("Runtime", data.get("Globals", {}).get("Function", {}).get("Runtime")) == RUNTIME
            if resource["Type"] == "AWS::Serverless::LayerVersion":
                assert props["CompatibleRuntimes"] == [RUNTIME], (path, name)
                # built for Lambda's Python by shared/Makefile, whatever Python runs `sam build`
                assert resource["Metadata"]["BuildMethod"] == "makefile", (path, name)


def test_the_layer_makefiles_build_wheels_for_that_python_and_every_layer_has_a_target() -> None:
    version = RUNTIME.removeprefix("python")
    shared = (ROOT / "shared" / "Makefile").read_text()
    app = (ROOT / "shared" / "app_layer" / "Makefile").read_text()
    stats = (ROOT / "shared" / "stats_layer" / "Makefile").read_text()
    assert f"LAMBDA_PYTHON := {version}" in shared and f"LAMBDA_PYTHON := {version}" in stats
    assert f"--python-version {version}" in app
    targets = set(re.findall(r"^(build-[^:]+):", shared + app + stats, flags=re.M))
    names = {t for line in targets for t in line.split()}
    for path in ("template.yaml", "examples/support_bot/template.yaml"):
        layers = [n for n, r in template(path)["Resources"].items() if r["Type"] == "AWS::Serverless::LayerVersion"]
        assert {f"build-{n}" for n in layers} <= names, path
