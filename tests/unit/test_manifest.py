"""Given manifests good and bad, when validated, then errors name the field and nothing else is assumed."""

from __future__ import annotations

import copy

import pytest

from genai_cicd.errors import ManifestInvalid
from genai_cicd.models.manifest import load_manifest_text, parse_manifest
from tests.utils import sample_manifest


def test_given_sample_manifests_when_parsed_then_valid() -> None:
    for name in ("good-prompt", "quality-regression", "injection-regression", "slow-model"):
        manifest = parse_manifest(sample_manifest(name))
        assert manifest.app == "support-bot"


def test_given_unknown_field_when_parsed_then_error_names_it() -> None:
    data = sample_manifest()
    data["gates"]["prompt_regresion"] = data["gates"].pop("prompt_regression")
    with pytest.raises(ManifestInvalid, match="gates.prompt_regresion"):
        parse_manifest(data, "m.yaml")


def test_given_wrong_type_when_parsed_then_error_names_field_path() -> None:
    data = sample_manifest()
    data["canary"]["steps"] = [25, 5]
    with pytest.raises(ManifestInvalid, match="canary.steps"):
        parse_manifest(data)


def test_given_identical_variants_when_parsed_then_refused() -> None:
    data = sample_manifest()
    data["candidate"] = copy.deepcopy(data["baseline"])
    with pytest.raises(ManifestInvalid, match="identical"):
        parse_manifest(data)


def test_given_broken_yaml_when_loaded_then_line_is_named() -> None:
    with pytest.raises(ManifestInvalid, match=r"m.yaml:4: not valid YAML"):
        load_manifest_text("app: a\nenvironment: b\nchange: [unclosed\n", "m.yaml")


def test_given_alias_mechanism_without_versions_when_parsed_then_refused() -> None:
    data = sample_manifest()
    data["canary"]["mechanism"] = "lambda_alias"
    data["canary"]["alias"] = {"function_name": "fn", "alias": "live"}
    with pytest.raises(ManifestInvalid, match="lambda_version"):
        parse_manifest(data)


def test_given_stack_defaults_when_merged_then_manifest_wins_and_no_gate_is_switched_on() -> None:
    from genai_cicd.logic.validate import merge_defaults

    data = sample_manifest("quality-regression")
    defaults = {"canary": {"bake_seconds": 300, "alpha": 0.01}, "approval": {"timeout_seconds": 60},
                "gates": {"injection_suite": {"max_success_rate": 0.01, "repeats": 2},
                          "guardrail_suite": {"min_block_rate": 0.99}}}
    merged = parse_manifest(merge_defaults(data, defaults))
    assert merged.canary.bake_seconds == 60 and merged.canary.alpha == 0.01
    assert merged.approval.timeout_seconds == 60
    assert merged.gates.injection_suite is not None
    assert merged.gates.injection_suite.max_success_rate == 0.05 and merged.gates.injection_suite.repeats == 2
    assert merged.gates.guardrail_suite is None


def test_given_change_kinds_when_gates_run_auto_then_only_needed_gates_run() -> None:
    data = sample_manifest("slow-model")  # configures regression, injection and guardrail suites
    data["change"]["kinds"] = ["guardrail"]
    assert {g for g, why in parse_manifest(data).selected_gates().items() if why is None} == {
        "guardrail_suite", "injection_suite"}
    data["change"]["kinds"] = ["prompt"]
    selected = parse_manifest(data).selected_gates()
    assert selected["guardrail_suite"] == "not needed for a prompt change (gates.run: auto)"
    assert selected["prompt_regression"] is None and selected["injection_suite"] is None
    data["change"]["kinds"] = ["model"]
    assert all(why is None for g, why in parse_manifest(data).selected_gates().items()
               if g in ("prompt_regression", "guardrail_suite", "injection_suite"))


def test_given_explicit_gate_list_when_parsed_then_it_overrides_and_must_be_configured() -> None:
    data = sample_manifest("slow-model")
    data["gates"]["run"] = ["guardrail_suite"]
    selected = parse_manifest(data).selected_gates()
    assert [g for g, why in selected.items() if why is None] == ["guardrail_suite"]
    data["gates"]["run"] = ["schema_contract"]
    with pytest.raises(ManifestInvalid, match="no configuration: schema_contract"):
        parse_manifest(data)


def test_change_kinds_are_derived_from_the_variants_and_declarations_only_add_gates() -> None:
    from genai_cicd.models.manifest import ChangeKind, derive_change_kinds

    data = sample_manifest("good-prompt")
    m = parse_manifest(data)
    same = {"baseline": "sha256:a", "candidate": "sha256:a"}
    assert derive_change_kinds(m.baseline, m.candidate, {"baseline": "sha256:a", "candidate": "sha256:b"}) == {
        ChangeKind.PROMPT}
    assert derive_change_kinds(m.baseline, m.candidate, {"baseline": "sha256:a", "candidate": "missing"}) == {
        ChangeKind.PROMPT}
    assert derive_change_kinds(m.baseline, m.candidate, same) == set()
    for field, value, kind in [("model_id", "local.other", ChangeKind.MODEL), ("temperature", 0.9, ChangeKind.CONFIG),
                               ("max_tokens", 64, ChangeKind.CONFIG), ("lambda_version", "7", ChangeKind.CODE),
                               ("guardrail", {"id": "supportbot", "version": "2"}, ChangeKind.GUARDRAIL)]:
        changed = parse_manifest({**data, "candidate": {**data["candidate"], field: value}})
        assert derive_change_kinds(changed.baseline, changed.candidate, same) == {kind}, field
    # Declared guardrail + derived prompt: the prompt's gates run; the declaration cannot remove them.
    data["change"]["kinds"] = ["guardrail"]
    selected = parse_manifest(data).selected_gates({ChangeKind.GUARDRAIL, ChangeKind.PROMPT})
    assert selected["prompt_regression"] is None and selected["guardrail_suite"] is None


def test_every_number_in_the_manifest_is_finite() -> None:
    for section, field, value in [("candidate", "temperature", float("nan")),
                                  ("canary", "detect_ratio", float("inf")),
                                  ("canary", "bake_seconds", float("nan"))]:
        data = sample_manifest("good-prompt")
        data[section] = {**data[section], field: value}
        with pytest.raises(ManifestInvalid, match=field):
            parse_manifest(data)


def test_artifact_refs_name_every_file_the_release_reads() -> None:
    refs = dict(parse_manifest(sample_manifest("good-prompt")).artifact_refs())
    assert set(refs) == {"baseline.prompt", "candidate.prompt", "gates.prompt_regression.dataset",
                         "gates.injection_suite.corpus", "gates.guardrail_suite.suite"}
