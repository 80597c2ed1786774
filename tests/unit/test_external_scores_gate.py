"""The prompt-regression gate judging another tool's score files from the bundle: same verdict rules,
and every case of the dataset expected (absent cases, unknown metrics and unreadable files block)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from genai_cicd.errors import ManifestInvalid
from genai_cicd.gates.external_scores import judge_external_scores
from genai_cicd.models.manifest import parse_manifest
from tests.memory_store import MemoryStore
from tests.utils import ROOT

TOOLS = ROOT / "examples" / "eval_tools"
SCORES = ROOT / "examples" / "scores"


def manifest(regression: dict[str, Any]) -> Any:
    return parse_manifest({
        "app": "a", "environment": "e", "change": {"kinds": ["prompt"]},
        "baseline": {"prompt": "base.txt", "model_id": "m"}, "candidate": {"prompt": "cand.txt", "model_id": "m"},
        "gates": {"prompt_regression": regression}})


def store(**files: str) -> MemoryStore:
    return MemoryStore(files)


def test_a_promptfoo_run_in_the_bundle_blocks_the_trimmed_prompt() -> None:
    m = manifest({"dataset": "cases.jsonl", "scores": {
        "baseline": "results.json", "candidate": "results.json",
        "metrics": {"assertions": {"threshold": 0.5, "margin": 0.1}, "rouge": {"threshold": 0.3, "margin": 0.1}}}})
    s = store(**{"cases.jsonl": (TOOLS / "cases.jsonl").read_text(),
                 "results.json": (TOOLS / "promptfoo-results.json").read_text()})
    result = judge_external_scores(m.gates.prompt_regression, s, "ev", run=1)  # type: ignore[arg-type]
    assert result.status == "BLOCK" and result.stats["model_calls"] == 0
    assert result.summary.startswith("from a score file: assertions block")
    verdict = json.loads(s.read_text("ev/verdict.json"))
    assert verdict["source"]["baseline"] == "results.json" and {v["metric"] for v in verdict["metrics"]} == {
        "assertions", "rouge"}
    # outputs.jsonl in the regression gate's row shape: the report's worst cases read it
    rows = [json.loads(line) for line in s.read_text("ev/outputs.jsonl").splitlines()]
    assert len(rows) == 48 and {r["arm"] for r in rows} == {"baseline", "candidate"}


def score_lines_gate(**extra: Any) -> tuple[Any, MemoryStore]:
    m = manifest({"dataset": "golden.jsonl", "scores": {
        "baseline": "b.jsonl", "candidate": "c.jsonl", "metrics": {"rouge_l": {"threshold": 0.5, "margin": 0.1}},
        **extra}})
    return m, store(**{"golden.jsonl": (ROOT / "examples/support_bot/data/golden.jsonl").read_text(),
                       "b.jsonl": (SCORES / "baseline.jsonl").read_text(),
                       "c.jsonl": (SCORES / "candidate.jsonl").read_text()})


def test_score_lines_that_show_non_inferiority_pass() -> None:
    m, s = score_lines_gate()
    result = judge_external_scores(m.gates.prompt_regression, s, "ev")  # type: ignore[arg-type]
    assert result.status == "PASS", result.reasons


def test_a_dataset_case_absent_from_both_files_blocks_even_when_the_rest_passes() -> None:
    m, s = score_lines_gate()
    for name in ("b.jsonl", "c.jsonl"):
        kept = [line for line in s.read_text(name).splitlines() if '"faq-060"' not in line]
        s.put_text(name, "\n".join(kept) + "\n")
    result = judge_external_scores(m.gates.prompt_regression, s, "ev")  # type: ignore[arg-type]
    assert result.status == "BLOCK"
    assert any("1 of 60 dataset cases are absent from the score files (faq-060)" in r for r in result.reasons)


def test_a_metric_the_files_do_not_have_blocks() -> None:
    m, s = score_lines_gate(metrics={"rouge_l": {"threshold": 0.5, "margin": 0.1},
                                     "faithfulness": {"threshold": 0.5, "margin": 0.1}})
    result = judge_external_scores(m.gates.prompt_regression, s, "ev")  # type: ignore[arg-type]
    assert result.status == "BLOCK" and any(r.startswith("faithfulness: metric 'faithfulness' is missing")
                                            for r in result.reasons)


def test_an_unreadable_score_file_blocks_and_says_why() -> None:
    m, s = score_lines_gate()
    s.put_text("c.jsonl", '{"case_id": "faq-001", "repeat": 0, "scores": {"rouge_l": 1.5}}\n')
    result = judge_external_scores(m.gates.prompt_regression, s, "ev")  # type: ignore[arg-type]
    assert result.status == "BLOCK" and "the score files cannot be judged: c.jsonl:1" in result.reasons[0]


@pytest.mark.parametrize(("regression", "says"), [
    ({"dataset": "d.jsonl"}, "name at least one metric"),
    ({"dataset": "d.jsonl", "metrics": {"rouge_l": {"threshold": 0.5, "margin": 0.1}},
      "scores": {"baseline": "b", "candidate": "c", "metrics": {"x": {"threshold": 0.5, "margin": 0.1}}}},
     "put the metric policies under scores.metrics"),
    ({"dataset": "d.jsonl", "shard_size": 100,
      "scores": {"baseline": "b", "candidate": "c", "metrics": {"x": {"threshold": 0.5, "margin": 0.1}}}},
     "nothing to shard"),
    ({"dataset": "d.jsonl", "scores": {"baseline": "b", "candidate": "c", "format": "csv",
                                       "metrics": {"x": {"threshold": 0.5, "margin": 0.1}}}}, "format"),
])
def test_a_scores_section_that_cannot_work_is_refused_at_validation(regression: dict[str, Any], says: str) -> None:
    with pytest.raises(ManifestInvalid, match=says):
        manifest(regression)
