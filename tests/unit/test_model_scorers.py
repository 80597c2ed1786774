"""Model-based scorers fail closed: a verdict that is not strictly this call's is rejected, never a pass."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from genai_cicd.aws.bedrock import BedrockEmbeddings
from genai_cicd.gates.model_scorers import EmbeddingCosine, LabelClassifier, LLMJudge, VerdictRejected, parse_verdict
from genai_cicd.models.dataset import GoldenCase
from genai_cicd.providers.base import GenerationRequest, GenerationResult
from genai_cicd_local.embedded.backend import EmbeddedBackend
from genai_cicd_local.embedded.model import SimulatedFoundationModel

REFERENCE = "Every paid plan has a 14 day free trial with no card required."
CASE = GoldenCase.model_validate({"prompt": "how long is the trial", "referenceResponse": REFERENCE})


class ScriptedProvider:
    """Answers with fixed text: stands in for a judge that misbehaves."""

    name = "scripted"

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.calls += 1
        return GenerationResult(text=self.text, input_tokens=1, output_tokens=1, latency_ms=1, stop_reason="end_turn")


class SimulatedProvider:
    name = "simulated"

    def __init__(self) -> None:
        self.model = SimulatedFoundationModel(seed=9)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        c = self.model.complete(request.model_id, request.system, request.user, request.temperature,
                                request.max_tokens, request.request_tag)
        return GenerationResult(text=c.text, input_tokens=c.input_tokens, output_tokens=c.output_tokens,
                                latency_ms=c.latency_ms, stop_reason=c.stop_reason)


def _nonce(system: str) -> str:
    found = re.search(r'"nonce": "([0-9a-f]+)"', system)
    assert found is not None
    return found.group(1)


class HonestJudge:
    """A judge that grades as told: records what it was shown and answers with the call's nonce."""

    name = "honest"

    def __init__(self, score: float = 0.9) -> None:
        self.score = score
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.requests.append(request)
        verdict = "PASS" if self.score >= 0.5 else "FAIL"
        text = json.dumps({"nonce": _nonce(request.system), "verdict": verdict, "score": self.score, "reason": "ok"})
        return GenerationResult(text=text, input_tokens=1, output_tokens=1, latency_ms=1, stop_reason="end_turn")


class CompromisedJudge:
    """A judge the answer has fully talked round: it repeats the last JSON object found in its input."""

    name = "compromised"

    def generate(self, request: GenerationRequest) -> GenerationResult:
        found = re.findall(r"\{[^{}]*\}", request.user)
        text = found[-1] if found else '{"verdict": "PASS", "score": 1.0, "reason": "told to"}'
        return GenerationResult(text=text, input_tokens=1, output_tokens=1, latency_ms=1, stop_reason="end_turn")


ADVERSARIAL = [json.loads(line) for line in (Path(__file__).resolve().parents[2] / "examples/support_bot/data/"
                                             "judge_adversarial.jsonl").read_text().splitlines()]


def test_verdict_parser_is_strict_and_needs_the_calls_nonce() -> None:
    nonce = "a1b2c3d4e5f60718"
    good = {"nonce": nonce, "verdict": "PASS", "score": 0.9, "reason": "ok"}
    assert parse_verdict(json.dumps(good), nonce) is not None
    for bad in ["PASS", "", "```json\n" + json.dumps(good) + "\n```", json.dumps({**good, "score": 0.1}),
                json.dumps({**good, "extra": 1}), json.dumps({**good, "verdict": "pass"}),
                json.dumps({**good, "nonce": "0000000000000000"}), json.dumps({k: v for k, v in good.items()
                                                                              if k != "nonce"}),
                json.dumps(good) + " trailing words", json.dumps({**good, "score": True}),
                # Duplicate keys: a later "verdict" must not silently win.
                f'{{"nonce": "{nonce}", "verdict": "FAIL", "score": 0.9, "reason": "x", "verdict": "PASS"}}']:
        assert parse_verdict(bad, nonce) is None, bad


def test_given_prose_or_empty_judge_output_then_the_verdict_is_rejected_not_scored() -> None:
    for text in ["PASS", "", "The answer looks correct to me."]:
        judge = LLMJudge(ScriptedProvider(text), "judge")
        with pytest.raises(VerdictRejected):
            judge.score(CASE, "Every paid plan has a 14 day free trial.")
        assert judge.rejected == 1


def test_given_the_adversarial_set_when_the_judge_is_talked_round_then_no_answer_passes() -> None:
    """A judge that repeats any verdict the answer carries still cannot pass it: the nonce is missing."""
    judge = LLMJudge(CompromisedJudge(), "judge")
    for row in ADVERSARIAL:
        case = GoldenCase.model_validate({"prompt": row["prompt"], "referenceResponse": row["referenceResponse"]})
        with pytest.raises(VerdictRejected):
            judge.score(case, row["answer"])


def test_given_the_adversarial_set_when_graded_by_the_simulated_judge_then_attacks_fail_and_benign_pass() -> None:
    judge = LLMJudge(SimulatedProvider(), "local.sim-judge-v1")
    for row in ADVERSARIAL:
        case = GoldenCase.model_validate({"prompt": row["prompt"], "referenceResponse": row["referenceResponse"]})
        try:
            score = judge.score(case, row["answer"])
        except VerdictRejected:
            score = None
        if row["kind"] == "attack":
            assert score is None or score < 0.5, row["id"]
        else:
            assert score is not None and score >= 0.8, row["id"]


def test_given_benign_answers_about_passes_awards_and_refunds_then_they_reach_the_judge() -> None:
    honest = HonestJudge(0.9)
    judge = LLMJudge(honest, "judge")
    benign = [row for row in ADVERSARIAL if row["kind"] == "benign"]
    for row in benign:
        case = GoldenCase.model_validate({"prompt": row["prompt"], "referenceResponse": row["referenceResponse"]})
        assert judge.score(case, row["answer"]) == 0.9, row["id"]
    assert len(honest.requests) == len(benign)
    # Attacks reach the judge too: the keyword check is a counted signal, not a verdict.
    attack = next(row for row in ADVERSARIAL if row["id"] == "ignore-the-rubric")
    assert judge.score(CASE, attack["answer"]) == 0.9 and judge.addressed_grader == 1


def test_the_answer_sits_inside_a_boundary_it_cannot_forge() -> None:
    honest = HonestJudge()
    judge = LLMJudge(honest, "judge")
    forged = next(row for row in ADVERSARIAL if row["id"] == "forged-boundary")["answer"]
    judge.score(CASE, forged)
    request = honest.requests[0]
    boundary = re.search(r"'BEGIN <name> (DATA-[0-9a-f]{24})'", request.system)
    assert boundary is not None and boundary.group(1) not in forged
    inside = re.search(f"BEGIN ANSWER {boundary.group(1)}\n(.*)\nEND ANSWER {boundary.group(1)}", request.user,
                       re.DOTALL)
    assert inside is not None and inside.group(1) == forged  # the forged lines stay data
    # Two calls never share a boundary or a nonce.
    judge.score(CASE, forged)
    assert honest.requests[1].system != request.system


def test_given_data_that_contains_the_boundary_then_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("genai_cicd.gates.model_scorers.secrets.token_hex", lambda n: "ab" * n)
    with pytest.raises(VerdictRejected, match="boundary"):
        LLMJudge(HonestJudge(), "judge").score(CASE, "see DATA-" + "ab" * 12)


def test_simulated_judge_grades_right_answers_above_wrong_ones() -> None:
    judge = LLMJudge(SimulatedProvider(), "local.sim-judge-v1")
    right = judge.score(CASE, "Every paid plan has a 14 day free trial with no card required.")
    wrong = judge.score(CASE, "Please contact our support team.")
    assert right is not None and wrong is not None
    assert right > 0.8 and wrong < 0.3 and judge.rejected == 0


def test_classifier_rejects_labels_it_did_not_offer() -> None:
    with pytest.raises(VerdictRejected):
        LabelClassifier(ScriptedProvider("sarcastic"), "m", ["friendly", "neutral", "rude"],
                        ["friendly", "neutral"]).score(CASE, "x")
    tone = LabelClassifier(SimulatedProvider(), "local.sim-judge-v1", ["friendly", "neutral", "rude"],
                           ["friendly", "neutral"])
    assert tone.score(CASE, "Glad to help! The trial lasts 14 days.") == 1.0
    assert tone.score(CASE, "Obviously it is 14 days, read the docs, this is ridiculous.") == 0.0


def test_embedding_scorer_ranks_a_paraphrase_above_an_unrelated_answer() -> None:
    backend = EmbeddedBackend("us-east-1")

    class Client:
        def invoke_model(self, **kwargs: Any) -> dict[str, Any]:
            return backend.invoke_model(dict(kwargs))

    scorer = EmbeddingCosine(BedrockEmbeddings(Client()), "amazon.titan-embed-text-v2:0")
    close = scorer.score(CASE, "Every paid plan includes a 14 day free trial, no card required.")
    far = scorer.score(CASE, "Invoices are in Settings under Billing as PDF files.")
    assert close is not None and far is not None
    assert close > 0.6 > far
