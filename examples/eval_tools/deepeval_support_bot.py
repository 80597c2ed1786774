"""DeepEval run of the support bot's cases, one arm per run (ARM=baseline|candidate; make_fixtures.sh).

deepeval test run deepeval_support_bot.py --repeat 3, with DEEPEVAL_RESULTS_FOLDER set: the test-run
JSON it saves there is what `genai-cicd gate compare --format deepeval` reads.
"""

import json
import os
import re
import sys
from pathlib import Path

import pytest
from deepeval import assert_test
from deepeval.metrics import BaseMetric, PatternMatchMetric
from deepeval.test_case import LLMTestCase

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_answer import answer  # noqa: E402

ARM = os.environ.get("ARM", "baseline")
SEEN: dict = {}
CASES = [json.loads(line) for line in (Path(__file__).parent / "cases.jsonl").read_text().splitlines() if line]


class ReferenceRecall(BaseMetric):
    """Share of the reference's words found in the answer (no LLM needed)."""

    def __init__(self, threshold: float = 0.5):
        self.threshold = threshold

    def measure(self, test_case: LLMTestCase, *args, **kwargs) -> float:
        words = set(re.findall(r"[a-z0-9]+", test_case.expected_output.lower()))
        found = set(re.findall(r"[a-z0-9]+", test_case.actual_output.lower()))
        self.score = len(words & found) / len(words)
        self.success = self.score >= self.threshold
        self.reason = f"{len(words & found)} of {len(words)} reference words"
        return self.score

    async def a_measure(self, test_case: LLMTestCase, *args, **kwargs) -> float:
        return self.measure(test_case)

    def is_successful(self) -> bool:
        return bool(self.success)

    @property
    def __name__(self):
        return "Reference Recall"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_support_bot(case):
    # --repeat runs each test again in this process: each repeat is a fresh draw of the model.
    SEEN[case["id"]] = repeat = SEEN.get(case["id"], -1) + 1
    test_case = LLMTestCase(name=case["id"], input=case["prompt"],
                            actual_output=answer(ARM, case["prompt"], str(repeat)),
                            expected_output=case["referenceResponse"])
    assert_test(test_case, [PatternMatchMetric(pattern=".*" + re.escape(case["assertions"][0]["value"]) + ".*",
                                               ignore_case=True),
                            ReferenceRecall()])
