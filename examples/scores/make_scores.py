"""Write baseline.jsonl and candidate.jsonl: score lines (`genai-cicd schema score-line`) of the
sample app's golden cases, scored by genai-cicd's own scorers (ROUGE-L, assertions).

The answers come from the simulated model (baseline prompt v1, candidate v4-helpful), three
repeats per case, as the prompt-regression gate draws them. Run from the repository root:
  .venv/bin/python examples/scores/make_scores.py
"""

import json
from pathlib import Path

from genai_cicd.gates.scorers import SCORERS
from genai_cicd.models.dataset import GoldenCase, parse_jsonl
from genai_cicd_local.embedded.model import ModelError, SimulatedFoundationModel

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = {"baseline": "v1.txt", "candidate": "v4-helpful.txt"}
CASES = 60
REPEATS = 3


def answer_of(model: SimulatedFoundationModel, system: str, question: str, tag: str) -> str:
    for _ in range(5):  # the simulated model fails now and then, as a real one does; a retry is a fresh draw
        try:
            return model.complete("local.sim-chat-v1", system, question, tag=tag).text
        except ModelError:
            continue
    raise SystemExit(f"{tag}: the model failed 5 times")


def main() -> None:
    text = (ROOT / "examples/support_bot/data/golden.jsonl").read_text(encoding="utf-8")
    cases = parse_jsonl(text, GoldenCase, "golden.jsonl")[:CASES]
    model = SimulatedFoundationModel(seed=7)
    scorers = {name: SCORERS[name]() for name in ("rouge_l", "assertions")}
    for arm, prompt in PROMPTS.items():
        system = (ROOT / "examples/support_bot/prompts" / prompt).read_text(encoding="utf-8")
        lines = []
        for case in cases:
            for repeat in range(REPEATS):
                answer = answer_of(model, system, case.prompt, f"{case.id}:{repeat}")
                scores = {name: s for name, scorer in scorers.items() if (s := scorer.score(case, answer)) is not None}
                lines.append(json.dumps({"case_id": case.id, "repeat": repeat,
                                         "scores": {k: round(v, 4) for k, v in scores.items()}}))
        (Path(__file__).parent / f"{arm}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
