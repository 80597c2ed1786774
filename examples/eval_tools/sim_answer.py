"""The simulated model (genai_cicd_local.embedded.model), called by each eval tool's own provider hook.

The result files beside this module (tests/unit/test_eval_tool_formats.py reads them) come from
running promptfoo, DeepEval and Inspect AI for real on these cases (make_fixtures.sh); only the
model behind them is simulated.
"""

from __future__ import annotations

from pathlib import Path

from genai_cicd_local.embedded.model import SimulatedFoundationModel

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = {"baseline": ROOT / "examples/support_bot/prompts/v1.txt",
           "candidate": ROOT / "examples/support_bot/prompts/v3-trimmed.txt"}
MODEL = SimulatedFoundationModel(seed=7)


def answer(arm: str, question: str, tag: str = "") -> str:
    system = PROMPTS[arm].read_text(encoding="utf-8")
    return MODEL.complete("local.sim-chat-v1", system, question, temperature=0.7, tag=tag).text
