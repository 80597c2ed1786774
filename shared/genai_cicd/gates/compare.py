"""``genai-cicd gate compare``: non-inferiority on score files from any tool (DESIGN.md §5)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genai_cicd.errors import InvalidInput
from genai_cicd.gates.noninferiority import decide
from genai_cicd.models.dataset import parse_jsonl


class ScoreLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(min_length=1, max_length=256)
    repeat: int = Field(ge=0)
    scores: dict[str, float]


def _load(path: Path) -> list[ScoreLine]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from None
    lines = parse_jsonl(text, ScoreLine, str(path))
    seen: set[tuple[str, int]] = set()
    for number, line in enumerate(lines, start=1):
        key = (line.case_id, line.repeat)
        if key in seen:
            raise InvalidInput(f"{path}: case {line.case_id!r} repeat {line.repeat} appears twice (line {number})")
        seen.add(key)
    return lines


def _by_case(lines: list[ScoreLine], metric: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        if metric in line.scores:
            out[line.case_id].append(line.scores[metric])
    return out


def compare_files(baseline: Path, candidate: Path, *, metric: str | None, margin: float, alpha: float,
                  threshold: float) -> dict[str, Any]:
    if not 0 < alpha < 0.5:
        raise InvalidInput(f"--alpha {alpha}: must be between 0 and 0.5")
    if margin <= 0:
        raise InvalidInput(f"--margin {margin}: must be positive")
    base, cand = _load(baseline), _load(candidate)
    metrics = sorted({m for line in base + cand for m in line.scores}) if metric is None else [metric]
    if not metrics:
        raise InvalidInput("no metric found in the score files")
    verdicts = []
    for m in metrics:
        b, c = _by_case(base, m), _by_case(cand, m)
        if not b or not c:
            raise InvalidInput(f"metric {m!r} is missing from the {'baseline' if not b else 'candidate'} file")
        missing = sorted(set(b) ^ set(c))
        v = decide(m, b, c, threshold=threshold, margin=margin, alpha=alpha).model_dump(mode="json")
        v["unpaired_cases"] = missing[:20]
        verdicts.append(v)
    decision = "pass" if all(v["decision"] == "pass" for v in verdicts) else (
        "block" if any(v["decision"] == "block" for v in verdicts) else "inconclusive")
    return {"decision": decision, "metrics": verdicts}
