"""Open report pages in headless Chromium (Debian's chromium, driven by Playwright) and read what rendered.

Chromium comes from the machine (`make browser` installs Debian's package; .ci/run requires it:
GENAI_CICD_REQUIRE_BROWSER=1 turns a missing browser into a failure instead of a skip).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]

# For each chart: its title, the rendered size of its axis labels, and the tick labels on each axis.
CHARTS_JS = """() => [...document.querySelectorAll('svg[data-chart]')].map(svg => {
  const box = sel => { const el = svg.querySelector(sel); if (!el) return null;
                       const b = el.getBoundingClientRect(); return {w: b.width, h: b.height, text: el.textContent}; };
  return {kind: svg.dataset.chart, title: svg.querySelector('title')?.textContent || '',
          x: box('.x-label'), y: box('.y-label'),
          xticks: [...svg.querySelectorAll('.x-axis text')].map(t => t.textContent),
          width: svg.getBoundingClientRect().width};
})"""


# What a reader would see wrong: text outside its chart's box (clipped), two labels of one chart on top of
# each other (bounding boxes intersect), and table cells whose content is wider than the cell.
LAYOUT_JS = """() => {
  const out = {clipped: [], overlaps: [], overflow: []};
  const name = svg => svg.querySelector('title')?.textContent?.slice(0, 60) || '';
  for (const svg of document.querySelectorAll('svg')) {
    const sb = svg.getBoundingClientRect();
    const boxes = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim())
                   .map(t => [t.textContent.slice(0, 40), t.getBoundingClientRect()]);
    for (const [text, b] of boxes)
      if (b.left < sb.left - 1 || b.right > sb.right + 1 || b.top < sb.top - 1 || b.bottom > sb.bottom + 1)
        out.clipped.push([name(svg), text]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i][1], c = boxes[j][1];
      if (a.left < c.right - 0.5 && c.left < a.right - 0.5 && a.top < c.bottom - 0.5 && c.top < a.bottom - 0.5)
        out.overlaps.push([name(svg), boxes[i][0], boxes[j][0]]);
    }
  }
  for (const cell of document.querySelectorAll('td, th'))
    if (cell.scrollWidth > cell.clientWidth + 1) out.overflow.push(cell.textContent.slice(0, 60));
  return out;
}"""


def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "no Chromium on this machine (make browser installs Debian's chromium)"
        if os.environ.get("GENAI_CICD_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass
class Rendered:
    path: Path
    title: str
    errors: list[str] = field(default_factory=list)  # page errors and console errors
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    charts: list[dict[str, Any]] = field(default_factory=list)
    height: int = 0
    text: str = ""
    layout: dict[str, list[Any]] = field(default_factory=dict)  # LAYOUT_JS: clipped, overlaps, overflow


def render(paths: list[Path]) -> list[Rendered]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
        try:
            for path in paths:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                seen = Rendered(path, "")
                page.on("pageerror", lambda exc, seen=seen: seen.errors.append(str(exc)))
                page.on("console", lambda msg, seen=seen: seen.errors.append(msg.text) if msg.type == "error" else None)
                page.on("request", lambda req, seen=seen: seen.requests.append(req.url))
                page.goto(path.resolve().as_uri(), wait_until="load")
                seen.title = page.title()
                seen.charts = page.evaluate(CHARTS_JS)
                seen.height = page.evaluate("() => document.body.scrollHeight")
                seen.text = page.inner_text("body")
                seen.layout = page.evaluate(LAYOUT_JS)
                out.append(seen)
                page.close()
        finally:
            browser.close()
    return out
