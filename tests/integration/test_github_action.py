"""The GitHub Action (action.yml) and its example workflow: pinned, lint-clean, and the pull-request comment
kept to one, checked against a stand-in for the GitHub REST API (issue #31)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from genai_cicd_local.cli.github import MARKER, summary_markdown, upsert_comment
from tests.utils import ROOT

WORKFLOWS = sorted((ROOT / "examples" / "github").glob("*.yml"))


def uses(doc: Any) -> Iterator[str]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "uses" and isinstance(value, str):
                yield value
            yield from uses(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from uses(item)


def test_every_third_party_action_is_pinned_by_commit() -> None:
    found = [u for path in [ROOT / "action.yml", *WORKFLOWS] for u in uses(yaml.safe_load(path.read_text()))]
    third_party = [u for u in found if not u.startswith("OWNER/genai-cicd@")]  # the reader's own pin
    assert third_party and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in third_party), third_party


def test_the_composite_action_maps_its_inputs_through_the_environment_never_into_the_script() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], step["name"]  # script injection: inputs go through env


@pytest.mark.skipif(shutil.which("actionlint") is None and not (ROOT / ".venv/bin/actionlint").exists(),
                    reason="actionlint is installed by the dev extra")
def test_the_example_workflow_is_lint_clean() -> None:
    binary = shutil.which("actionlint") or str(ROOT / ".venv/bin/actionlint")
    done = subprocess.run([binary, *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


class FakeGitHub(BaseHTTPRequestHandler):
    """The three REST calls the comment makes, over an in-memory list of comments."""

    comments: list[dict[str, Any]] = []
    calls: list[tuple[str, str]] = []
    refuse = False

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))  # type: ignore[no-any-return]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.calls.append(("GET", self.path))
        assert self.headers["Authorization"] == "Bearer t0ken"
        if self.refuse:
            self._reply(403, {"message": "Resource not accessible by integration"})
            return
        self._reply(200, self.comments if "page=1" in self.path else [])

    def do_POST(self) -> None:  # noqa: N802
        self.calls.append(("POST", self.path))
        self.comments.append({"id": 100 + len(self.comments), "body": self._body()["body"]})
        self._reply(201, self.comments[-1])

    def do_PATCH(self) -> None:  # noqa: N802
        self.calls.append(("PATCH", self.path))
        comment_id = int(self.path.rsplit("/", 1)[-1])
        next(c for c in self.comments if c["id"] == comment_id)["body"] = self._body()["body"]
        self._reply(200, {})

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def github(tmp_path: Path) -> Iterator[dict[str, str]]:
    FakeGitHub.comments, FakeGitHub.calls, FakeGitHub.refuse = [{"id": 7, "body": "a person's comment"}], [], False
    server = HTTPServer(("127.0.0.1", 0), FakeGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}))
    yield {"GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": "t0ken", "GITHUB_REPOSITORY": "acme/app",
           "GITHUB_API_URL": f"http://127.0.0.1:{server.server_port}"}
    server.shutdown()


def test_one_comment_is_posted_then_updated_and_a_persons_comment_is_left_alone(github: dict[str, str]) -> None:
    assert upsert_comment(summary_markdown(["BLOCK: rouge_l is shown worse.", "  rouge_l: block"]), github) == \
        "created"
    assert FakeGitHub.calls[-1] == ("POST", "/repos/acme/app/issues/42/comments")
    assert upsert_comment(summary_markdown(["PASS: the candidate is shown no worse."]), github) == "updated"
    assert FakeGitHub.calls[-1] == ("PATCH", "/repos/acme/app/issues/comments/101")
    ours = [c for c in FakeGitHub.comments if MARKER in c["body"]]
    assert len(ours) == 1 and "### PASS: the candidate" in ours[0]["body"]
    assert FakeGitHub.comments[0]["body"] == "a person's comment"


def test_no_pull_request_no_token_or_a_refusal_posts_nothing_and_never_fails_the_job(github: dict[str, str],
                                                                                    tmp_path: Path) -> None:
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main"}))
    assert upsert_comment("x", {**github, "GITHUB_EVENT_PATH": str(push)}).startswith("not a pull request")
    assert upsert_comment("x", {**github, "GITHUB_TOKEN": ""}).startswith("no GITHUB_TOKEN")
    FakeGitHub.refuse = True  # a fork's pull request: a read-only token
    assert upsert_comment("x", github).startswith("not posted (403")
    assert not any(method in ("POST", "PATCH") for method, _ in FakeGitHub.calls)
