"""Control-plane benchmark: gate runner throughput and quota behaviour, orchestration size and cost.

    python bench/control_plane.py [--latency-ms 50] [--concurrency 32] [--quick]

1. Runner: golden datasets of 10, 100, 1,000 and 10,000 cases through the gate
   runner against the simulated model with a fixed simulated latency; wall time
   against the ideal calls x latency / concurrency.
2. Quota: the same runner against a tokens-per-minute quota that throttles
   (Bedrock's ThrottlingException); achieved token rate against the quota, and
   failed cases (must be zero).
3. Orchestration: releases on the embedded AWS with golden sets of 10 to
   10,000 cases, inline and (10,000) as a Distributed Map: state transitions,
   the largest state payload, Lambda invocations and time, model calls and
   tokens, and an estimated cost per release.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import describe

from genai_cicd.gates.runner import run_all
from genai_cicd.providers.base import GenerationRequest, GenerationResult, ProviderThrottled, ProviderTransient
from genai_cicd_local.embedded.backend import TokenQuota
from genai_cicd_local.embedded.model import ModelError, SimulatedFoundationModel

ROOT = Path(__file__).resolve().parents[1]
PROMPT = (ROOT / "examples/support_bot/prompts/v1.txt").read_text()
QUESTIONS = [json.loads(line)["prompt"] for line in (ROOT / "examples/support_bot/data/golden.jsonl").open()]

# Public list prices used for the estimate (USD).
SFN_PER_TRANSITION = 0.025 / 1000
LAMBDA_PER_GB_SECOND = 0.0000166667
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
CONCURRENCY = 32  # prompt_regression.concurrency in the releases below


class SleepingModel:
    """The simulated model with a fixed latency actually slept, optionally behind a token quota."""

    name = "simulated"

    def __init__(self, latency_s: float, quota: TokenQuota | None = None) -> None:
        self.model = SimulatedFoundationModel(seed=3)
        self.latency_s = latency_s
        self.quota = quota
        self.tokens = 0

    def generate(self, request: GenerationRequest) -> GenerationResult:
        estimate = int(len((request.system + " " + request.user).split()) * 1.33) + 60
        if self.quota is not None and not self.quota.take(estimate):
            raise ProviderThrottled("ThrottlingException")
        time.sleep(self.latency_s)
        try:
            c = self.model.complete(request.model_id, request.system, request.user, tag=request.request_tag)
        except ModelError as exc:  # what Converse reports as ModelErrorException
            raise ProviderTransient(str(exc)) from exc
        self.tokens += estimate
        return GenerationResult(text=c.text, input_tokens=c.input_tokens, output_tokens=c.output_tokens,
                                latency_ms=c.latency_ms, stop_reason=c.stop_reason)


def runner_throughput(latency_ms: float, concurrency: int, sizes: tuple[tuple[int, int], ...]) -> None:
    print("## Gate runner throughput\n")
    print(f"Simulated model latency {latency_ms:g} ms (slept), concurrency {concurrency}, both arms, K as shown.\n")
    print("| cases | K | model calls | wall s | ideal s | efficiency | errors |\n|---|---|---|---|---|---|---|")
    for cases, k in sizes:
        model = SleepingModel(latency_ms / 1000)
        jobs = [GenerationRequest(model_id="local.sim-chat-v1", system=PROMPT, user=QUESTIONS[i % len(QUESTIONS)],
                                  request_tag=f"{arm}:{i}:{r}")
                for arm in ("baseline", "candidate") for i in range(cases) for r in range(k)]
        started = time.perf_counter()
        _, stats = run_all(jobs, model.generate, concurrency=concurrency)
        wall = time.perf_counter() - started
        ideal = len(jobs) * latency_ms / 1000 / concurrency
        print(f"| {cases:,} | {k} | {len(jobs):,} | {wall:.1f} | {ideal:.1f} | {ideal / wall:.0%} | {stats.errors} |")


def quota_behaviour(latency_ms: float, concurrency: int, tpm: int, calls: int) -> None:
    print("\n## Under a tokens-per-minute quota\n")
    quota = TokenQuota(tpm, start_full=False)
    model = SleepingModel(latency_ms / 1000, quota)
    jobs = [GenerationRequest(model_id="local.sim-chat-v1", system=PROMPT, user=QUESTIONS[i % len(QUESTIONS)],
                              request_tag=f"q:{i}") for i in range(calls)]
    started = time.perf_counter()
    outcomes, stats = run_all(jobs, model.generate, concurrency=concurrency, max_throttle_seconds=120,
                              base_backoff=0.05, max_backoff=2.0)
    wall = time.perf_counter() - started
    achieved = model.tokens / wall * 60
    print(f"| quota (tokens/min) | calls | wall s | achieved tokens/min | share of quota | throttle events | "
          f"lowest concurrency | failed cases |\n|---|---|---|---|---|---|---|---|\n"
          f"| {tpm:,} | {calls} | {wall:.1f} | {achieved:,.0f} | {achieved / tpm:.0%} | {stats.throttle_events} | "
          f"{stats.min_concurrency} | {sum(1 for o in outcomes if o.error)} |")


def golden_set(path: Path, cases: int) -> None:
    """The sample golden set cycled to ``cases`` lines with fresh ids."""
    lines = [json.loads(line) for line in (ROOT / "examples/support_bot/data/golden.jsonl").read_text().splitlines()]
    path.write_text("\n".join(json.dumps({**lines[i % len(lines)], "id": f"case-{i:05d}"}) for i in range(cases)))


def orchestration(plans: list[tuple[int, int | None]]) -> None:
    from genai_cicd_local.embedded.aws_session import EmbeddedAWS
    from genai_cicd_local.runner import LocalReleaseRunner

    print("\n## Orchestration per release (embedded AWS, prompt regression K=1, canary 1 step)\n")
    print("| golden cases | path | state transitions (parent + Map children) | largest state payload (bytes) | "
          "Lambda invocations | Lambda s | model calls | model tokens | model spend $ | orchestration $ | "
          "orchestration share | wall s | outcome |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    import shutil
    import tempfile

    import yaml

    inline_lambda_s: dict[int, float] = {}
    with EmbeddedAWS(ROOT) as aws:
        runner = LocalReleaseRunner(aws, out=lambda _: None)
        for cases, shard_size in plans:
            tmp = Path(tempfile.mkdtemp())
            golden_set(tmp / "golden.jsonl", cases)
            manifest = yaml.safe_load((ROOT / "examples/support_bot/manifests/good-prompt.yaml").read_text())
            manifest["canary"].pop("shadow", None)  # the gates' scale is measured here, not the shadow phase
            base = ROOT / "examples/support_bot/manifests"
            for arm in ("baseline", "candidate"):
                # Manifest files are relative to the manifest, inside its directory tree (cli/paths.py).
                prompt = (base / manifest[arm]["prompt"]).resolve()
                shutil.copyfile(prompt, tmp / prompt.name)
                manifest[arm]["prompt"] = prompt.name
            regression = {**manifest["gates"]["prompt_regression"], "dataset": "golden.jsonl",
                          "repeats": 1, "concurrency": CONCURRENCY}
            if shard_size:
                regression["shard_size"] = shard_size
            manifest["gates"] = {"prompt_regression": regression}
            manifest["canary"].update({"steps": [50], "min_canary_requests_per_step": 5})
            path = tmp / "m.yaml"
            path.write_text(yaml.safe_dump(manifest))
            before_calls = dict(aws.runtime.invocations)
            before_busy = dict(aws.runtime.busy_seconds)
            before_tokens = dict(aws.backend.model_tokens)
            before_latency = dict(aws.backend.model_latency_ms_by_caller)
            before_spend = aws.backend.model_spend_usd
            before_converse = aws.backend.calls.get("bedrock-runtime:Converse", 0)
            name = f"bench-{cases}-{'map' if shard_size else 'inline'}"
            result = runner.run(path, name=name)
            history = aws.client("stepfunctions").get_execution_history(executionArn=result["execution_arn"],
                                                                        maxResults=1000)["events"]
            payloads = [len(json.dumps(e.get(k, {}).get("input") or e.get(k, {}).get("output") or ""))
                        for e in history for k in ("stateEnteredEventDetails", "stateExitedEventDetails")]
            app = aws.function_name("SupportBotFunction")
            invocations = sum(v - before_calls.get(k, 0) for k, v in aws.runtime.invocations.items() if k != app)
            busy = sum(v - before_busy.get(k, 0.0) for k, v in aws.runtime.busy_seconds.items() if k != app)
            parent = sum(1 for e in history if e["type"].endswith("StateEntered"))
            # Each Map child is an execution of one state (ScoreShard): one transition per shard.
            children = -(-cases // shard_size) if shard_size else 0
            transitions = parent + children
            calls = aws.backend.calls.get("bedrock-runtime:Converse", 0) - before_converse
            tokens = sum(aws.backend.model_tokens.values()) - sum(before_tokens.values())
            spend = aws.backend.model_spend_usd - before_spend
            # Lambda time on AWS is dominated by model latency: the control plane's functions wait for the
            # model's (reported, simulated) latency, CONCURRENCY calls at a time; charged at 1 GB.
            waited = sum(v - before_latency.get(k, 0.0) for k, v in aws.backend.model_latency_ms_by_caller.items()
                         if k != app) / 1000
            lambda_s = busy + waited / CONCURRENCY
            orchestration_usd = (transitions * SFN_PER_TRANSITION + invocations * LAMBDA_PER_REQUEST
                                 + lambda_s * 1.0 * LAMBDA_PER_GB_SECOND)
            if not shard_size:
                inline_lambda_s[cases] = lambda_s
            path_name = f"Distributed Map, {children} shards of {shard_size}" if shard_size else "inline"
            print(f"| {cases:,} | {path_name} | {parent} + {children} | {max(payloads):,} | {invocations} | "
                  f"{lambda_s:.1f} | {calls:,} | {tokens:,} | {spend:.4f} | {orchestration_usd:.5f} | "
                  f"{orchestration_usd / spend:.2%} | {result['seconds']:.1f} | {result['outcome']} |")
    print("\nInline, transitions do not grow with the dataset (the runner does the cases inside one task); the "
          "Distributed Map path adds two parent states (plan, reduce) and one child transition per shard, and "
          "splits the Lambda time across the shards (each well inside Lambda's 15 minutes). Parent counts vary "
          "by a few with the number of canary intervals baked.")
    if inline_lambda_s:
        largest = max(inline_lambda_s)
        per_case = inline_lambda_s[largest] / largest
        print(f"\nInline, the gate's Lambda time grows with the cases: {per_case:.3f} Lambda-s per case (K=1) at "
              f"{largest:,} cases, so one gate task would need about {per_case * 10_000:,.0f} s for 10,000 cases at "
              f"K=1 and {per_case * 30_000:,.0f} s at K=3 (Lambda's limit is 900 s): sets that size belong on the "
              f"Distributed Map path, measured above instead of a 10,000-case inline release.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--quota-tpm", type=int, default=1_200_000)
    parser.add_argument("--quota-calls", type=int, default=150)
    parser.add_argument("--skip-orchestration", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes only (make bench-quick)")
    args = parser.parse_args()
    started = time.perf_counter()
    print("# Control plane\n")
    print(describe() + "\n")
    sizes = ((10, 3), (100, 3)) if args.quick else ((10, 3), (100, 3), (1000, 3), (10000, 1))
    runner_throughput(args.latency_ms, args.concurrency, sizes)
    quota_behaviour(args.latency_ms, args.concurrency, args.quota_tpm, args.quota_calls // (5 if args.quick else 1))
    if not args.skip_orchestration:
        # 10,000 cases run as a Distributed Map only: inline they need ~10x the 1,000-case row's Lambda
        # time, close to or (with repeats) beyond Lambda's 15 minutes; the output prints the estimate.
        plans: list[tuple[int, int | None]] = [(300, 100)] if args.quick else [
            (10, None), (100, None), (1000, None), (10000, 1000)]
        orchestration(plans)
    print(f"\n(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
