"""End to end: the demo releases on the embedded AWS, wall time each and in total.

    python bench/end_to_end.py

The same releases as `make demo` (examples/support_bot/manifests), after installation:
start-up (moto, provisioning the two templates) is timed apart from the releases.
"""

from __future__ import annotations

import time
from pathlib import Path

from common import describe

from genai_cicd_local.cli.main import DEMO_SCENARIOS
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    print("# End to end: the demo releases\n")
    print(describe() + "\n")
    started = time.perf_counter()
    with EmbeddedAWS(ROOT) as aws:
        ready = time.perf_counter() - started
        runner = LocalReleaseRunner(aws, out=lambda _: None)
        runner.setup()
        print("| release | outcome | decided on | wall s | app requests during the canary | probe requests |\n"
              "|---|---|---|---|---|---|")
        for name, _, rate, traffic in DEMO_SCENARIOS:
            result = runner.run(ROOT / "examples/support_bot/manifests" / f"{name}.yaml", name=f"e2e-{name}",
                                traffic_rate=rate, traffic_file=traffic)
            blocked = f" ({result['blocked_by']})" if result["blocked_by"] else ""
            print(f"| {name} | {result['outcome']}{blocked} | {result['decided_on'] or '-'} | "
                  f"{result['seconds']:.1f} | {result['app_requests']} | {result['probe_requests']} |")
    total = time.perf_counter() - started
    print(f"\nStart-up and provisioning {ready:.1f} s; total {total:.1f} s.")


if __name__ == "__main__":
    main()
