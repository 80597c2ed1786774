"""CLI contracts: exit 0 ok, 1 block/rollback, 2 bad input, errors naming file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genai_cicd_local.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_dataset_validate_ok_and_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "validate", str(ROOT / "examples/support_bot/data/golden.jsonl")]) == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": ""}\nnot json\n')
    assert main(["dataset", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2: prompt" in err and "bad.jsonl:3: not valid JSON" in err


def test_dataset_validate_refuses_duplicate_ids_bad_regexes_and_bad_schemas(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(line) for line in [
        {"id": "a", "prompt": "q1"},
        {"id": "a", "prompt": "q2"},
        {"id": "b", "prompt": "q3", "assertions": [{"type": "regex", "value": "(unclosed"}]},
        {"id": "c", "prompt": "q4", "assertions": [{"type": "regex", "value": "(a)\\1"}]},
        {"id": "d", "prompt": "q5", "schema": {"type": "no-such-type"}},
    ]) + "\n")
    assert main(["dataset", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2: id: duplicate case id 'a' (first on line 1)" in err
    assert "bad.jsonl:3: assertions.0" in err and "bad.jsonl:4: assertions.0" in err and "RE2" in err
    assert "bad.jsonl:5: schema" in err and "not a valid JSON Schema" in err


def test_dataset_convert_accepts_nested_text_and_writes_bedrock_lines(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    line = {"prompt": {"text": "q"}, "referenceResponse": "a", "category": "c", "tags": ["x"]}
    src.write_text(json.dumps(line) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["dataset", "convert", str(src), "--to", "bedrock", "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == {"prompt": "q", "referenceResponse": "a", "category": "c"}


def write_scores(path: Path, values: dict[str, list[float]]) -> None:
    path.write_text("".join(json.dumps({"case_id": c, "repeat": r, "scores": {"acc": v}}) + "\n"
                            for c, vs in values.items() for r, v in enumerate(vs)))


def test_gate_compare_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, same, worse = tmp_path / "b.jsonl", tmp_path / "s.jsonl", tmp_path / "w.jsonl"
    write_scores(base, {f"c{i}": [0.8, 0.82] for i in range(150)})
    write_scores(same, {f"c{i}": [0.8, 0.81] for i in range(150)})
    write_scores(worse, {f"c{i}": [0.5, 0.52] for i in range(150)})
    assert main(["gate", "compare", "--baseline", str(base), "--candidate", str(same)]) == 0
    assert main(["gate", "compare", "--baseline", str(base), "--candidate", str(worse)]) == 1
    (tmp_path / "dup.jsonl").write_text(base.read_text() + base.read_text().splitlines()[0] + "\n")
    assert main(["gate", "compare", "--baseline", str(tmp_path / "dup.jsonl"), "--candidate", str(same)]) == 2


def test_gate_compare_needs_complete_finite_bounded_scores(tmp_path: Path) -> None:
    base, cand = tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    scores = {f"c{i}": [0.9] for i in range(100)}
    write_scores(base, scores)
    # The candidate's file lacks its 20 hardest cases (it failed them): judged as failed, not skipped.
    write_scores(cand, {c: v for c, v in scores.items() if int(c[1:]) >= 20})
    assert main(["gate", "compare", "--baseline", str(base), "--candidate", str(cand)]) == 1
    write_scores(cand, scores)
    line = base.read_text().splitlines()[0]
    for bad in ['"rouge_l": NaN', '"rouge_l": Infinity', '"rouge_l": true', '"rouge_l": "0.9"', '"rouge_l": 1.5',
                '"rouge_l": -0.1']:
        (tmp_path / "bad.jsonl").write_text(line.replace('"acc": 0.9', bad.replace("rouge_l", "acc")) + "\n")
        assert main(["gate", "compare", "--baseline", str(tmp_path / "bad.jsonl"), "--candidate", str(cand)]) == 2, bad
    for option in (["--margin", "5"], ["--margin", "0"], ["--threshold", "2"], ["--previous-runs", "-1"]):
        assert main(["gate", "compare", "--baseline", str(base), "--candidate", str(cand), *option]) == 2, option


def test_canary_judge_exit_codes(tmp_path: Path) -> None:
    healthy = {"canary_share": 0.05, "intervals": [
        {"baseline": {"requests": 1000, "errors": 10}, "canary": {"requests": 60, "errors": 0}}] * 60}
    bad = {"canary_share": 0.05, "intervals": [
        {"baseline": {"requests": 1000, "errors": 10}, "canary": {"requests": 60, "errors": 12}}] * 5}
    short = {"canary_share": 0.05, "intervals": healthy["intervals"][:2]}
    (tmp_path / "h.json").write_text(json.dumps(healthy))
    (tmp_path / "b.json").write_text(json.dumps(bad))
    (tmp_path / "s.json").write_text(json.dumps(short))
    (tmp_path / "x.json").write_text(json.dumps({"canary_share": 2, "intervals": []}))
    (tmp_path / "inf.json").write_text('{"canary_share": 0.05, "intervals": [{"baseline": {"requests": 10}, '
                                       '"canary": {"requests": Infinity}}]}')
    (tmp_path / "plan.yaml").write_text("steps: [5]\nmax_intervals_per_step: 120\n")
    (tmp_path / "badplan.yaml").write_text("steps: [5]\nrollback_tolerance: 3\n")
    assert main(["canary", "judge", "--input", str(tmp_path / "h.json"), "--plan", str(tmp_path / "plan.yaml")]) == 0
    assert main(["canary", "judge", "--input", str(tmp_path / "b.json")]) == 1
    assert main(["canary", "judge", "--input", str(tmp_path / "s.json")]) == 1  # no verdict yet is no promotion
    assert main(["canary", "judge", "--input", str(tmp_path / "x.json")]) == 2
    assert main(["canary", "judge", "--input", str(tmp_path / "inf.json")]) == 2
    assert main(["canary", "judge", "--input", str(tmp_path / "h.json"), "--plan", str(tmp_path / "badplan.yaml")]) == 2


def test_canary_judge_takes_quality_fields_and_rolls_back_on_a_drop(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def interval(canary_mean: float) -> dict[str, Any]:
        return {"baseline": {"requests": 950, "errors": 9, "quality_count": 60, "quality_sum": 48.0},
                "canary": {"requests": 50, "errors": 0, "quality_count": 60, "quality_sum": 60 * canary_mean}}

    (tmp_path / "plan.yaml").write_text("steps: [5]\nmax_intervals_per_step: 60\nmetrics: [errors]\n"
                                        "quality_margin: 0.05\ncritical_metrics: [errors, quality]\n")
    (tmp_path / "worse.json").write_text(json.dumps({"canary_share": 0.05, "intervals": [interval(0.5)] * 30}))
    assert main(["canary", "judge", "--input", str(tmp_path / "worse.json"), "--plan",
                 str(tmp_path / "plan.yaml"), "--json"]) == 1
    final = json.loads(capsys.readouterr().out)["final"]
    assert (final["outcome"], final["decided_on"]) == ("shown_harmful", "quality")
    # a stream without quality fields under a plan that judges quality never promotes
    (tmp_path / "blind.json").write_text(json.dumps({"canary_share": 0.05, "intervals": [
        {"baseline": {"requests": 950, "errors": 9}, "canary": {"requests": 50, "errors": 0}}] * 60}))
    assert main(["canary", "judge", "--input", str(tmp_path / "blind.json"), "--plan",
                 str(tmp_path / "plan.yaml")]) == 1


def test_canary_plan_prints_minutes_and_refuses_bad_rates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["canary", "plan", "--rps", "20", "--baseline-rate", "errors=0.01,slow_requests=0.02", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["weight"] for s in out["steps"]] == [5.0, 25.0]  # the stack's defaults
    assert "requests/s" in out["summary"]
    assert main(["canary", "plan", "--rps", "20", "--baseline-rate", "errors=0.01,slow_requests=0.02"]) == 0
    words = capsys.readouterr().out
    assert words.startswith("PLAN: At 20 requests/s a harmless change should be shown safe") and "{" not in words
    assert main(["canary", "plan", "--rps", "20", "--baseline-rate", "1.5"]) == 2
    assert main(["canary", "plan", "--rps", "0", "--baseline-rate", "0.01"]) == 2
    assert main(["canary", "plan", "--rps", "20", "--baseline-rate", "bogus=0.01"]) == 2


def test_release_with_invalid_manifest_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("app: Not_A_Valid_Name\n")
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:release"
    assert main(["release", "--manifest", str(bad), "--state-machine-arn", machine, "--bucket", "b"]) == 2
    with pytest.raises(SystemExit) as refused:  # not an ARN: refused before anything is read
        main(["release", "--manifest", str(bad), "--state-machine-arn", "arn:aws:states:x", "--bucket", "b"])
    assert refused.value.code == 2


def test_global_options_go_before_or_after_the_command() -> None:
    from genai_cicd_local.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["demo", "--seed", "3"]).seed == 3
    assert parser.parse_args(["--seed", "3", "demo"]).seed == 3
    assert parser.parse_args(["demo"]).seed == 7 and parser.parse_args(["demo"]).json is False
    assert parser.parse_args(["gate", "compare", "--baseline", "a", "--candidate", "b", "--json"]).json is True


def test_alpha_is_printed_as_people_read_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """0.05 x 0.8 is 0.04000000000000001 in binary; the verdict says 0.04."""
    lines = "".join(json.dumps({"case_id": f"c{i}", "repeat": 0, "scores": {"m": 0.9}}) + "\n" for i in range(30))
    (tmp_path / "s.jsonl").write_text(lines)
    main(["gate", "compare", "--baseline", str(tmp_path / "s.jsonl"), "--candidate", str(tmp_path / "s.jsonl"),
          "--json"])
    assert json.loads(capsys.readouterr().out)["alpha"] == 0.04
