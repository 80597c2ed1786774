"""promptfoo Python provider: the simulated model behind one variant (config: arm)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_answer import answer  # noqa: E402


def call_api(prompt, options, context):
    arm = options["config"]["arm"]
    # Each repeat gets its own draw, as a sampled model would give.
    tag = str((context or {}).get("repeatIndex", "")) + str(len(str(context)))
    return {"output": answer(arm, prompt, tag)}
