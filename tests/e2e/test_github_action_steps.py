"""The composite action's own steps, run as GitHub would run them (bash, its env mapping, GITHUB_STEP_SUMMARY and
GITHUB_OUTPUT files), on the embedded AWS: the job summary opens with the verdict sentence, the JUnit report
holds a test case per metric or gate, and a block or rollback fails the job (issue #31)."""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def step(step_id_or_name: str) -> dict[str, Any]:
    return next(s for s in ACTION["runs"]["steps"] if step_id_or_name in (s.get("id"), s.get("name")))


def run_step(name: str, inputs: dict[str, str], cwd: Path, extra_env: dict[str, str] | None = None,
             outputs: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Substitute ${{ inputs.x }} and ${{ steps.run.outputs.x }} in the step's env, as the runner does."""
    given = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()} | inputs
    spec = step(name)

    def value(template: str) -> str:
        template = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: given[m.group(1)], str(template))
        return re.sub(r"\$\{\{\s*steps\.run\.outputs\.([\w-]+)\s*\}\}", lambda m: (outputs or {})[m.group(1)],
                      template)

    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(cwd / "step-summary.md"), "GITHUB_OUTPUT": str(cwd / "github-output"),
           **{k: value(v) for k, v in (spec.get("env") or {}).items()}, **(extra_env or {})}
    return subprocess.run(["bash", "-e", "-c", spec["run"]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def outputs(cwd: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (cwd / "github-output").read_text().splitlines())


CASES = {
    "compare, passes": ({"command": "compare", "baseline": "examples/scores/baseline.jsonl",
                         "candidate": "examples/scores/candidate.jsonl", "margin": "0.1"}, "0", "### PASS: "),
    "compare, blocks": ({"command": "compare", "baseline": "examples/eval_tools/deepeval-baseline.json",
                         "candidate": "examples/eval_tools/deepeval-candidate.json"}, "1", "### BLOCK: "),
    "check": ({"command": "check", "release": "examples/support_bot/release.yaml"}, "0", "### OK: all "),
    "release on the embedded AWS, rolled back": (
        {"command": "release", "release": "examples/support_bot/manifests/slow-model.yaml"}, "1", "### ROLLED BACK: "),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_action_runs_the_command_writes_the_summary_and_junit_and_fails_the_job_on_a_verdict(
        case: str, tmp_path: Path) -> None:
    inputs, code, heading = CASES[case]
    inputs = {k: str(ROOT / v) if "/" in v else v for k, v in inputs.items()}  # the job's checkout
    done = run_step("run", inputs, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # the verdict is an output; the last step fails the job
    assert outputs(tmp_path)["exit-code"] == code, done.stdout[-1000:] + done.stderr[-2000:]
    summary = (tmp_path / "step-summary.md").read_text()
    assert summary.startswith(heading), summary[:300]
    assert (tmp_path / "genai-cicd-results" / "summary.md").read_text() == summary  # what the comment posts
    if inputs["command"] == "release":
        assert "## " in summary  # the release report's Markdown follows the verdict
    if inputs["command"] != "check":
        suite = ET.parse(tmp_path / "genai-cicd-results" / "junit.xml").getroot()
        assert int(suite.get("tests", "0")) >= 1
        assert (int(suite.get("failures", "0")) > 0) == (code != "0")
    failed = run_step("Fail on a block, a rollback or bad input", inputs, tmp_path,
                      outputs=outputs(tmp_path))
    assert failed.returncode == int(code), failed.stderr


def test_a_release_on_a_deployed_stack_is_followed_to_its_end_with_its_report(
        runner: LocalReleaseRunner, aws: EmbeddedAWS, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What the action runs with state-machine-arn: `release --state-machine-arn ... --wait` against the stack's
    own APIs (here the embedded stack's), printing progress to stderr and the verdict first, then the report."""
    from genai_cicd_local.cli.main import main

    manifest = ROOT / "examples" / "support_bot" / "manifests" / "quality-regression.yaml"
    code = main(["release", "--manifest", str(manifest), "--state-machine-arn", aws.state_machine_arn,
                 "--bucket", aws.bucket, "--name", "gh-deployed-1", "--wait", "--poll-seconds", "0.05",
                 "--summary", str(tmp_path / "summary.md"), "--junit", str(tmp_path / "junit.xml")])
    out = capsys.readouterr()
    assert code == 1, out.err[-2000:]
    assert out.out.startswith("BLOCKED: release gh-deployed-1 on the deployed stack"), out.out
    assert "running the gates" in out.err  # the progress, as it happened
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("### BLOCKED: release gh-deployed-1") and "prompt_regression" in summary
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("failures") == "1"
