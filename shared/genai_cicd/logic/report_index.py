"""The release index: one page listing releases with outcome, duration, decided_on and links.

Each release's report writes its own entry object (``reports/index/<inverted time>-<release>.json``),
so two releases finishing together never overwrite each other's entry; ``reports/index.html`` is
rebuilt from the newest entries each time. The inverted time makes the newest keys list first.
Locally, ``genai-cicd`` renders ``reports/index.html`` from the entries it copied beside the reports.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from datetime import datetime

from pydantic import BaseModel, ValidationError

from genai_cicd import s3_keys
from genai_cicd.errors import InvalidInput
from genai_cicd.ports import Artifacts

PREFIX = s3_keys.REPORT_INDEX_PREFIX
INDEX_KEY = s3_keys.REPORT_INDEX
SHOWN = 200  # newest releases on the page
NEVER = 10**11  # seconds; minus the finish time gives keys that sort newest first


class IndexEntry(BaseModel):
    release_id: str
    app: str
    environment: str
    outcome: str
    headline: str
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    decided_on: str | None = None
    change: str = ""
    started_by: str = ""


def entry_key(entry: IndexEntry) -> str:
    try:
        epoch = int(datetime.fromisoformat(entry.finished_at or "").timestamp())
    except ValueError:
        epoch = 0
    return f"{PREFIX}{NEVER - epoch:011d}-{entry.release_id}.json"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def render_index(entries: Iterable[IndexEntry], link: Callable[[IndexEntry], str]) -> str:
    e = html.escape
    rows = sorted(entries, key=lambda x: x.finished_at or "", reverse=True)
    body = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>genai-cicd releases</title>",
            "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:80em;padding:0 1em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;"
            "vertical-align:top}th{background:#f4f4f4}.promoted{color:#1e8449}.blocked,.rolled_back,.failed"
            "{color:#b03a2e}</style></head><body>",
            f"<h1>Releases ({len(rows)})</h1>",
            "<table><tr><th>release</th><th>app / environment</th><th>outcome</th><th>decided on</th>"
            "<th>duration</th><th>finished</th><th>change</th><th>why</th></tr>"]
    for x in rows:
        body.append(f"<tr><td><a href='{e(link(x))}'>{e(x.release_id)}</a></td><td>{e(x.app)} / "
                    f"{e(x.environment)}</td><td class='{e(x.outcome)}'>{e(x.outcome.replace('_', ' '))}</td>"
                    f"<td>{e(x.decided_on or '-')}</td><td>{_duration(x.duration_seconds)}</td>"
                    f"<td>{e((x.finished_at or '-')[:19].replace('T', ' '))}</td><td>{e(x.change)}</td>"
                    f"<td>{e(x.headline)}</td></tr>")
    body.append("</table></body></html>")
    return "\n".join(body) + "\n"


def read_entries(texts: Iterable[str]) -> list[IndexEntry]:
    out = []
    for text in texts:
        try:
            out.append(IndexEntry.model_validate_json(text))
        except ValidationError:
            continue  # an entry written by another version or damaged: left out, never fatal
    return out


def write_index(store: Artifacts, entry: IndexEntry) -> str:
    """Add this release's entry and rebuild the page from the newest entries."""
    store.put_text(entry_key(entry), entry.model_dump_json(), "application/json")
    texts = []
    for key in store.list_keys(PREFIX)[:SHOWN]:
        try:
            texts.append(store.read_text(key))
        except InvalidInput:
            continue
    page = render_index(read_entries(texts), lambda x: f"../releases/{x.release_id}/report.html")
    return store.put_text(INDEX_KEY, page, "text/html; charset=utf-8")


def local_index(entries_dir: str) -> str:
    """reports/index.html from the entries copied to reports/releases/*.entry.json."""
    from pathlib import Path

    texts = [p.read_text(encoding="utf-8") for p in sorted(Path(entries_dir).glob("*.entry.json"))]
    return render_index(read_entries(texts), lambda x: f"releases/{x.release_id}.html")
