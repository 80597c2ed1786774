"""`gate compare` reads what promptfoo, DeepEval and Inspect AI wrote (examples/eval_tools, made by
running the tools) and judges it like our own score files; broken or incomplete results fail closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genai_cicd.errors import InvalidInput
from genai_cicd.gates.compare import compare_files
from genai_cicd.gates.eval_formats import load_document, read_rows
from genai_cicd_local.cli.main import main
from tests.utils import ROOT

TOOLS = ROOT / "examples" / "eval_tools"
CASES = [json.loads(line)["id"] for line in (TOOLS / "cases.jsonl").read_text().splitlines() if line]
PAIRS = {
    "promptfoo": (TOOLS / "promptfoo-results.json", TOOLS / "promptfoo-results.json"),
    "deepeval": (TOOLS / "deepeval-baseline.json", TOOLS / "deepeval-candidate.json"),
    "inspect": (TOOLS / "inspect-baseline.json", TOOLS / "inspect-candidate.json"),
}
METRICS = {"promptfoo": {"assertions", "rouge", "pass"}, "deepeval": {"Pattern Match", "Reference Recall"},
           "inspect": {"includes", "match"}}


def judge(baseline: Path, candidate: Path, **kw: Any) -> dict[str, Any]:
    return compare_files(baseline, candidate, metric=kw.pop("metric", None), margin=kw.pop("margin", 0.1),
                         alpha=0.05, threshold=0.0, **kw)


@pytest.mark.parametrize("tool", sorted(PAIRS))
def test_each_tools_real_output_is_recognised_and_mapped_to_cases_repeats_and_metrics(tool: str) -> None:
    base, cand = PAIRS[tool]
    assert load_document(cand)[0] == tool
    rows = read_rows(cand, None, None, "candidate")
    # 8 cases x 3 repeats (promptfoo --repeat 3, deepeval --repeat 3, Inspect epochs=3)
    assert sorted({case for case, _, _ in rows}) == sorted(CASES)
    assert sorted({repeat for _, repeat, _ in rows}) == [0, 1, 2]
    assert len(rows) == 24
    assert {m for _, _, scores in rows for m in (scores or {})} == METRICS[tool]
    assert all(0.0 <= v <= 1.0 for _, _, scores in rows for v in (scores or {}).values())


@pytest.mark.parametrize("tool", sorted(PAIRS))
def test_the_trimmed_prompt_is_blocked_on_every_tools_metrics(tool: str) -> None:
    verdict = judge(*PAIRS[tool])
    assert verdict["format"] == tool
    assert verdict["decision"] == "block"
    assert {m["metric"] for m in verdict["metrics"]} == METRICS[tool]
    assert all(m["candidate_mean"] < m["baseline_mean"] for m in verdict["metrics"])


def test_the_inspect_eval_log_reads_like_its_json_form() -> None:
    assert read_rows(TOOLS / "inspect-candidate.eval") == read_rows(TOOLS / "inspect-candidate.json")


def test_a_run_compared_with_itself_is_never_blocked() -> None:
    # Same scores in both arms: the difference is 0 and cannot be shown below -margin.
    verdict = judge(TOOLS / "deepeval-baseline.json", TOOLS / "deepeval-baseline.json", margin=0.3)
    assert verdict["decision"] in ("pass", "inconclusive")
    assert all(m["difference"] == 0 for m in verdict["metrics"])


def test_promptfoo_variants_are_chosen_by_label_and_refused_when_unknown() -> None:
    file = PAIRS["promptfoo"][0]
    swapped = judge(file, file, baseline_variant="candidate", candidate_variant="baseline")
    assert all(m["candidate_mean"] > m["baseline_mean"] for m in swapped["metrics"])
    with pytest.raises(InvalidInput, match="no variant 'v2'; it holds baseline, candidate"):
        judge(file, file, candidate_variant="v2")


def _write(tmp: Path, name: str, doc: Any) -> Path:
    path = tmp / name
    path.write_text(json.dumps(doc))
    return path


def test_a_case_missing_from_the_candidates_file_counts_against_it(tmp_path: Path) -> None:
    doc = json.loads(PAIRS["deepeval"][0].read_text())
    kept = dict(doc, testCases=[t for t in doc["testCases"] if t["name"] != "faq-003"])
    verdict = judge(PAIRS["deepeval"][0], _write(tmp_path, "cand.json", kept), margin=0.3)
    assert all("faq-003" in m["missing_cases"] for m in verdict["metrics"])
    assert all(m["missing_candidate"] == 3 for m in verdict["metrics"])
    assert verdict["decision"] != "pass"


def test_an_errored_promptfoo_result_is_a_missing_score_not_a_pass(tmp_path: Path) -> None:
    doc = json.loads(PAIRS["promptfoo"][0].read_text())
    for r in doc["results"]["results"]:
        if r["provider"]["label"] == "candidate" and r["testCase"]["description"] == "faq-001":
            r.update(failureReason=2, error="provider timed out", success=False)
    rows = read_rows(_write(tmp_path, "r.json", doc), None, None, "candidate")
    assert [(c, rep) for c, rep, s in rows if s is None] == [("faq-001", 0), ("faq-001", 1), ("faq-001", 2)]


def test_an_inspect_sample_missing_from_the_log_is_expected_from_its_dataset(tmp_path: Path) -> None:
    doc = json.loads(PAIRS["inspect"][1].read_text())
    doc["samples"] = [s for s in doc["samples"] if not (s["id"] == "faq-022" and s["epoch"] == 2)]
    rows = read_rows(_write(tmp_path, "log.json", doc))
    assert ("faq-022", 1, None) in rows and len(rows) == 24


def test_an_unfinished_inspect_run_is_not_judged(tmp_path: Path) -> None:
    doc = dict(json.loads(PAIRS["inspect"][1].read_text()), status="cancelled")
    with pytest.raises(InvalidInput, match="status 'cancelled'"):
        read_rows(_write(tmp_path, "log.json", doc))


@pytest.mark.parametrize("value", [1.5, -0.1])
def test_a_score_outside_0_1_is_refused_naming_the_case(tmp_path: Path, value: float) -> None:
    doc = json.loads(PAIRS["deepeval"][1].read_text())
    doc["testCases"][4]["metricsData"][1]["score"] = value
    with pytest.raises(InvalidInput, match=r"faq-002.*Reference Recall = .* outside \[0, 1\]"):
        read_rows(_write(tmp_path, "d.json", doc))


def test_a_success_written_as_text_is_refused_never_read_as_passed(tmp_path: Path) -> None:
    """promptfoo's ``success`` is a boolean: "false" (a non-empty string) once read as a pass (issue #28)."""
    doc = json.loads(PAIRS["promptfoo"][0].read_text())
    for r in doc["results"]["results"]:
        if r["provider"]["label"] == "candidate" and r["testCase"]["description"] == "faq-001":
            r["success"] = "false"
    with pytest.raises(InvalidInput, match=r"results\.results\.\d+\.success: Input should be a valid boolean"):
        read_rows(_write(tmp_path, "r.json", doc), None, None, "candidate")


@pytest.mark.parametrize(("tool", "plant"), [
    ("promptfoo", lambda d: next(r for r in d["results"]["results"] if r["provider"]["label"] == "candidate")[
        "namedScores"].update(assertions="0.9")),
    ("deepeval", lambda d: d["testCases"][2]["metricsData"][0].update(score="0.9")),
    ("inspect", lambda d: d["samples"][1]["scores"]["match"].update(value="0.9")),
])
def test_a_score_written_as_text_is_refused_in_every_tools_file_as_in_score_lines(
        tmp_path: Path, tool: str, plant: Any) -> None:
    """Silently dropping it made a case count as missing in one file and scored in the other (issue #28)."""
    doc = json.loads(PAIRS[tool][1].read_text())
    plant(doc)
    with pytest.raises(InvalidInput, match=r"'0\.9' is text, not a score"):
        read_rows(_write(tmp_path, "f.json", doc), None, "candidate" if tool == "promptfoo" else None,
                  "candidate")


def test_inspects_letter_grades_still_read_as_scores(tmp_path: Path) -> None:
    doc = json.loads(PAIRS["inspect"][1].read_text())
    doc["samples"][0]["scores"]["match"]["value"] = "P"
    rows = read_rows(_write(tmp_path, "log.json", doc))
    assert rows[0][2] is not None and rows[0][2]["match"] == 0.5


def test_a_nan_score_is_missing_and_an_errored_metric_too(tmp_path: Path) -> None:
    doc = json.loads(PAIRS["deepeval"][1].read_text())
    doc["testCases"][0]["metricsData"][0]["error"] = "the judge failed"
    doc["testCases"][3]["metricsData"][1]["score"] = float("nan")  # json.dumps writes NaN, as Python tools do
    rows = read_rows(_write(tmp_path, "d.json", doc))
    assert "Pattern Match" not in (rows[0][2] or {}) and "Reference Recall" in (rows[0][2] or {})
    assert "Reference Recall" not in (rows[3][2] or {}) and "Pattern Match" in (rows[3][2] or {})


def test_the_format_is_checked_against_the_content_and_unknown_files_say_what_is_expected(tmp_path: Path,
                                                                                       capsys: Any) -> None:
    base, cand = PAIRS["deepeval"]
    assert main(["gate", "compare", "--baseline", str(base), "--candidate", str(cand), "--format", "inspect"]) == 2
    assert "reads as deepeval" in capsys.readouterr().err
    other = _write(tmp_path, "x.json", {"hello": 1})
    assert main(["gate", "compare", "--baseline", str(other), "--candidate", str(other)]) == 2
    assert "promptfoo `eval -o` JSON, a DeepEval test run, an Inspect AI log or score lines" in capsys.readouterr().err


def test_the_cli_exits_1_on_the_blocked_comparison_and_names_the_format(capsys: Any) -> None:
    base, cand = PAIRS["inspect"]
    assert main(["gate", "compare", "--baseline", str(base), "--candidate", str(TOOLS / "inspect-candidate.eval"),
                 "--margin", "0.1", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["format"] == "inspect"
    assert main(["--json", "gate", "compare", "--baseline", str(base), "--candidate",
                 str(TOOLS / "inspect-candidate.eval"), "--margin", "0.1"]) == 1  # a global option, before or after
    assert json.loads(capsys.readouterr().out)["format"] == "inspect"
    assert main(["gate", "compare", "--baseline", str(base), "--candidate", str(TOOLS / "inspect-candidate.eval"),
                 "--margin", "0.1"]) == 1
    words = capsys.readouterr().out
    assert words.startswith("BLOCK: ") and "inspect files" in words and words.rstrip().splitlines()[-1].startswith(
        "Next: ")
