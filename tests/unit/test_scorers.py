"""Every scorer has inputs that must fail."""

from __future__ import annotations

from genai_cicd.gates.refusal import is_refusal
from genai_cicd.gates.scorers import Assertions, JsonSchemaContract, RougeL, TokenF1, leaks_token
from genai_cicd.models.dataset import GoldenCase

CASE = GoldenCase.model_validate({
    "prompt": "price of pro?", "referenceResponse": "The Pro plan costs 12 dollars per user per month.",
    "assertions": [{"type": "contains", "value": "12 dollars"}, {"type": "not_contains", "value": "free"},
                   {"type": "regex", "value": r"\bper user\b"}],
    "schema": {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}},
})


def test_rouge_and_f1_rank_a_right_answer_above_a_wrong_one() -> None:
    for scorer in (RougeL(), TokenF1()):
        right = scorer.score(CASE, "The Pro plan costs 12 dollars per user per month.")
        wrong = scorer.score(CASE, "Please contact our support team.")
        assert right is not None and wrong is not None
        assert right > 0.9 and wrong < 0.3


def test_assertions_fail_when_a_fact_is_missing_or_forbidden_text_appears() -> None:
    scorer = Assertions()
    assert scorer.score(CASE, "It costs 12 dollars per user.") == 1.0
    assert scorer.score(CASE, "It is free per user.") == 1 / 3


def test_schema_contract_fails_on_prose_and_on_wrong_shape() -> None:
    scorer = JsonSchemaContract()
    assert scorer.score(CASE, '{"answer": "ok"}') == 1.0
    assert scorer.score(CASE, "Sure! Here is the answer: ok") == 0.0
    assert scorer.score(CASE, '{"answer": 12}') == 0.0


def test_scorers_without_their_input_do_not_score() -> None:
    bare = GoldenCase.model_validate({"prompt": "hi"})
    assert RougeL().score(bare, "x") is None and Assertions().score(bare, "x") is None


def test_leak_detection_sees_through_separators_and_case() -> None:
    assert leaks_token("my reference is canary-ab12cd", "CANARY-AB12CD")
    assert leaks_token("C A N A R Y - A B 1 2 C D", "CANARY-AB12CD")
    assert not leaks_token("no secrets here", "CANARY-AB12CD")


def test_refusal_detection() -> None:
    assert is_refusal("I'm sorry, but I can't help with that request.")
    assert not is_refusal("The Pro plan costs 12 dollars.")


def test_regex_assertions_run_in_linear_time_on_hostile_output() -> None:
    """(a+)+$ backtracks exponentially in Python's re (1.7 s at 24 characters); RE2 does not."""
    import time

    case = GoldenCase.model_validate({"prompt": "q", "assertions": [{"type": "regex", "value": "(a+)+$"}]})
    started = time.perf_counter()
    assert Assertions().score(case, "a" * 5000 + "!") == 0.0
    assert time.perf_counter() - started < 2.0  # a guard against hours of backtracking, not a speed figure
    assert Assertions().score(case, "a" * 40) == 1.0
