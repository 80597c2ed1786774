"""Every command in the README's code blocks runs as written from the repository root: exit 0 or 1
(a verdict), never 2 (bad input) and never a traceback. A new command is run here unless it is
listed below with the reason it cannot run in a test."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.utils import ROOT

NOT_RUN_HERE = {
    "make test": "the suite this test belongs to (CI runs it through .ci/run)",
    "make demo": "installs, then runs `.venv/bin/genai-cicd demo`",
    ".venv/bin/genai-cicd demo": "its six releases run once, through the command's own function (cli/main.run_demo), "
                                 "in tests/e2e/test_demo_releases.py, which checks what it writes and exits on",
    "sam build && sam deploy --guided": "deploys to an AWS account (make sam-check runs the build offline)",
}


VERDICT = re.compile(r"^(usage: |\d+ formats |[A-Z][A-Z ]+: [A-Za-z0-9])")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = re.sub(r"\s{2,}#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_the_readme_has_the_commands_this_test_expects() -> None:
    commands = readme_commands()
    assert commands[:2] == ["make demo", "make test"]  # the two commands come first
    assert set(NOT_RUN_HERE) <= set(commands)
    assert len(commands) >= 15


@pytest.mark.parametrize("command", [c for c in readme_commands() if c not in NOT_RUN_HERE])
def test_a_readme_command_runs_as_written(command: str) -> None:
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1), f"exit {done.returncode}: {output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    # Words first: the output opens with the verdict in a sentence (progress and data go to stderr and stdout
    # around it: a release's progress to stderr, a converted dataset to stdout with its sentence on stderr).
    speaks = done.stderr if "dataset convert" in command and "--output" not in command else done.stdout
    first = speaks.strip().splitlines()[0]
    assert VERDICT.match(first), first
