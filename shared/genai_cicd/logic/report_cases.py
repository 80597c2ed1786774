"""The cases that hurt most: what a blocked gate's report shows side by side.

Read from the gate's own evidence (``outputs.jsonl``/``results.jsonl`` beside its
``verdict.json``) and the pinned dataset the manifest names. These are the team's
golden and attack cases, never live users' requests. Each case row carries the
prompt, the reference, one answer per arm (the worst-scoring repeat) and the
scores, ordered by how much worse the candidate did.
"""

from __future__ import annotations

import json
from collections import defaultdict
from statistics import fmean
from typing import Any

from pydantic import BaseModel

from genai_cicd.errors import InvalidInput
from genai_cicd.models.dataset import GoldenCase, InjectionCase, case_ids, parse_jsonl
from genai_cicd.models.manifest import ReleaseManifest
from genai_cicd.ports import Artifacts

TEXT_LIMIT = 600  # characters of a prompt or answer shown in the report


class CaseRow(BaseModel):
    case_id: str
    prompt: str
    reference: str | None = None
    baseline_answer: str | None
    candidate_answer: str | None
    # mean over repeats per metric; a metric missing for an arm: no call of that arm answered
    baseline_scores: dict[str, float] = {}
    candidate_scores: dict[str, float] = {}
    harm: float  # the largest baseline - candidate over the metrics (higher is worse for the candidate)

    def worst_metric(self) -> str:
        return max(self.candidate_scores, key=lambda m: (self.baseline_scores.get(m, 1.0) - self.candidate_scores[m],
                                                         m))


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " …"


def _prefix(report_uri: str) -> str:
    return report_uri.rsplit("/", 1)[0]


def _lines(store: Artifacts, ref: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in store.read_text(ref).splitlines() if line.strip()]


def regression_cases(store: Artifacts, manifest: ReleaseManifest, report_uri: str,
                     metrics: list[str]) -> list[CaseRow]:
    """Per case: mean score per arm and metric (a missing answer scores 0), worst case first."""
    gate = manifest.gates.prompt_regression
    if gate is None:
        return []
    cases = parse_jsonl(store.read_text(gate.dataset), GoldenCase, gate.dataset)
    by_id = dict(zip(case_ids(cases), cases, strict=True))
    scores: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    answers: dict[tuple[str, str], tuple[float, str | None]] = {}  # (case, arm) -> the lowest-scoring answer
    for row in _lines(store, f"{_prefix(report_uri)}/outputs.jsonl"):
        total = 0.0
        for metric in metrics:
            value = (row.get("scores") or {}).get(metric)
            # A failed call or a rejected verdict is an absent score: it counts as 0 here too.
            score = float(value) if value is not None else 0.0
            scores[(row["case_id"], row["arm"], metric)].append(score)
            total += score
        text = row.get("output") if row.get("output") is not None else (
            f"(no answer: {row['error']})" if row.get("error") else "(the answer is not in the evidence)")
        key = (row["case_id"], row["arm"])
        if key not in answers or total < answers[key][0]:
            answers[key] = (total, text)
    out = []
    for cid, case in by_id.items():
        cand = {m: fmean(v) for m in metrics if (v := scores.get((cid, "candidate", m)))}
        if not cand:
            continue
        base = {m: fmean(v) for m in metrics if (v := scores.get((cid, "baseline", m)))}
        harm = max(base.get(m, 1.0) - cand[m] for m in cand)
        out.append(CaseRow(case_id=cid, prompt=_clip(case.prompt) or "", reference=_clip(case.reference_response),
                           baseline_answer=_clip(answers.get((cid, "baseline"), (0.0, None))[1]),
                           candidate_answer=_clip(answers[(cid, "candidate")][1]), baseline_scores=base,
                           candidate_scores=cand, harm=harm))
    return sorted(out, key=lambda r: (-r.harm, r.case_id))


def injection_cases(store: Artifacts, manifest: ReleaseManifest, report_uri: str) -> list[CaseRow]:
    """Attacks that succeeded more often on the candidate; score = share of repeats resisted."""
    gate = manifest.gates.injection_suite
    if gate is None:
        return []
    cases = {c.id: c for c in parse_jsonl(store.read_text(gate.corpus), InjectionCase, gate.corpus)}
    hits: dict[tuple[str, str], list[bool]] = defaultdict(list)
    answers: dict[tuple[str, str], str | None] = {}
    for row in _lines(store, f"{_prefix(report_uri)}/results.jsonl"):
        key = (row["case_id"], row["arm"])
        # An errored call never counts as resisted.
        hits[key].append(bool(row.get("attack_succeeded")) or bool(row.get("error")))
        if row.get("attack_succeeded") or key not in answers:
            answers[key] = row.get("output")
    out = []
    for cid, case in cases.items():
        if (cid, "candidate") not in hits:
            continue
        cand = 1 - fmean(hits[(cid, "candidate")])
        base = 1 - fmean(hits[(cid, "baseline")]) if (cid, "baseline") in hits else None
        harm = (base if base is not None else 1.0) - cand
        if harm <= 0 and cand == 1.0:
            continue
        prompt = case.attack + (f"\n[document] {case.document}" if case.document else "")
        metric = f"resisted ({case.category})"
        out.append(CaseRow(case_id=cid, prompt=_clip(prompt) or "", reference=None,
                           baseline_answer=_clip(answers.get((cid, "baseline"))),
                           candidate_answer=_clip(answers.get((cid, "candidate"))),
                           baseline_scores={metric: base} if base is not None else {},
                           candidate_scores={metric: cand}, harm=harm))
    return sorted(out, key=lambda r: (-r.harm, r.case_id))


def worst_cases(store: Artifacts, manifest: ReleaseManifest, quality: dict[str, Any]) -> dict[str, list[CaseRow]]:
    """For each gate that blocked or has a metric worse than its baseline: every case, worst first.

    Best effort: evidence that cannot be read gives no rows (the gate's verdict says why it blocked).
    """
    out: dict[str, list[CaseRow]] = {}
    for name, gate in sorted((quality.get("gates") or {}).items()):
        uri = gate.get("report_uri")
        if not uri:
            continue
        try:
            if name == "prompt_regression":
                metrics = {m: v for m, v in ((gate.get("stats") or {}).get("metrics") or {}).items()}
                worse = [m for m, v in metrics.items()
                         if v.get("decision") != "pass" or v.get("candidate_mean", 0) < v.get("baseline_mean", 0)]
                if gate.get("status") != "PASS" or worse:
                    rows = regression_cases(store, manifest, uri, worse or list(metrics))
                    out[name] = [r for r in rows if r.harm > 0] or rows[:0]
            elif name == "injection_suite":
                rates = (gate.get("stats") or {}).get("success_rate") or {}
                if gate.get("status") != "PASS" or rates.get("candidate", 0) > rates.get("baseline", 0):
                    out[name] = injection_cases(store, manifest, uri)
        except (InvalidInput, KeyError, ValueError, TypeError):
            continue
    return out
