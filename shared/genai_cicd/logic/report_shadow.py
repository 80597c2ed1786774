"""The release report's shadow phase: each look's paired bound, and the pairs that hurt most side by side.

Read from the evidence ShadowEvaluation wrote (``shadow/look-NNNN.json``, ``shadow/pairs.json``) and, for
the worst pairs, the captured records themselves (with ``store: content``; a ``hashes`` pair has no text
to show). Those are live users' requests and answers: the report itself shows their scores only, and
the text side by side goes to ``<id>-shadow-pairs.html``, tagged to expire with the captured pairs.
"""

from __future__ import annotations

import html
import json
from typing import Any

from pydantic import BaseModel

from genai_cicd.errors import ArtifactUnreadable, InvalidInput
from genai_cicd.logic import charts
from genai_cicd.logic.context import evidence_key
from genai_cicd.models.tasks import ReleaseContext
from genai_cicd.ports import Artifacts

WORST_PAIRS = 10
OUTCOMES = {"worse": "shown worse: blocked before any user was on the candidate",
            "non_inferior": "shown non-inferior: the canary started",
            "not_shown_safe": "not shown non-inferior before a cap: blocked",
            "shadowing": "undecided"}


class WorstPair(BaseModel):
    difference: float
    baseline_score: float
    candidate_score: float
    how: str
    prompt: str | None = None
    baseline_answer: str | None = None
    candidate_answer: str | None = None
    reason: str | None = None


class ShadowEvidence(BaseModel):
    looks: list[dict[str, Any]] = []
    worst: list[WorstPair] = []

    @property
    def outcome(self) -> str | None:
        return str(self.looks[-1].get("outcome")) if self.looks else None


def gather_shadow(store: Artifacts, release: ReleaseContext) -> ShadowEvidence:
    keys = store.list_keys(evidence_key(release, "shadow", "look-"))
    looks = []
    for key in keys:
        try:
            looks.append(json.loads(store.read_text(key)))
        except (InvalidInput, ValueError, ArtifactUnreadable):
            continue
    if not looks:
        return ShadowEvidence()
    try:
        rows = json.loads(store.read_text(evidence_key(release, "shadow", "pairs.json"))).get("pairs", [])
    except (InvalidInput, ValueError, ArtifactUnreadable, AttributeError):
        rows = []
    scored = sorted((r for r in rows if isinstance(r.get("difference"), int | float)), key=lambda r: r["difference"])
    worst = []
    for row in scored[:WORST_PAIRS]:
        if row["difference"] >= 0:
            break
        pair: dict[str, Any] = {}
        try:
            pair = json.loads(store.read_text(row["key"]))
        except (InvalidInput, ValueError, ArtifactUnreadable, KeyError):
            pair = {}
        worst.append(WorstPair(difference=row["difference"], baseline_score=row["baseline"],
                               candidate_score=row["candidate"], how=str(row.get("how", "")),
                               prompt=pair.get("request"), reason=row.get("reason"),
                               baseline_answer=(pair.get("baseline") or {}).get("answer"),
                               candidate_answer=(pair.get("candidate") or {}).get("answer")))
    return ShadowEvidence(looks=looks, worst=worst)


def _signed(value: Any) -> str:
    return f"{value:+.3f}" if isinstance(value, int | float) else "-"


def _clip(text: str | None, limit: int) -> str:
    if not text:
        return "-"
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def signals_sentence(look: dict[str, Any]) -> str | None:
    """Both answers' latency, tokens, cost and guardrail interventions over the pairs, side by side."""
    signals = look.get("signals") or {}
    if not signals.get("pairs"):
        return None
    parts = []
    for name, label, unit in (("latency_ms", "latency", " ms"), ("tokens", "tokens", ""), ("cost_usd", "cost", "")):
        pair = signals.get(name)
        if isinstance(pair, list) and len(pair) == 2:
            b, c = pair
            ratio = f" ({c / b:.2f}×)" if b else ""
            fmt = ".5f" if name == "cost_usd" else ".0f"
            parts.append(f"{label} {b:{fmt}}{unit} → {c:{fmt}}{unit}{ratio}")
    b_g, c_g = (signals.get("guardrail") or [0, 0])[:2]
    parts.append(f"guardrail interventions {b_g} → {c_g}")
    return (f"Per answer over {signals['pairs']:,} pairs, baseline → candidate: " + ", ".join(parts)
            + " (recorded side by side; the canary judges these on user traffic).")


def markdown_lines(shadow: ShadowEvidence, release_id: str) -> list[str]:
    if not shadow.looks:
        return []
    last = shadow.looks[-1]
    lines = ["## Shadow evaluation", "",
             f"The candidate answered {last.get('pairs', 0):,} live requests beside the baseline, off the users' "
             f"path (share {float(last.get('share') or 0):.3g}, weight 0). Outcome: "
             f"**{OUTCOMES.get(str(last.get('outcome')), last.get('outcome'))}**.", "",
             "| look | pairs | candidate − baseline | lower | upper | decision |", "|---|---|---|---|---|---|"]
    for look in shadow.looks:
        lines.append(f"| {look.get('interval')} | {look.get('pairs', 0):,} | {_signed(look.get('estimate'))} | "
                     f"{_signed(look.get('lower'))} | {_signed(look.get('upper'))} | {look.get('action')} |")
    margin = float(last.get("margin") or 0)
    lines += ["", f"Margin {margin:g}: worse when the whole range is below {-margin:+g}, non-inferior when it is "
              "all above it.", ""]
    signals = signals_sentence(last)
    if signals:
        lines += [signals, ""]
    if shadow.worst:
        text = any(w.prompt for w in shadow.worst)
        lines += [f"### The {len(shadow.worst)} pairs that hurt most", "",
                  (f"Their requests and both answers, side by side with the judge's reason: `{release_id}-shadow-"
                   "pairs.html` beside this report (deleted with the captured pairs)." if text
                   else "No text: the pairs were captured with `store: hashes`."), "",
                  "| difference | baseline → candidate | how it was scored |", "|---|---|---|"]
        for w in shadow.worst:
            lines.append(f"| {w.difference:+.2f} | {w.baseline_score:.2f} → {w.candidate_score:.2f} | {w.how} |")
        lines.append("")
    return lines


def html_parts(shadow: ShadowEvidence, release_id: str) -> list[str]:
    if not shadow.looks:
        return []
    e = html.escape
    looks = shadow.looks
    last = looks[-1]
    margin = float(last.get("margin") or 0.0)
    n = len(looks)
    chart = charts.line_chart(
        title="shadow: paired difference and its confidence band",
        x_label="shadow look", y_label="candidate − baseline", n=n,
        series=[charts.Series("estimate", [_num(x.get("estimate")) for x in looks], "#333")],
        bands=[charts.Band("confidence band", [_num(x.get("lower")) for x in looks],
                           [_num(x.get("upper")) for x in looks], charts.PALETTE["canary"])],
        lines=[charts.RefLine("margin", -margin, charts.PALETTE["harm"])],
        markers=[charts.Marker(n, str(last.get("action")))], y_floor=-1.0, y_ceiling=1.0)
    out = ["<h2>Shadow evaluation</h2>",
           f"<p>The candidate answered {int(last.get('pairs') or 0):,} live requests beside the baseline, off the "
           f"users' path (share {float(last.get('share') or 0):.3g}; no user was served by it). Outcome: "
           f"<b>{e(OUTCOMES.get(str(last.get('outcome')), str(last.get('outcome'))))}</b>.</p>",
           f"<figure>{chart}<figcaption>Each pair's difference cancels the prompt's own difficulty. The band is "
           "valid at every look; the release is blocked when its upper edge falls below the line and the canary "
           "starts when its lower edge rises above it.</figcaption></figure>"]
    signals = signals_sentence(last)
    if signals:
        out.append(f"<p>{e(signals)}</p>")
    if shadow.worst:
        out.append(f"<h3>The {len(shadow.worst)} pairs that hurt most</h3>")
        if any(w.prompt for w in shadow.worst):
            out.append(f"<p>Their requests and both answers, side by side with the judge's reason: "
                       f"<a href='{e(release_id)}-shadow-pairs.html'>the shadow pairs page</a> (live users' text: "
                       "deleted with the captured pairs).</p>")
        out.append("<table><tr><th>difference</th><th>baseline → candidate</th><th>how it was scored</th></tr>")
        out += [f"<tr><td>{w.difference:+.2f}</td><td>{w.baseline_score:.2f} → {w.candidate_score:.2f}</td>"
                f"<td>{e(w.how)}</td></tr>" for w in shadow.worst]
        out.append("</table>")
    return out


def shadow_pairs_page(shadow: ShadowEvidence) -> list[str]:
    """The body of ``<id>-shadow-pairs.html``: the worst pairs' request, both answers and the judge's reason."""
    e = html.escape
    out = ["<h1>The shadow pairs that hurt most, worst first</h1>",
           "<p>Live requests answered by both variants (the candidate's answer never reached the user). This page "
           "is deleted with the captured pairs it quotes.</p>",
           "<table><tr><th>difference</th><th>request</th><th>baseline answer</th><th>candidate answer</th>"
           "<th>judge's reason</th></tr>"]
    for w in shadow.worst:
        out.append(f"<tr><td>{w.difference:+.2f} ({w.baseline_score:.2f} → {w.candidate_score:.2f})</td>"
                   f"<td>{e(_clip(w.prompt, 1000))}</td><td>{e(_clip(w.baseline_answer, 2000))}</td>"
                   f"<td>{e(_clip(w.candidate_answer, 2000))}</td><td>{e(_clip(w.reason or w.how, 500))}</td></tr>")
    out.append("</table>")
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
