"""The CLI speaks plain words: help on every option, state names a person understands, decisions
explained, s3:// references checked when credentials allow and reported as unchecked otherwise."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto import mock_aws

from genai_cicd.canary.replay import replay_file
from genai_cicd_local.cli.main import build_parser, main, schema_models
from genai_cicd_local.cli.progress import STATE_LABELS, ProgressPrinter
from tests.utils import ROOT, manifest_file


def parsers(parser: argparse.ArgumentParser, path: str = "genai-cicd") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += parsers(sub, f"{path} {name}")
    return found


def test_every_command_and_option_has_help_text() -> None:
    missing = []
    for path, parser in parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                missing += [f"{path} {name}" for name in action.choices if not helps.get(name)]
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert not missing


def asl_states() -> set[str]:
    def walk(states: dict[str, Any]) -> set[str]:
        names = set(states)
        for state in states.values():
            for branch in state.get("Branches", []):
                names |= walk(branch["States"])
            if "ItemProcessor" in state:
                names |= walk(state["ItemProcessor"]["States"])
        return names
    return walk(json.loads((ROOT / "statemachines" / "release.asl.json").read_text())["States"])


def test_every_state_of_the_release_has_a_plain_label_or_is_deliberately_silent() -> None:
    assert set(STATE_LABELS) == asl_states()
    for name, label in STATE_LABELS.items():
        if label is not None:
            assert label != name and label[0].islower() or label.startswith(("Bedrock", "done")), (name, label)


class History:
    """GetExecutionHistory as the API Reference pages it: ids from 1, ``reverseOrder``, ``maxResults``."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def get_execution_history(self, executionArn: str, reverseOrder: bool = False, maxResults: int = 100,  # noqa: N803
                              nextToken: str | None = None) -> dict[str, Any]:
        events = [{**e, "id": i} for i, e in enumerate(self.events, 1)]
        events = events[::-1] if reverseOrder else events
        start = int(nextToken or 0)
        out: dict[str, Any] = {"events": events[start:start + maxResults]}
        if start + maxResults < len(events):
            out["nextToken"] = str(start + maxResults)
        return out


def entered(name: str) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def exited(name: str, output: dict[str, Any]) -> dict[str, Any]:
    return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": name, "output": json.dumps(output)}}


def test_progress_lines_use_labels_and_say_what_was_decided() -> None:
    lines: list[str] = []
    events = [entered("LoadManifest"), entered("KeepPointersOnly"), entered("QualityGate"),
              exited("QualityGate", {"quality": {"decision": "PASS"}}), entered("KeepVerdictOnly"),
              entered("AnalyzeCanary"), exited("AnalyzeCanary", {"canary": {
                  "weight": 5, "action": "rollback",
                  "last_reasons": ["shown harmful: slow-request rate: canary ..."]}})]
    ProgressPrinter(History(events), "arn", lines.append).poll()
    text = "\n".join(lines)
    assert "checking the manifest" in text and "quality gate passed: every requested gate ran and passed" in text
    assert "canary at 5%: roll back - shown harmful: slow-request rate" in text
    assert "KeepPointersOnly" not in text and "KeepVerdictOnly" not in text and "AnalyzeCanary" not in text


def test_each_history_event_is_printed_once_in_order_across_polls_and_pages() -> None:
    lines: list[str] = []
    history = History([entered("LoadManifest")])
    printer = ProgressPrinter(history, "arn", lines.append)
    assert printer.poll() == 1 and printer.poll() == 0
    history.events += [entered("Gates")] * 250 + [entered("QualityGate")]  # more than two pages at once
    assert printer.poll() == 251
    assert lines == ["  -> checking the manifest"] + ["  -> running the gates"] * 250 + [
        "  -> quality gate: every requested gate must have run and passed"]


def test_canary_verdicts_explain_their_figures_in_words() -> None:
    result = replay_file(ROOT / "examples/canary/bursty-3x-errors.json", ROOT / "examples/canary/plan.yaml")
    reason = result["final"]["reasons"][0]
    assert "error rate: canary 159 of 4,597 requests (3.46%) vs baseline" in reason
    assert "2.80 times the baseline's rate (between 1.25 and 5.10 times)" in reason
    assert "harm is shown when that whole range is above 1.20 times, safety when it is all below 2.00 times" in reason
    assert " x1" not in reason and "e-value" not in reason and "LB " not in reason


def test_a_stream_with_a_metric_missing_says_why_its_requests_do_not_count(tmp_path: Path) -> None:
    interval = {"baseline": {"requests": 950, "errors": 3, "slow_requests": 8}, "canary": {"requests": 50, "errors": 1}}
    stream = tmp_path / "stream.json"
    stream.write_text(json.dumps({"canary_share": 0.05, "intervals": [interval] * 5}))
    reasons = replay_file(stream, None)["final"]["reasons"]
    assert ("baking at 5%: 0 canary requests this step of at least 200 (250 arrived; an interval counts only "
            "when both arms report every judged metric)") in reasons
    assert "slow-request rate: no data yet (canary no data, baseline no data)" in " ".join(reasons)


def test_the_formats_example_stream_reaches_a_verdict(tmp_path: Path) -> None:
    # docs/FORMATS.md's example interval, repeated: both arms report every metric, so it is judged
    # (its canary fails about six times as often as the baseline: it is rolled back).
    doc = (ROOT / "docs" / "FORMATS.md").read_text()
    example = next(line for line in doc.splitlines() if line.startswith('`{"canary_share": 0.05, "intervals"'))
    interval = json.loads(example.strip("`"))["intervals"][0]
    stream = tmp_path / "stream.json"
    stream.write_text(json.dumps({"canary_share": 0.05, "intervals": [interval] * 40}))
    final = replay_file(stream, None)["final"]
    assert "0 canary requests" not in " ".join(final["reasons"])
    assert (final["action"], final["outcome"], final["decided_on"]) == ("rollback", "shown_harmful", "errors")


def test_schema_without_a_name_lists_the_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in schema_models())
    assert "score-line" in out and "gate compare" in out


def s3_manifest(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A manifest whose files are all s3:// references, and the objects they name."""
    path = manifest_file(tmp_path, "good-prompt")
    data = yaml.safe_load(path.read_text())
    objects: dict[str, str] = {}

    def to_s3(node: dict[str, Any], key: str) -> None:
        local = (path.parent / node[key]).resolve()
        node[key] = f"s3://releases-bucket/files/{local.name}"
        objects[f"files/{local.name}"] = local.read_text()

    for arm in ("baseline", "candidate"):
        to_s3(data[arm], "prompt")
    for gate in data["gates"].values():
        for key in ("dataset", "suite", "corpus"):
            if key in gate:
                to_s3(gate, key)
    path.write_text(yaml.safe_dump(data))
    return path, objects


def test_check_reports_s3_references_as_unchecked_without_credentials(tmp_path: Path, monkeypatch: Any,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = s3_manifest(tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    junit = tmp_path / "checks.xml"
    assert main(["check", "--release", str(path), "--junit", str(junit)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"skip prompt.baseline: unchecked: s3://releases-bucket/files/\S*v1.txt: no AWS credentials", out)
    assert "FAIL" not in out
    assert 'skipped="' in junit.read_text() and "<skipped" in junit.read_text()


def test_check_reads_s3_references_with_credentials_and_fails_a_missing_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, objects = s3_manifest(tmp_path)
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="releases-bucket")
        for key, body in objects.items():
            s3.put_object(Bucket="releases-bucket", Key=key, Body=body.encode())
        assert main(["check", "--release", str(path)]) == 0
        out = capsys.readouterr().out
        assert "ok   dataset.prompt_regression:" in out and "skip" not in out
        golden = next(key for key in objects if key.endswith("golden.jsonl"))
        s3.delete_object(Bucket="releases-bucket", Key=golden)
        assert main(["check", "--release", str(path)]) == 2
        assert f"FAIL dataset.prompt_regression: s3://releases-bucket/{golden}: cannot read: NoSuchKey" in (
            capsys.readouterr().out)


def test_the_install_steps_say_what_they_install_and_how_long_it_takes() -> None:
    import subprocess

    done = subprocess.run(["make", "-n", "-B", ".venv/.installed", ".venv-sec/.installed"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert "==> Installing genai-cicd into .venv (first run only, about 1 to 3 minutes on 2 cores)" in done.stdout
    assert "boto3, Powertools, pydantic, numpy" in done.stdout and "ready in" in done.stdout
    assert "==> Installing the template scanners into .venv-sec" in done.stdout
    assert "--quiet" not in done.stdout.split("security-requirements")[0]  # pip's progress is shown, filtered
