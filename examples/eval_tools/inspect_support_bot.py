"""Inspect AI run of the support bot's cases, one model per arm, 3 epochs (make_fixtures.sh).

The model is the simulated one behind Inspect's own ModelAPI interface; the log it writes
(--log-format json) is what `genai-cicd gate compare --format inspect` reads.
"""

import json
import sys
from pathlib import Path

from inspect_ai import Epochs, Task, eval, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessageUser, GenerateConfig, ModelAPI, ModelOutput, modelapi
from inspect_ai.scorer import includes, match

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_answer import answer  # noqa: E402

CASES = [json.loads(line) for line in (Path(__file__).parent / "cases.jsonl").read_text().splitlines() if line]


@modelapi(name="sim")
class SimulatedModel(ModelAPI):
    def __init__(self, model_name, base_url=None, api_key=None, config=None, **model_args):
        super().__init__(model_name, base_url, api_key, [], config or GenerateConfig())
        self.calls = 0

    async def generate(self, input, tools, tool_choice, config):
        self.calls += 1  # each epoch is a fresh draw
        question = next(m.text for m in reversed(input) if isinstance(m, ChatMessageUser))
        return ModelOutput.from_content(self.model_name, answer(self.model_name, question, str(self.calls)))


@task
def support_bot():
    samples = [Sample(id=c["id"], input=c["prompt"], target=c["assertions"][0]["value"]) for c in CASES]
    return Task(dataset=samples, scorer=[includes(), match(location="any")], epochs=Epochs(3))


if __name__ == "__main__":
    for arm in ("baseline", "candidate"):
        eval(support_bot(), model=f"sim/{arm}", log_format="json", log_dir=sys.argv[1], display="none",
             max_connections=1)
