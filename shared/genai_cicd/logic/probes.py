"""Probe traffic: synthetic requests to both variants when real traffic cannot reach a verdict in time.

StartCanary turns probes on when the manifest has ``canary.probes`` and either
asks for them always or the planner says the observed traffic cannot show a
harmless change safe within the plan (``probes_needed``). Each interval,
before the bake, SendProbes invokes the app's real entry point with pairs: the
same prompt from the probe set once per variant, marked as a probe of this
release (genai_cicd_app routes it to the variant it asks for, counts it under
``<variant>-probe`` and captures its answer). Sending stops at the manifest's
caps on requests and cost. Probe results are judged as their own stream.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from genai_cicd.canary.planning import PlanEstimate
from genai_cicd.deps import Deps
from genai_cicd.errors import InvalidInput
from genai_cicd.logic.context import load_manifest
from genai_cicd.models.dataset import GoldenCase, parse_jsonl
from genai_cicd.models.manifest import ReleaseManifest
from genai_cicd.models.tasks import CanaryState, ProbeState, ReleaseContext

PROBE_FIELD = "genai_cicd_probe"  # genai_cicd_app.PROBE_FIELD (the app's layer is not the control plane's)
ARMS = ("baseline", "candidate")
CONCURRENCY = 4


def probes_needed(manifest: ReleaseManifest, estimate: PlanEstimate | None) -> ProbeState:
    plan = manifest.canary
    if plan.probes is None:
        return ProbeState(active=False, reason="no probes in the manifest")
    if plan.probes.when == "always":
        return ProbeState(active=True, reason="the manifest asks for probes always")
    if estimate is None:
        return ProbeState(active=True, reason="no baseline traffic in the last 15 minutes: the canary cannot be "
                                              "judged on user traffic alone")
    if not all(s.fits for s in estimate.steps):
        return ProbeState(active=True, reason=f"at {estimate.requests_per_second:g} requests/s a step cannot "
                                              "show a harmless change safe within max_intervals_per_step")
    if plan.max_duration_seconds is not None and estimate.total_minutes_to_promote * 60 > plan.max_duration_seconds:
        return ProbeState(active=True, reason=f"at {estimate.requests_per_second:g} requests/s promotion needs "
                                              f"about {estimate.total_minutes_to_promote:.0f} min, more than "
                                              "max_duration_seconds")
    return ProbeState(active=False, reason=f"user traffic ({estimate.requests_per_second:g} requests/s) suffices")


def _prompts(deps: Deps, manifest: ReleaseManifest) -> list[str]:
    ref = manifest.probe_set()
    if ref is None:  # the manifest model refuses probes with nothing to draw from
        raise InvalidInput("canary.probes: no probe_set and no gates.prompt_regression.dataset to draw from")
    return [case.prompt for case in parse_jsonl(deps.artifacts.read_text(ref), GoldenCase, ref)]


def send_probes(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    probes = canary.probes
    if not probes.active or probes.stopped:
        return canary
    manifest = load_manifest(deps, release)
    plan = manifest.canary.probes
    if plan is None:  # the state says probes are on, but this release's manifest has none: send nothing
        return canary.model_copy(update={"probes": probes.model_copy(update={
            "stopped": "the manifest configures no probes"})})
    if probes.sent >= plan.max_requests:
        stopped = f"the cap of {plan.max_requests} probe requests is reached"
    elif probes.cost_usd >= plan.max_cost_usd:
        stopped = f"the cap of ${plan.max_cost_usd:g} on probe cost is reached (${probes.cost_usd:.4f} used)"
    else:
        stopped = None
    if stopped:
        return canary.model_copy(update={"probes": probes.model_copy(update={"stopped": stopped})})
    # Enough pairs for the time until the next look (the Wait that follows sleeps canary.wait_seconds).
    credit = probes.credit + plan.requests_per_second * canary.wait_seconds
    pairs = min(int(math.floor(credit)), (plan.max_requests - probes.sent) // 2)
    prompts = _prompts(deps, manifest)
    order = list(range(len(prompts)))
    random.Random(hashlib.sha256(release.release_id.encode()).digest()).shuffle(order)
    calls: list[tuple[str, dict[str, Any]]] = []
    for i in range(pairs):
        n = probes.sent // 2 + i
        prompt = prompts[order[n % len(order)]]
        for arm in (ARMS if n % 2 == 0 else ARMS[::-1]):  # alternate which variant goes first
            calls.append((arm, {plan.payload_field: prompt,
                                PROBE_FIELD: {"release_id": release.release_id, "variant": arm,
                                              "id": f"{n}-{arm}"}}))
    functions = deps.app_functions

    def invoke(call: tuple[str, dict[str, Any]]) -> tuple[str, bool]:
        arm, payload = call
        return arm, functions.invoke(plan.function_name, json.dumps(payload))

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        outcomes = list(pool.map(invoke, calls))
    crashed = dict(probes.crashed)
    for arm, ok in outcomes:
        if not ok:
            crashed[arm] = crashed.get(arm, 0) + 1
    return canary.model_copy(update={"probes": probes.model_copy(update={
        "sent": probes.sent + len(calls), "credit": credit - pairs, "crashed": crashed})})
