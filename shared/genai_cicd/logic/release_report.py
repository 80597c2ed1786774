"""The release report: gate verdicts, the canary time series per metric, the decision and why.

Written at the end of every release as Markdown and as one self-contained HTML
file (inline CSS and SVG, no scripts, no external assets) next to the evidence
in S3; its link goes into the final SNS message. Built only from the evidence
already in S3 — never from prompts or model outputs.
"""

from __future__ import annotations

import html
import json
from typing import Any

from pydantic import BaseModel, field_validator

from genai_cicd.aws.artifacts import ArtifactStore
from genai_cicd.errors import InvalidInput, domain_message
from genai_cicd.logic.context import evidence_key
from genai_cicd.models.tasks import ReleaseContext

SERIES = ("errors", "slow_requests", "low_quality", "guardrail_interventions")


class RecordInput(BaseModel):
    release: ReleaseContext
    outcome: str
    reasons: list[str] = []

    @field_validator("reasons")
    @classmethod
    def _domain_messages(cls, reasons: list[str]) -> list[str]:
        # A failure's reason arrives as the Lambda runtime's error JSON: keep type and message only.
        return [domain_message(r, 1000) for r in reasons]


class RecordResult(BaseModel):
    report_uri: str
    html_uri: str


def _load(store: ArtifactStore, release: ReleaseContext) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    try:
        quality = json.loads(store.read_text(evidence_key(release, "quality_gate.json")))
    except InvalidInput:
        quality = None
    # canary/interval-NNNN.json only (quality-NNNN.json beside them holds per-answer scores)
    intervals = [json.loads(store.read_text(key))
                 for key in store.list_keys(evidence_key(release, "canary", "interval-"))]
    return quality, intervals


def _rate(counts: dict[str, Any], arm: str, metric: str) -> float | None:
    n, x = counts.get(arm, {}).get("requests"), counts.get(arm, {}).get(metric)
    if not n or x is None:
        return None
    return float(x) / float(n)


def _mean_score(counts: dict[str, Any], arm: str) -> float | None:
    n, total = counts.get(arm, {}).get("quality_count"), counts.get(arm, {}).get("quality_sum")
    if not n or total is None:
        return None
    return float(total) / float(n)


def live_traffic_lines(intervals: list[dict[str, Any]]) -> list[str]:
    """What online scoring and probes used, from the last interval's running totals."""
    if not intervals:
        return []
    last = intervals[-1]
    out = []
    online = last.get("online") or {}
    if online.get("scored") or online.get("judge_calls") or online.get("unscored"):
        out.append(f"Online quality: {online.get('scored', 0):,} captured answers scored "
                   f"({online.get('judge_calls', 0):,} judge calls, {online.get('judge_tokens', 0):,} tokens), "
                   f"{online.get('imputed', 0):,} imputed after a scorer failure, {online.get('unscored', 0):,} "
                   "unscored" + ("; the judge budget was spent" if online.get("budget_spent") else ""))
    probes = last.get("probes") or {}
    if probes.get("active"):
        out.append(f"Probe traffic: {probes.get('sent', 0):,} probe requests, ${probes.get('cost_usd', 0.0):.4f} "
                   f"(why: {probes.get('reason', '')})" + (f"; stopped: {probes['stopped']}" if probes.get("stopped")
                                                          else ""))
    if last.get("stream") == "probe":
        out.append("The decision came from the probe stream.")
    return out


def markdown(release: ReleaseContext, outcome: str, reasons: list[str], quality: dict[str, Any] | None,
             intervals: list[dict[str, Any]]) -> str:
    lines = [f"# Release {release.release_id}: {outcome}", "",
             f"- app: {release.app} / {release.environment}", f"- change: {', '.join(release.change_kinds)}",
             *([f"- change kinds: {release.kinds_note}"] if release.kinds_note else []),
             f"- started by: {release.started_by}", f"- manifest: {release.manifest_uri} ({release.manifest_hash})",
             ""]
    if reasons:
        lines += ["## Why", "", *[f"- {r}" for r in reasons], ""]
    lines += ["## Gates", ""]
    if quality is None:
        lines += ["No gate verdict (the release stopped before the quality gate).", ""]
    else:
        lines += [f"Quality gate: **{quality['decision']}**" + (f" (blocked by {', '.join(quality['blocked_by'])})"
                                                              if quality["blocked_by"] else ""), "",
                  "| gate | status | summary |", "|---|---|---|"]
        for name, gate in sorted(quality.get("gates", {}).items()):
            lines.append(f"| {name} | {gate['status']} | {gate['summary']} |")
        lines.append("")
    lines += ["## Canary", ""]
    if not intervals:
        lines += ["Traffic never moved to the candidate.", ""]
    else:
        scored = any("quality_count" in (x["counts"].get("candidate") or {}) for x in intervals)
        lines += ["| # | weight | canary req | " + " | ".join(f"{m} canary/base" for m in SERIES)
                  + (" | quality canary/base" if scored else "") + " | action |",
                  "|---|---|---|" + "---|" * (len(SERIES) + scored) + "---|"]
        for i, iv in enumerate(intervals, start=1):
            counts = iv["counts"]
            cells = []
            for m in SERIES:
                c, b = _rate(counts, "candidate", m), _rate(counts, "baseline", m)
                cells.append("-" if c is None or b is None else f"{c:.3f}/{b:.3f}")
            if scored:
                c, b = _mean_score(counts, "candidate"), _mean_score(counts, "baseline")
                cells.append("-" if c is None or b is None else f"{c:.2f}/{b:.2f}")
            lines.append(f"| {i} | {iv['weight']}% | {counts['candidate'].get('requests') or 0:.0f} | "
                         + " | ".join(cells) + f" | {iv['action']} |")
        lines += ["", *live_traffic_lines(intervals)]
        last = intervals[-1]
        lines += ["", f"Decision at interval {len(intervals)}: **{last['action']}**"
                  + (f" on {last['decision'].get('metric')}" if last["decision"].get("metric") else ""), "",
                  *[f"- {r}" for r in last["decision"].get("reasons", [])], ""]
    return "\n".join(lines) + "\n"


def _sparkline(values: list[float | None], color: str, width: int = 360, height: int = 60) -> str:
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return ""
    top = max(v for _, v in points) or 1.0
    step = width / max(1, len(values) - 1)
    coords = " ".join(f"{i * step:.1f},{height - 4 - (v / top) * (height - 8):.1f}" for i, v in points)
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>'


def html_report(md_title: str, release: ReleaseContext, outcome: str, reasons: list[str],
                quality: dict[str, Any] | None, intervals: list[dict[str, Any]]) -> str:
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'>", f"<title>{e(md_title)}</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
             ".PASS{color:#070}.BLOCK{color:#b00}.SKIPPED{color:#777}svg{background:#fafafa;border:1px solid #ddd}"
             "</style></head><body>", f"<h1>{e(md_title)}</h1>",
             f"<p>{e(release.app)} / {e(release.environment)} — change: {e(', '.join(release.change_kinds))} — "
             f"started by {e(release.started_by)}</p>",
             *([f"<p class='BLOCK'>{e(release.kinds_note)}</p>"] if release.kinds_note else [])]
    if reasons:
        parts += ["<h2>Why</h2><ul>", *[f"<li>{e(r)}</li>" for r in reasons], "</ul>"]
    parts.append("<h2>Gates</h2>")
    if quality:
        parts.append(f"<p>Quality gate: <b class='{e(quality['decision'])}'>{e(quality['decision'])}</b></p>")
        parts.append("<table><tr><th>gate</th><th>status</th><th>summary</th></tr>")
        for name, gate in sorted(quality.get("gates", {}).items()):
            parts.append(f"<tr><td>{e(name)}</td><td class='{e(gate['status'])}'>{e(gate['status'])}</td>"
                         f"<td>{e(gate['summary'])}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No gate verdict.</p>")
    parts.append("<h2>Canary</h2>")
    if intervals:
        for metric in SERIES:
            canary = [_rate(iv["counts"], "candidate", metric) for iv in intervals]
            base = [_rate(iv["counts"], "baseline", metric) for iv in intervals]
            if all(v is None for v in canary + base):
                continue
            parts.append(f"<h3>{e(metric)} rate per interval (red: canary, blue: baseline)</h3>"
                         f"<svg width='360' height='60'>{_sparkline(base, '#36c')}{_sparkline(canary, '#c33')}</svg>")
        scores_c = [_mean_score(iv["counts"], "candidate") for iv in intervals]
        scores_b = [_mean_score(iv["counts"], "baseline") for iv in intervals]
        if not all(v is None for v in scores_c + scores_b):
            parts.append("<h3>mean quality score of live answers per interval (red: canary, blue: baseline)</h3>"
                         f"<svg width='360' height='60'>{_sparkline(scores_b, '#36c')}{_sparkline(scores_c, '#c33')}"
                         "</svg>")
        parts += [f"<p>{e(line)}</p>" for line in live_traffic_lines(intervals)]
        last = intervals[-1]
        parts.append(f"<p>Decision at interval {len(intervals)}: <b>{e(last['action'])}</b></p><ul>")
        parts += [f"<li>{e(r)}</li>" for r in last["decision"].get("reasons", [])]
        parts.append("</ul>")
    else:
        parts.append("<p>Traffic never moved to the candidate.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def record_release(event: RecordInput, store: ArtifactStore) -> RecordResult:
    quality, intervals = _load(store, event.release)
    title = f"Release {event.release.release_id}: {event.outcome}"
    md = markdown(event.release, event.outcome, event.reasons, quality, intervals)
    page = html_report(title, event.release, event.outcome, event.reasons, quality, intervals)
    md_uri = store.put_text(evidence_key(event.release, "report.md"), md, "text/markdown; charset=utf-8")
    html_uri = store.put_text(evidence_key(event.release, "report.html"), page, "text/html; charset=utf-8")
    return RecordResult(report_uri=md_uri, html_uri=html_uri)
