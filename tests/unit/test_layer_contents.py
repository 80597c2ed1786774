"""What the layers hold: the deployed package never reaches the CLI, the simulator or moto; only the
functions whose imports reach the statistics (numpy, rouge-score) attach the statistics layer; and
no module of logic/, gates/, canary/ or models/ touches boto3, imports an adapter or asks for a raw
client.

The imports are read from the source (module-level and inside functions), so a lazy import of numpy
in a function that ships without StatsLayer fails here, not in Lambda.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.utils import ROOT

PACKAGE = ROOT / "shared" / "genai_cicd"
STATS = {"numpy", "rouge_score", "nltk", "scipy"}
NEVER_DEPLOYED = {"genai_cicd_local", "moto"}


class Loader(yaml.SafeLoader):
    """CloudFormation's short tags: !Ref X reads as {"Ref": X}, the others as None."""


Loader.add_multi_constructor(
    "!", lambda loader, suffix, node: {"Ref": loader.construct_scalar(node)}
    if suffix == "Ref" and isinstance(node, yaml.ScalarNode) else None)


def imported(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (dotted names, and each from-import's member)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def package_file(module: str) -> Path | None:
    base = ROOT / "shared" / Path(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def reach(entry: Path) -> tuple[set[str], set[str]]:
    """(genai_cicd modules, other top-level packages) reachable from a file through its imports."""
    modules: set[str] = set()
    external: set[str] = set()
    todo = [entry]
    while todo:
        for name in imported(todo.pop()):
            parts = name.split(".")
            if parts[0] != "genai_cicd":
                external.add(parts[0])
                continue
            for i in range(1, len(parts) + 1):
                module = ".".join(parts[:i])
                path = package_file(module)
                if path is not None and module not in modules:
                    modules.add(module)
                    todo.append(path)
    return modules, external


def functions(template: str) -> dict[str, tuple[Path, list[str]]]:
    data: dict[str, Any] = yaml.load((ROOT / template).read_text(), Loader=Loader)  # noqa: S506 - SafeLoader
    out = {}
    for name, resource in data["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        code = (ROOT / template).parent / props["CodeUri"]
        module = props["Handler"].rsplit(".", 1)[0]
        layers = [layer["Ref"] for layer in props.get("Layers", []) if isinstance(layer, dict)]
        out[name] = (code / f"{module}.py", layers)
    return out


def test_no_deployed_module_imports_the_cli_the_simulator_or_moto() -> None:
    deployed = [*PACKAGE.rglob("*.py"), *(ROOT / "functions").rglob("*.py"),
                *(ROOT / "shared" / "app_layer").rglob("*.py")]
    assert len(deployed) > 60
    for path in deployed:
        bad = {n for n in imported(path) if n.split(".")[0] in NEVER_DEPLOYED}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    # and the layer's source folder holds none of it
    assert not (ROOT / "shared" / "genai_cicd" / "cli").exists() and not (PACKAGE / "embedded").exists()
    assert not list((ROOT / "shared").rglob("genai_cicd_local"))


def test_the_core_layer_build_copies_the_genai_cicd_package_only() -> None:
    recipe = (ROOT / "shared" / "Makefile").read_text()
    copies = re.findall(r"^\tcp -R (\S+)", recipe, flags=re.M)
    assert copies == ["genai_cicd"]


@pytest.mark.parametrize("template", ["template.yaml", "examples/support_bot/template.yaml"])
def test_a_function_attaches_the_statistics_layer_exactly_when_its_imports_reach_the_statistics(template: str) -> None:
    found = functions(template)
    assert found
    stats_users = set()
    for name, (entry, layers) in found.items():
        _, external = reach(entry)
        needs = bool(external & STATS)
        assert needs == ("StatsLayer" in layers), f"{name}: imports reach {sorted(external & STATS)}, layers {layers}"
        assert not external & NEVER_DEPLOYED, name
        if needs:
            stats_users.add(name)
    if template == "template.yaml":
        # the gate functions; the canary, approvals, notifications and bookkeeping run without numpy
        assert stats_users == {"PromptRegressionFunction", "InjectionSuiteFunction", "SchemaContractFunction",
                               "GuardrailSuiteFunction", "BedrockEvaluationFunction", "QualityGateFunction"}


def test_the_reachability_reader_sees_a_lazy_import(tmp_path: Path) -> None:
    """The check above must see imports inside functions, or a lazy numpy would slip through."""
    entry = tmp_path / "app.py"
    entry.write_text("from genai_cicd.gates import scorers\n\ndef f():\n    import numpy\n")
    _, external = reach(entry)
    assert "numpy" in external and "rouge_score" in external  # scorers imports rouge_score in a function


@pytest.mark.parametrize("folder", ["logic", "gates", "canary", "models"])
def test_logic_gates_canary_and_models_import_no_aws_sdk_and_ask_for_no_client(folder: str) -> None:
    for path in (PACKAGE / folder).rglob("*.py"):
        sdk = {n for n in imported(path) if n.split(".")[0] in ("boto3", "botocore")}
        assert not sdk, f"{path.relative_to(ROOT)} imports {sorted(sdk)}"
        # adapters are reached through ports.py and built by deps.py, never imported here
        adapters = {n for n in imported(path) if n.startswith("genai_cicd.aws")}
        assert not adapters, f"{path.relative_to(ROOT)} imports the adapters {sorted(adapters)}"
        text = path.read_text()
        assert ".client(" not in text, f"{path.relative_to(ROOT)} asks for a raw client"


def test_a_gates_verdict_is_written_in_one_place_and_refuses_an_unknown_gate_or_status() -> None:
    from pydantic import ValidationError

    from genai_cicd.gates.common import write_verdict
    from tests.memory_store import MemoryStore

    writers = [p.name for p in (PACKAGE / "gates").rglob("*.py") if "verdict.json" in p.read_text()]
    assert writers == ["common.py"]
    store = MemoryStore()
    uri = write_verdict(store, "releases/r/gates/schema_contract", "schema_contract", "BLOCK", ["why"], valid_rate=0.5)
    assert store.read_json(uri) == {"gate": "schema_contract", "status": "BLOCK", "reasons": ["why"], "valid_rate": 0.5}
    for gate, status in (("no_such_gate", "PASS"), ("schema_contract", "SKIPPED")):
        with pytest.raises(ValidationError):
            write_verdict(store, "releases/r/gates/x", gate, status, [])  # type: ignore[arg-type]


def deployed_asserts(root: Path) -> list[str]:
    """Every ``assert`` statement under ``root``: file and line."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assert):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_deployed_module_narrows_with_an_assert(tmp_path: Path) -> None:
    """An assert is not a check (python -O drops it) and hides which field was missing: models and
    named errors say it instead."""
    assert deployed_asserts(PACKAGE) + deployed_asserts(ROOT / "functions") == []
    planted = tmp_path / "planted.py"
    planted.write_text("def f(x):\n    assert x is not None\n    return x\n")
    assert len(deployed_asserts(tmp_path)) == 1  # the reader sees one
