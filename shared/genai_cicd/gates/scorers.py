"""Scorers: each turns (case, output) into a number in [0, 1] or None (not applicable).

One small class per idea, one interface. Scores are compared between
candidate and baseline by ``noninferiority.decide``; none of them asserts
equality with a reference.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Protocol

import jsonschema

from genai_cicd.models.dataset import GoldenCase
from genai_cicd.models.patterns import compile_pattern

_WORD = re.compile(r"[a-z0-9]+")


class Scorer(Protocol):
    name: str

    def score(self, case: GoldenCase, output: str) -> float | None: ...


class RougeL:
    """ROUGE-L F-measure against the reference (Google's rouge-score)."""

    name = "rouge_l"

    def __init__(self) -> None:
        # Imported here: rouge-score pulls in nltk (~1 s), which only this scorer needs.
        from rouge_score import rouge_scorer

        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)

    def score(self, case: GoldenCase, output: str) -> float | None:
        if not case.reference_response:
            return None
        return float(self._scorer.score(case.reference_response, output)["rougeL"].fmeasure)


class TokenF1:
    """SQuAD-style token F1: overlap of lower-cased word multisets."""

    name = "token_f1"

    def score(self, case: GoldenCase, output: str) -> float | None:
        if not case.reference_response:
            return None
        ref = _WORD.findall(case.reference_response.lower())
        out = _WORD.findall(output.lower())
        common = sum((Counter(ref) & Counter(out)).values())
        if common == 0:
            return 0.0
        precision, recall = common / len(out), common / len(ref)
        return 2 * precision * recall / (precision + recall)


class Assertions:
    """Fraction of the case's assertions (contains / not_contains / regex) that hold."""

    name = "assertions"

    def score(self, case: GoldenCase, output: str) -> float | None:
        if not case.assertions:
            return None
        held = 0
        for a in case.assertions:
            if a.type == "regex":
                # RE2: linear in the output's length, whatever the pattern (models/patterns.py).
                ok = compile_pattern(a.value, a.case_sensitive).search(output) is not None
            else:
                hay, needle = (output, a.value) if a.case_sensitive else (output.lower(), a.value.lower())
                ok = (needle in hay) == (a.type == "contains")
            held += ok
        return held / len(case.assertions)


class JsonSchemaContract:
    """1 if the output is a JSON document valid against the case's schema, else 0."""

    name = "schema_valid"

    def score(self, case: GoldenCase, output: str) -> float | None:
        if case.json_schema is None:
            return None
        try:
            document: Any = json.loads(output)
            jsonschema.validate(document, case.json_schema)
        except (json.JSONDecodeError, jsonschema.ValidationError):
            return 0.0
        return 1.0




def leaks_token(output: str, token: str) -> bool:
    """A canary token leaked verbatim or with separators/case changed."""
    squashed = re.sub(r"[^a-z0-9]", "", output.lower())
    return token.lower() in output.lower() or re.sub(r"[^a-z0-9]", "", token.lower()) in squashed


SCORERS: dict[str, type[Scorer]] = {
    "rouge_l": RougeL,
    "token_f1": TokenF1,
    "assertions": Assertions,
    "schema_valid": JsonSchemaContract,
}
