"""``genai-cicd gate compare``: non-inferiority on score files from any tool.

Score lines (``ScoreLine``) or the files promptfoo, DeepEval and Inspect AI write
(``gates/eval_formats.py``). Scores are finite numbers in [0, 1] (booleans and strings are
refused in score lines). Evidence must be complete: every (case, repeat) in either file is
expected in both, and an absent one counts against the candidate (``noninferiority.decide``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from genai_cicd.errors import InvalidInput
from genai_cicd.gates.eval_formats import Format, Row, read_arm
from genai_cicd.gates.noninferiority import alpha_for_run, decide


def compare_files(baseline: Path, candidate: Path, *, metric: str | None, margin: float, alpha: float,
                  threshold: float, previous_runs: int = 0, fmt: Format | None = None,
                  baseline_variant: str | None = None, candidate_variant: str | None = None) -> dict[str, Any]:
    """The verdict over every metric; ``previous_runs`` earlier runs of this candidate spend alpha."""
    if not 0 < alpha < 0.5:
        raise InvalidInput(f"--alpha {alpha}: must be between 0 and 0.5")
    if not 0 < margin < 1:
        raise InvalidInput(f"--margin {margin}: must be between 0 and 1 (scores are in [0, 1])")
    if not 0 <= threshold <= 1:
        raise InvalidInput(f"--threshold {threshold}: must be between 0 and 1 (scores are in [0, 1])")
    if previous_runs < 0:
        raise InvalidInput(f"--previous-runs {previous_runs}: must be 0 or more")
    _, base = read_arm(baseline, fmt, baseline_variant, "baseline")
    detected, cand = read_arm(candidate, fmt, candidate_variant, "candidate")
    result = compare_rows(base, cand, metric=metric, margin=margin, alpha=alpha_for_run(alpha, previous_runs + 1),
                          threshold=threshold)
    return result | {"run": previous_runs + 1, "format": detected}


def compare_rows(base: list[Row], cand: list[Row], *, metric: str | None, margin: float, alpha: float,
                 threshold: float) -> dict[str, Any]:
    """Paired non-inferiority per metric. Every (case, repeat) of a case the metric applies to is
    expected in both arms; a case no run of either arm scored is assumed to need every metric."""
    metrics = sorted({m for _, _, scores in base + cand for m in (scores or {})}) if metric is None else [metric]
    if not metrics:
        raise InvalidInput("no metric found in the score files (every run errored?)")
    repeats_of: dict[str, set[int]] = defaultdict(set)
    for case, repeat, _ in base + cand:
        repeats_of[case].add(repeat)
    scored = {case for case, _, scores in base + cand if scores}
    unscored = set(repeats_of) - scored
    verdicts = []
    for m in metrics:
        b, c = _by_case(base, m), _by_case(cand, m)
        if not b or not c:
            raise InvalidInput(f"metric {m!r} is missing from the {'baseline' if not b else 'candidate'} file")
        applies = set(b) | set(c) | unscored
        expected = {case: sorted(repeats_of[case]) for case in applies}
        repeats = {case: len(rs) for case, rs in expected.items()}
        bl = {case: [b[case][r] for r in rs if r in b.get(case, {})] for case, rs in expected.items()}
        cl = {case: [c[case][r] for r in rs if r in c.get(case, {})] for case, rs in expected.items()}
        v = decide(m, bl, cl, threshold=threshold, margin=margin, alpha=alpha, repeats=repeats,
                   cases=sorted(expected)).model_dump(mode="json")
        v["unpaired_cases"] = v["missing_cases"]
        verdicts.append(v)
    decision = "pass" if all(v["decision"] == "pass" for v in verdicts) else (
        "block" if any(v["decision"] == "block" for v in verdicts) else "inconclusive")
    return {"decision": decision, "alpha": alpha, "metrics": verdicts}


def _by_case(rows: list[Row], metric: str) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for case, repeat, scores in rows:
        if scores and metric in scores:
            out[case][repeat] = scores[metric]
    return out
