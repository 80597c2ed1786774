"""The kit's bundle step and the Step Functions invoke action, replayed on the embedded AWS."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import yaml

from genai_cicd_local.cli.main import main
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import ROOT, SAMPLE

BUILDSPEC = yaml.safe_load((ROOT / "examples" / "pipeline" / "buildspec.yml").read_text())


def test_given_the_bundle_step_when_the_invoke_action_starts_the_release_then_it_runs_from_the_bundle(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, monkeypatch: object) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("manifests", "tools", "__pycache__"))
    env = {**BUILDSPEC["env"]["variables"], "CONTROL_PLANE_BUCKET": aws.bucket, "PIPELINE_NAME": "kit-pipeline",
           "PIPELINE_EXECUTION_ID": "11111111-2222-3333-4444-555555555555",
           "CODEBUILD_RESOLVED_SOURCE_VERSION": "abc123"}
    command = BUILDSPEC["phases"]["build"]["commands"][1]
    for key, value in env.items():
        command = command.replace(f'"${key}"', shlex.quote(value))
    argv = shlex.split(command)
    assert argv[0] == "genai-cicd"
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        assert main(argv[1:]) == 0
    finally:
        os.chdir(cwd)
    release_input = json.loads((repo / "build" / "release-input.json").read_text())
    manifest = json.loads((repo / "build" / "manifest.json").read_text())
    assert manifest["build"]["commit"] == "abc123"
    assert len(manifest["build"]["artifacts"]) == 5  # two prompts, three gate files
    assert release_input["manifest_uri"].endswith("pipelines/kit-pipeline/11111111-2222-3333-4444-555555555555/"
                                                  "release.json")
    # What the Step Functions invoke action does: the file's content is the execution input.
    runner.seed_flag(manifest)
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name="kit-pipeline-action-1",
                              input=json.dumps(release_input))["executionArn"]
    described = aws.wait(arn, timeout=30)
    assert described["status"] in ("RUNNING", "SUCCEEDED", "FAILED")
    history = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert "Gates" in entered and "InvalidInput" not in entered
    sfn.stop_execution(executionArn=arn)
