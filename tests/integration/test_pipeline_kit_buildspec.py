"""The kit's buildspec, simulated locally: the same commands pass a good change and fail a broken one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.utils import ROOT, SAMPLE

BUILDSPEC = yaml.safe_load((ROOT / "examples" / "pipeline" / "buildspec.yml").read_text())
CHECK = BUILDSPEC["phases"]["build"]["commands"][0]


def run_check(repo: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **BUILDSPEC["env"]["variables"],
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", CHECK], cwd=repo, env=env, capture_output=True, text=True, check=False)


def app_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("manifests", "tools", "__pycache__"))
    return repo


def test_given_a_good_change_when_the_build_checks_run_then_they_pass_with_a_junit_report(tmp_path: Path) -> None:
    repo = app_repo(tmp_path)
    result = run_check(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    report = (repo / "reports" / "genai-cicd.xml").read_text()
    assert 'failures="0"' in report and "dataset.prompt_regression" in report


def test_given_a_broken_dataset_when_the_build_checks_run_then_the_build_fails_naming_the_line(
        tmp_path: Path) -> None:
    repo = app_repo(tmp_path)
    golden = repo / "data" / "golden.jsonl"
    lines = golden.read_text().splitlines()
    lines[6] = '{"prompt": "", "referenceResponse": 3}'
    golden.write_text("\n".join(lines) + "\n")
    result = run_check(repo)
    assert result.returncode == 2
    assert "golden.jsonl:7: prompt" in result.stdout
    report = (repo / "reports" / "genai-cicd.xml").read_text()
    assert 'failures="1"' in report and "golden.jsonl:7" in report
