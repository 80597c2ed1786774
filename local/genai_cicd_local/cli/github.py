"""GitHub Actions: the job summary's Markdown, and one pull-request comment kept up to date.

The composite action (``action.yml`` at the repository root) runs `genai-cicd check`, `gate compare` or
`release` (``--wait`` on a deployed stack) with ``--summary`` and ``--junit``, then `genai-cicd github-comment`,
which posts the same Markdown on the pull request, or edits the comment it posted before (found by a
hidden marker), through the GitHub REST API with the job's ``GITHUB_TOKEN``: "Create an issue comment"
(POST /repos/{owner}/{repo}/issues/{issue_number}/comments), "List issue comments" (GET, same path) and
"Update an issue comment" (PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from genai_cicd.errors import InvalidInput
from genai_cicd.models.documents import load_json, read_text

MARKER = "<!-- genai-cicd -->"
MAX_COMMENT_CHARS = 65_000  # GitHub refuses a comment body over 65,536 characters


def summary_markdown(lines: list[str], report: str = "") -> str:
    """The verdict sentence as a heading, the evidence as a code block, then the report (if any)."""
    head, *rest = lines or ["(no verdict)"]
    body = f"### {head}\n\n" + (("```\n" + "\n".join(rest) + "\n```\n\n") if rest else "")
    return body + (report.strip() + "\n\n" if report.strip() else "")


def pull_request_number(event_path: str | None) -> int | None:
    """The pull request this job runs for (the event payload GitHub writes to GITHUB_EVENT_PATH), if any."""
    if not event_path:
        return None
    event = load_json(read_text(Path(event_path), max_bytes=25 * 1024 * 1024, what="event payload"), event_path)
    number = (event.get("pull_request") or {}).get("number") if isinstance(event, dict) else None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def _call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Accept": "application/vnd.github+json",
                                              "X-GitHub-Api-Version": "2022-11-28",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the job's GITHUB_API_URL
        return json.loads(response.read() or b"null")


def upsert_comment(body: str, env: dict[str, str] | None = None) -> str:
    """Post ``body`` on the job's pull request, or edit the comment genai-cicd posted there before.

    Returns what was done ("created", "updated", or why nothing was: not a pull request, no token).
    """
    env = dict(os.environ if env is None else env)
    try:
        return _upsert(body, env)
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        # A fork's pull request gets a read-only token: the comment is a courtesy, the verdict is the exit code.
        return f"not posted ({getattr(exc, 'code', '') or type(exc).__name__}: {getattr(exc, 'reason', exc)})"


def _upsert(body: str, env: dict[str, str]) -> str:
    number = pull_request_number(env.get("GITHUB_EVENT_PATH"))
    if number is None:
        return "not a pull request: no comment"
    token, repo = env.get("GITHUB_TOKEN"), env.get("GITHUB_REPOSITORY")
    if not token or not repo:
        return "no GITHUB_TOKEN or GITHUB_REPOSITORY: no comment"
    api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    text = f"{MARKER}\n{body}"
    if len(text) > MAX_COMMENT_CHARS:
        text = text[: MAX_COMMENT_CHARS - 60] + "\n\n… (cut: the job summary has it all)"
    page = 1
    while True:  # the first comment carrying the marker, on any page
        comments = _call("GET", f"{api}/repos/{repo}/issues/{number}/comments?per_page=100&page={page}", token)
        mine = next((c for c in comments or [] if MARKER in str(c.get("body", ""))), None)
        if mine is not None:
            _call("PATCH", f"{api}/repos/{repo}/issues/comments/{mine['id']}", token, {"body": text})
            return "updated"
        if not comments or len(comments) < 100:
            break
        page += 1
    _call("POST", f"{api}/repos/{repo}/issues/{number}/comments", token, {"body": text})
    return "created"


def cmd_github_comment(body_file: str) -> str:
    path = Path(body_file)
    if not path.is_file():
        raise InvalidInput(f"{body_file}: no such file (the Markdown to post)")
    return upsert_comment(read_text(path, max_bytes=1024 * 1024, what="comment body"))
