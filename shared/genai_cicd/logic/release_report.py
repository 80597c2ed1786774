"""The release report: what changed, the gates, the canary over time, the decision and why.

Written at the end of every release next to the evidence in S3, as Markdown and as one
self-contained HTML page (inline CSS and SVG from ``logic/charts.py``, no scripts, no external
assets); its link goes into the final SNS message. A blocked gate's page shows the cases that
hurt most side by side, and ``<release>-cases.html`` beside it holds every case the candidate did
worse on (or, for attacks, did not resist). Each report also adds an entry to the release index
(``reports/index/<release>.json``, rendered as
``reports/index.html`` in the bucket).

Built from the evidence in S3: verdicts, counts, bounds, and the team's golden and attack cases
with the answers the gates recorded. Never from live users' requests or captured answers.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from genai_cicd import clock as clock_seam
from genai_cicd import s3_keys
from genai_cicd.errors import InvalidInput, domain_message
from genai_cicd.logic import charts
from genai_cicd.logic.context import evidence_key
from genai_cicd.logic.report_cases import CaseRow, worst_cases
from genai_cicd.logic.report_index import IndexEntry, write_index
from genai_cicd.logic.report_shadow import (
    ShadowEvidence,
    gather_shadow,
    html_parts,
    markdown_lines,
    shadow_pairs_page,
)
from genai_cicd.models.manifest import ReleaseManifest, load_manifest_text
from genai_cicd.models.tasks import ReleaseContext
from genai_cicd.ports import Artifacts
from genai_cicd.shorten import shorten

SERIES = ("errors", "slow_requests", "low_quality", "guardrail_interventions")
WORST_SHOWN = 10
LABELS = {"errors": "error rate", "slow_requests": "slow-request rate", "low_quality": "low-quality rate",
          "guardrail_interventions": "guardrail intervention rate", "quality": "mean quality score",
          "cost_per_request": "cost per request", "tokens_per_request": "tokens per request"}
ACTIONS = {"continue": "keep baking", "next_step": "next step", "promote": "promote", "rollback": "roll back"}


class Approval(BaseModel):
    approver: str | None = None
    comment: str | None = None


class RecordInput(BaseModel):
    release: ReleaseContext
    outcome: Literal["promoted", "blocked", "rolled_back", "failed", "rejected"]
    reasons: list[str] = []
    started_at: str | None = None  # $$.Execution.StartTime
    approval: Approval | None = None

    @field_validator("reasons")
    @classmethod
    def _domain_messages(cls, reasons: list[str]) -> list[str]:
        # A failure's reason arrives as the Lambda runtime's error JSON: keep type and message only.
        return [domain_message(r, 1000) for r in reasons]


class RecordResult(BaseModel):
    report_uri: str
    html_uri: str
    cases_uri: str | None = None
    index_uri: str | None = None


class ReportData(RecordInput):
    """Everything a report shows: the task's input and what was gathered from S3 once."""

    quality: dict[str, Any] | None = None
    intervals: list[dict[str, Any]] = []
    manifest: ReleaseManifest | None = None
    gate_verdicts: dict[str, dict[str, Any]] = {}
    cases: dict[str, list[CaseRow]] = Field(default_factory=dict)
    finished_at: str | None = None
    shadow: ShadowEvidence = Field(default_factory=ShadowEvidence)


def _read_json(store: Artifacts, ref: str) -> Any:
    try:
        return json.loads(store.read_text(ref))
    except (InvalidInput, ValueError):
        return None


def gather(event: RecordInput, store: Artifacts, finished_at: str | None = None) -> ReportData:
    release = event.release
    quality = _read_json(store, evidence_key(release, "quality_gate.json"))
    # canary/interval-NNNN.json only (quality-NNNN.json beside them holds per-answer scores)
    intervals = [json.loads(store.read_text(key)) for key in store.list_keys(evidence_key(release, "canary",
                                                                                           "interval-"))]
    try:
        manifest: ReleaseManifest | None = load_manifest_text(store.read_text(release.manifest_uri),
                                                              release.manifest_uri)
    except InvalidInput:
        manifest = None
    verdicts: dict[str, dict[str, Any]] = {}
    cases: dict[str, list[CaseRow]] = {}
    if quality:
        for name, gate in (quality.get("gates") or {}).items():
            doc = _read_json(store, gate["report_uri"]) if gate.get("report_uri") else None
            if isinstance(doc, dict):
                verdicts[name] = doc
        if manifest is not None:
            cases = worst_cases(store, manifest, quality)
    return ReportData(release=release, outcome=event.outcome, reasons=event.reasons, quality=quality,
                      intervals=intervals, manifest=manifest, gate_verdicts=verdicts, cases=cases,
                      started_at=event.started_at, finished_at=finished_at, approval=event.approval,
                      shadow=gather_shadow(store, release))


# -- reading the evidence -------------------------------------------------------------------

def _rate(counts: dict[str, Any], arm: str, metric: str) -> float | None:
    n, x = (counts.get(arm) or {}).get("requests"), (counts.get(arm) or {}).get(metric)
    if not n or x is None:
        return None
    return float(x) / float(n)


def _mean_score(counts: dict[str, Any], arm: str) -> float | None:
    n, total = (counts.get(arm) or {}).get("quality_count"), (counts.get(arm) or {}).get("quality_sum")
    if not n or total is None:
        return None
    return float(total) / float(n)


def _bounds(interval: dict[str, Any], metric: str) -> dict[str, Any]:
    return ((interval.get("decision") or {}).get("metrics") or {}).get(metric) or {}


def interval_cells(counts: dict[str, Any], rate_format: str, between: str, quality: bool) -> list[str]:
    """One interval's cells: each series' rate canary/baseline, then (optionally) the mean quality score."""
    pairs = [(_rate(counts, "candidate", m), _rate(counts, "baseline", m), rate_format) for m in SERIES]
    if quality:
        pairs.append((_mean_score(counts, "candidate"), _mean_score(counts, "baseline"), ".2f"))
    return ["-" if c is None or b is None else f"{c:{spec}}{between}{b:{spec}}" for c, b, spec in pairs]


def judged_metrics(intervals: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for iv in intervals:
        for m in ((iv.get("decision") or {}).get("metrics") or {}):
            if m not in seen:
                seen.append(m)
    return seen


def steps(intervals: list[dict[str, Any]]) -> list[charts.Region]:
    """Consecutive intervals at one traffic weight: the canary's steps."""
    regions: list[charts.Region] = []
    for i, iv in enumerate(intervals, start=1):
        label = f"{float(iv.get('weight') or 0):g}% canary"
        if regions and regions[-1].label == label and regions[-1].last == i - 1:
            regions[-1] = charts.Region(regions[-1].first, i, label)
        else:
            regions.append(charts.Region(i, i, label))
    return regions


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


def headline(data: ReportData) -> str:
    """The outcome and why, in one sentence of plain words."""
    q = data.quality or {}
    first = data.reasons[0] if data.reasons else ""
    if data.outcome == "blocked" and data.shadow.outcome in ("worse", "not_shown_safe"):
        what = "shown worse than the baseline" if data.shadow.outcome == "worse" else "not shown non-inferior"
        pairs = data.shadow.looks[-1].get("pairs", 0)
        return (f"Blocked in shadow evaluation before any user was served by the candidate: {what} on "
                f"{pairs:,} live requests answered by both" + (f" ({first})." if first else "."))
    if data.outcome == "blocked":
        by = ", ".join(q.get("blocked_by") or []) or "the quality gate"
        return f"Blocked before any traffic moved: {by} failed" + (f" ({first})." if first else ".")
    last = data.intervals[-1] if data.intervals else None
    if data.outcome == "promoted":
        n = len(data.intervals)
        return (f"Promoted to 100% after {n} canary interval{'s' * (n != 1)}: every judged metric was shown "
                "safe at each step" + (" (on probe traffic)." if last and last.get("stream") == "probe" else "."))
    if data.outcome == "rolled_back" and last is not None:
        metric = (last.get("decision") or {}).get("metric")
        b = _bounds(last, metric) if metric else {}
        what = {"shown_harmful": "was shown harmful", "not_shown_safe": "was not shown safe in time"}.get(
            str((last.get("decision") or {}).get("outcome")), "decided it")
        evidence = f" (canary {b['canary']} vs baseline {b['baseline']})" if b.get("canary") else ""
        return (f"Rolled back to the baseline at {float(last.get('weight') or 0):g}% canary traffic after interval "
                f"{len(data.intervals)}: {LABELS.get(str(metric), metric or 'a metric')} {what}{evidence}.")
    return f"Ended {data.outcome.replace('_', ' ')}" + (f": {first}." if first else ".")


def change_rows(data: ReportData) -> list[tuple[str, str, str]]:
    """(what, baseline, candidate) for the fields a person checks first."""
    rows: list[tuple[str, str, str]] = []
    m = data.manifest
    if m is not None:
        b, c = m.baseline, m.candidate
        rows += [("prompt", b.prompt.rsplit("/", 1)[-1], c.prompt.rsplit("/", 1)[-1]),
                 ("model", str(b.model_id or "-"), str(c.model_id or "-"))]
        gb, gc = b.guardrail, c.guardrail
        if gb or gc:
            rows.append(("guardrail", f"{gb.id} v{gb.version}" if gb else "-", f"{gc.id} v{gc.version}" if gc else "-"))
    for field in ("prompt_hash", "lambda_version", "temperature"):
        values = [str((data.release.variants.get(arm) or {}).get(field) or "") for arm in ("baseline", "candidate")]
        if any(values):
            rows.append((field.replace("_", " "), values[0] or "-", values[1] or "-"))
    return rows


def duration_seconds(data: ReportData) -> float | None:
    from datetime import datetime

    try:
        if data.started_at and data.finished_at:
            return (datetime.fromisoformat(data.finished_at) - datetime.fromisoformat(data.started_at)
                    ).total_seconds()
    except ValueError:
        return None
    return None


def decided_on(data: ReportData) -> str | None:
    if data.outcome == "blocked" and data.shadow.outcome in ("worse", "not_shown_safe"):
        return "shadow"
    if data.outcome == "blocked":
        return ",".join((data.quality or {}).get("blocked_by") or []) or None
    return (data.intervals[-1].get("decision") or {}).get("metric") if data.intervals else None


# -- Markdown ---------------------------------------------------------------------------------

def markdown(data: ReportData) -> str:
    r = data.release
    lines = [f"# Release {r.release_id}: {data.outcome}", "", f"**{headline(data)}**", "",
             f"- app: {r.app} / {r.environment}", f"- change: {', '.join(r.change_kinds)}"
             + (f" (derived: {', '.join(r.derived_kinds)})" if r.derived_kinds else ""),
             *([f"- change kinds: {r.kinds_note}"] if r.kinds_note else []),
             f"- started by: {r.started_by}" + (f" at {data.started_at}" if data.started_at else ""),
             *([f"- approved by: {data.approval.approver}"] if data.approval and data.approval.approver else []),
             f"- manifest: {r.manifest_uri} ({r.manifest_hash})", ""]
    rows = change_rows(data)
    if rows:
        lines += ["| | baseline | candidate |", "|---|---|---|", *[f"| {a} | {b} | {c} |" for a, b, c in rows], ""]
    if data.reasons:
        lines += ["## Why", "", *[f"- {x}" for x in data.reasons], ""]
    lines += ["## Gates", ""]
    q = data.quality
    if q is None:
        lines += ["No gate verdict (the release stopped before the quality gate).", ""]
    else:
        lines += [f"Quality gate: **{q['decision']}**" + (f" (blocked by {', '.join(q['blocked_by'])})"
                                                        if q["blocked_by"] else ""), "",
                  "| gate | status | summary |", "|---|---|---|"]
        for name, gate in sorted(q.get("gates", {}).items()):
            lines.append(f"| {name} | {gate['status']} | {gate['summary']} |")
        lines.append("")
        for gate_name, rows_ in data.cases.items():
            if not rows_:
                continue
            lines += [f"### {gate_name}: the {min(WORST_SHOWN, len(rows_))} cases that hurt most", "",
                      "| case | scores baseline -> candidate | prompt |", "|---|---|---|"]
            for row in rows_[:WORST_SHOWN]:
                lines.append(f"| {row.case_id} | {_scores_text(row)} | {_cell(row.prompt, 80)} |")
            lines.append("")
    lines += markdown_lines(data.shadow, r.release_id)
    lines += ["## Canary", ""]
    intervals = data.intervals
    if not intervals:
        lines += ["Traffic never moved to the candidate.", ""]
    else:
        scored = any("quality_count" in (x["counts"].get("candidate") or {}) for x in intervals)
        lines += ["| # | weight | canary req | " + " | ".join(f"{m} canary/base" for m in SERIES)
                  + (" | quality canary/base" if scored else "") + " | action |",
                  "|---|---|---|" + "---|" * (len(SERIES) + scored) + "---|"]
        for i, iv in enumerate(intervals, start=1):
            counts = iv["counts"]
            cells = interval_cells(counts, ".3f", "/", quality=scored)
            lines.append(f"| {i} | {iv['weight']}% | {(counts.get('candidate') or {}).get('requests') or 0:.0f} | "
                         + " | ".join(cells) + f" | {iv['action']} |")
        lines += ["", *live_traffic_lines(intervals)]
        last = intervals[-1]
        lines += ["", f"Decision at interval {len(intervals)}: **{last['action']}**"
                  + (f" on {last['decision'].get('metric')}" if last["decision"].get("metric") else ""), "",
                  *[f"- {x}" for x in last["decision"].get("reasons", [])], ""]
    return "\n".join(lines) + "\n"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _scores_text(row: CaseRow) -> str:
    return "; ".join(f"{m} {_score(row.baseline_scores.get(m))} -> {_score(v)}"
                     for m, v in sorted(row.candidate_scores.items()))


def _cell(text: str | None, limit: int) -> str:
    t = (text or "-").replace("|", "\\|").replace("\n", " ")
    return shorten(t, limit)


# -- HTML -------------------------------------------------------------------------------------

STYLE = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222;padding:0 1em}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
         "vertical-align:top;text-align:left;overflow-wrap:anywhere}th{background:#f4f4f4}.PASS,.promoted{color:#1e8449}"
         ".BLOCK,.blocked,.rolled_back,.failed{color:#b03a2e}.SKIPPED{color:#777}.headline{font-size:1.15em;"
         "padding:.6em .8em;border-left:4px solid #888;background:#f7f7f7}"
         ".answer{max-width:28em;white-space:pre-wrap;font-size:.9em}figure{margin:1em 0}"
         "svg{background:#fff;border:1px solid #ddd;max-width:100%;height:auto}")


def _page(title: str, body: list[str]) -> str:
    return "\n".join(["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
                      "<meta name='viewport' content='width=device-width,initial-scale=1'>",
                      f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
                      *body, "</body></html>"]) + "\n"


def _short(value: str) -> str:
    """A content hash shortened to 12 hex digits, the whole of it on hover; anything else as it is."""
    if value.startswith("sha256:") and len(value) > 19:
        return f"<code title='{html.escape(value)}'>{html.escape(value[:19])}…</code>"
    return html.escape(value)


def _cases_table(rows: list[CaseRow]) -> list[str]:
    e = html.escape
    out = ["<table class='cases'><tr><th>case</th><th>prompt</th><th>reference</th><th>baseline answer</th>"
           "<th>candidate answer</th><th>scores (baseline → candidate)</th></tr>"]
    for c in rows:
        scores = "<br>".join(f"{e(m)}: {_score(c.baseline_scores.get(m))} → <b>{_score(v)}</b>"
                             for m, v in sorted(c.candidate_scores.items()))
        out.append(f"<tr><td>{e(c.case_id)}</td><td class='answer'>{e(c.prompt)}</td>"
                   f"<td class='answer'>{e(c.reference or '-')}</td>"
                   f"<td class='answer'>{e(c.baseline_answer or '-')}</td>"
                   f"<td class='answer'>{e(c.candidate_answer or '-')}</td><td>{scores}</td></tr>")
    out.append("</table>")
    return out


def _gate_chart(name: str, verdict: dict[str, Any]) -> str | None:
    rows = []
    for m in verdict.get("metrics") or []:
        try:
            rows.append(charts.IntervalRow(
                metric=str(m["metric"]), baseline=float(m["baseline_mean"]), candidate=float(m["candidate_mean"]),
                lower=float(m["lower_bound"]), upper=float(m["upper_bound"]), margin=float(m["margin"]),
                threshold=float(m["threshold"]), decision=str(m["decision"])))
        except (KeyError, TypeError, ValueError):
            continue
    return charts.interval_chart(f"{name}: candidate vs baseline", rows) if rows else None


def _canary_charts(intervals: list[dict[str, Any]]) -> list[str]:
    n = len(intervals)
    regions = steps(intervals)
    last = intervals[-1]
    marker = [charts.Marker(n, f"{ACTIONS.get(str(last.get('action')), last.get('action'))}")]
    # The counts charted are those of the stream that decided: probe pairs when probes decided (the users'
    # few requests beside a probe verdict would show evidence that was not used).
    probes_decided = last.get("stream") == "probe"
    key, source = ("probe_counts", " (probe traffic, which decided)") if probes_decided else ("counts", "")
    out = []
    for metric in judged_metrics(intervals):
        label = LABELS.get(metric, metric.replace("_", " "))
        if metric in SERIES:
            canary = [_rate(iv.get(key) or {}, "candidate", metric) for iv in intervals]
            base = [_rate(iv.get(key) or {}, "baseline", metric) for iv in intervals]
            if not all(v is None for v in canary + base):
                out.append(charts.line_chart(
                    title=f"{label} per interval{source}", x_label="canary interval",
                    y_label=f"{label} (share of requests)",
                    n=n, series=[charts.Series("canary", canary, charts.PALETTE["canary"]),
                                 charts.Series("baseline", base, charts.PALETTE["baseline"])],
                    regions=regions, markers=marker, y_floor=0.0))
        elif metric == "quality":
            canary = [_mean_score(iv.get(key) or {}, "candidate") for iv in intervals]
            base = [_mean_score(iv.get(key) or {}, "baseline") for iv in intervals]
            if not all(v is None for v in canary + base):
                out.append(charts.line_chart(
                    title=f"mean quality score of {'probe' if probes_decided else 'live'} answers per interval",
                    x_label="canary interval",
                    y_label="mean judge score (0 to 1)", n=n,
                    series=[charts.Series("canary", canary, charts.PALETTE["canary"]),
                            charts.Series("baseline", base, charts.PALETTE["baseline"])],
                    regions=regions, markers=marker, y_floor=0.0, y_ceiling=1.0))
        bounds = [_bounds(iv, metric) for iv in intervals]
        # A band without an estimate (no bad events in either arm: 0/0 has no ratio) still shows what
        # decided; only a metric with no bounds at all has no band chart.
        if not any(b.get(k) is not None for b in bounds for k in ("estimate", "lower", "upper")):
            continue
        first = next(b for b in bounds if b)
        ratio = metric != "quality"
        y_label = "canary / baseline" if ratio else "canary − baseline"
        safe_at, harm_at = float(first["allowance"]), float(first["harm_above"])
        if not ratio and safe_at == harm_at:
            lines = [charts.RefLine("harm below, safe above", harm_at, charts.PALETTE["harm"])]
        elif not ratio:
            lines = [charts.RefLine("safe above", safe_at, charts.PALETTE["safe"]),
                     charts.RefLine("harm below", harm_at, charts.PALETTE["harm"])]
        else:
            lines = [charts.RefLine("safe below", safe_at, charts.PALETTE["safe"]),
                     charts.RefLine("harm above", harm_at, charts.PALETTE["harm"])]
        # Bounds can be infinite while data is scarce: show a window around the decision lines.
        finite = [float(v) for b in bounds for v in (b.get("estimate"), b.get("lower"), b.get("upper"))
                  if isinstance(v, int | float) and math.isfinite(v)]
        top = max([*finite, *(x.y for x in lines)]) if finite else 2.0
        out.append(charts.line_chart(
            title=f"{label}: {y_label}, its confidence band and the decision lines", x_label="canary interval",
            y_label=y_label, n=n,
            series=[charts.Series("estimate", [_num(b.get("estimate")) for b in bounds], "#333")],
            bands=[charts.Band("confidence band",
                               [_num(b.get("lower")) for b in bounds], [_num(b.get("upper")) for b in bounds],
                               charts.PALETTE["canary"])],
            lines=lines, regions=regions, markers=marker,
            y_floor=0.0 if ratio else -1.0, y_ceiling=min(top, max(x.y for x in lines) * 3) if ratio else 1.0))
    return out


def _num(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if value in ("inf", "Infinity"):
        return math.inf
    return None


def html_report(data: ReportData) -> str:
    e = html.escape
    r = data.release
    title = f"Release {r.release_id}: {data.outcome.replace('_', ' ')}"
    body = [f"<h1>{e(title)}</h1>", f"<p class='headline {e(data.outcome)}'>{e(headline(data))}</p>",
            "<table class='facts'>",
            f"<tr><th>app / environment</th><td>{e(r.app)} / {e(r.environment)}</td></tr>",
            f"<tr><th>what changed</th><td>{e(', '.join(r.change_kinds))}"
            + (f" (derived from the content: {e(', '.join(r.derived_kinds))})" if r.derived_kinds else "")
            + "</td></tr>",
            f"<tr><th>started by</th><td>{e(r.started_by)}" + (f" at {e(data.started_at)}" if data.started_at else "")
            + "</td></tr>"]
    if r.approval_required:
        who = data.approval.approver if data.approval and data.approval.approver else "not approved"
        body.append(f"<tr><th>approved by</th><td>{e(who)}</td></tr>")
    if r.pipeline is not None:
        body.append(f"<tr><th>pipeline</th><td>{e(r.pipeline.model_dump_json())}</td></tr>")
    body += [f"<tr><th>manifest</th><td>{e(r.manifest_uri)}<br><code>{e(r.manifest_hash)}</code></td></tr>",
             *([f"<tr><th>candidate content</th><td><code>{e(r.candidate_hash)}</code></td></tr>"]
               if r.candidate_hash else []), "</table>"]
    if r.kinds_note:
        body.append(f"<p class='BLOCK'>{e(r.kinds_note)}</p>")
    rows = change_rows(data)
    if rows:
        body.append("<h2>What changed</h2><table><tr><th></th><th>baseline</th><th>candidate</th></tr>")
        body += [f"<tr><th>{e(a)}</th><td>{_short(b)}</td><td>{_short(c)}</td></tr>" for a, b, c in rows]
        body.append("</table>")
    if data.reasons:
        body += ["<h2>Why</h2><ul>", *[f"<li>{e(x)}</li>" for x in data.reasons], "</ul>"]
    body.append("<h2>Gates</h2>")
    q = data.quality
    if q:
        body.append(f"<p>Quality gate: <b class='{e(q['decision'])}'>{e(q['decision'])}</b></p>")
        body.append("<table><tr><th>gate</th><th>status</th><th>summary</th></tr>")
        for name, gate in sorted(q.get("gates", {}).items()):
            body.append(f"<tr><td>{e(name)}</td><td class='{e(gate['status'])}'>{e(gate['status'])}</td>"
                        f"<td>{e(gate['summary'])}</td></tr>")
        body.append("</table>")
        for name, verdict in sorted(data.gate_verdicts.items()):
            chart = _gate_chart(name, verdict)
            if chart:
                body.append(f"<figure>{chart}<figcaption>The bar is the range the candidate's mean can take "
                            "(baseline plus the confidence interval of the difference); it passes when the bar "
                            "clears the margin line and the candidate clears the threshold.</figcaption></figure>")
        for name, cases in data.cases.items():
            if cases:
                body.append(f"<h3>{e(name)}: the {min(WORST_SHOWN, len(cases))} cases that hurt most "
                            f"(of {len(cases)} worse than the baseline; all cases in "
                            f"<a href='{e(r.release_id)}-cases.html'>{e(r.release_id)}-cases.html</a>)</h3>")
                body += _cases_table(cases[:WORST_SHOWN])
    else:
        body.append("<p>No gate verdict (the release stopped before the quality gate).</p>")
    body += html_parts(data.shadow, r.release_id)
    body.append("<h2>Canary</h2>")
    intervals = data.intervals
    if intervals:
        body.append("<p>Each metric has two charts: its value in both arms per interval, and the canary compared "
                    "with the baseline with its confidence band (valid at every look). The release rolls back when "
                    "the band's lower edge rises above the harm line, and moves on when its upper edge falls below "
                    "the safe line; the shading shows the traffic weight of each step, the black line the "
                    "decision.</p>")
        body += [f"<figure>{svg}</figure>" for svg in _canary_charts(intervals)]
        body += [f"<p>{e(line)}</p>" for line in live_traffic_lines(intervals)]
        body.append("<h3>Per interval</h3><table><tr><th>#</th><th>weight</th><th>canary requests</th>"
                    + "".join(f"<th>{e(LABELS[m])} canary / baseline</th>" for m in SERIES)
                    + "<th>quality canary / baseline</th><th>decision</th></tr>")
        for i, iv in enumerate(intervals, start=1):
            counts = iv["counts"]
            cells = interval_cells(counts, ".1%", " / ", quality=True)
            body.append(f"<tr><td>{i}</td><td>{float(iv.get('weight') or 0):g}%</td>"
                        f"<td>{(counts.get('candidate') or {}).get('requests') or 0:,.0f}</td>"
                        + "".join(f"<td>{x}</td>" for x in cells)
                        + f"<td>{e(ACTIONS.get(str(iv.get('action')), str(iv.get('action'))))}</td></tr>")
        body.append("</table>")
        last = intervals[-1]
        body.append(f"<p>Decision at interval {len(intervals)}: <b>{e(ACTIONS.get(last['action'], last['action']))}"
                    "</b></p><ul>")
        body += [f"<li>{e(x)}</li>" for x in last["decision"].get("reasons", [])]
        body.append("</ul>")
    else:
        body.append("<p>Traffic never moved to the candidate.</p>")
    body.append("<p><a href='../../reports/index.html'>all releases</a></p>")
    return _page(title, body)


def cases_page(data: ReportData) -> str:
    # It lists what the title says: the cases the candidate did worse on (prompt regression) or did not
    # resist (injection), never "every case" (a gate's own verdict counts those).
    body = [f"<h1>Release {html.escape(data.release.release_id)}: the cases the candidate did worse on, worst "
            "first</h1>", "<p><a href='../../reports/index.html'>all releases</a></p>"]
    for name, cases in data.cases.items():
        what = "attacks the candidate did not resist" if name == "injection_suite" else \
            "cases the candidate scored worse on than the baseline"
        body.append(f"<h2>{html.escape(name)}: {len(cases)} {what}</h2>")
        body += _cases_table(cases)
    return _page(f"Release {data.release.release_id}: cases", body)


def index_entry(data: ReportData) -> IndexEntry:
    return IndexEntry(release_id=data.release.release_id, app=data.release.app,
                      environment=data.release.environment, outcome=data.outcome, headline=headline(data),
                      started_at=data.started_at, finished_at=data.finished_at,
                      duration_seconds=duration_seconds(data), decided_on=decided_on(data),
                      change=", ".join(data.release.change_kinds), started_by=data.release.started_by)


def record_release(event: RecordInput, store: Artifacts, now: str | None = None) -> RecordResult:
    data = gather(event, store, finished_at=now or clock_seam.utc_now().isoformat())
    release_id = event.release.release_id
    md_uri = store.put_text(s3_keys.report(release_id, "md"), markdown(data), "text/markdown; charset=utf-8")
    html_uri = store.put_text(s3_keys.report(release_id, "html"), html_report(data), "text/html; charset=utf-8")
    cases_uri = None
    if any(data.cases.values()):
        cases_uri = store.put_text(s3_keys.report_cases(release_id), cases_page(data), "text/html; charset=utf-8")
    if data.shadow.worst and data.manifest is not None and data.manifest.canary.shadow is not None:
        # Live users' requests and answers: kept no longer than the captured pairs they come from.
        store.put_expiring_text(s3_keys.report_shadow_pairs(release_id),
                                _page(f"Release {release_id}: the shadow pairs that hurt most",
                                      shadow_pairs_page(data.shadow)),
                                "text/html; charset=utf-8", data.manifest.canary.shadow.retention_days)
    index_uri = write_index(store, index_entry(data))
    return RecordResult(report_uri=md_uri, html_uri=html_uri, cases_uri=cases_uri, index_uri=index_uri)
