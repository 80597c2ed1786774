"""Every CLI path keeps the contract with hostile input: exit 2, the file/field named, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_cicd_local.cli.main import main

RELEASE = Path(__file__).resolve().parents[2] / "examples" / "support_bot" / "release.yaml"
BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(7)])


def files(tmp: Path) -> dict[str, Path]:
    made = {"binary": tmp / "binary.jsonl", "nan": tmp / "nan.json", "notjson": tmp / "bad.jsonl",
            "empty": tmp / "empty.jsonl", "missing": tmp / "missing.jsonl", "digits": tmp / "digits.yaml",
            "deep": tmp / "deep.yaml", "deepline": tmp / "deep.jsonl", "bomb": tmp / "bomb.yaml",
            "dupkey": tmp / "dup.yaml", "boolint": tmp / "boolint.yaml", "nul": Path(str(tmp) + "/a\x00b.yaml"),
            "zero": Path("/dev/zero"), "event": tmp / "event.json"}
    made["binary"].write_bytes(b"\xff\xfe\x00garbage")
    made["nan"].write_text('{"canary_share": NaN, "intervals": []}')
    made["notjson"].write_text("{not json\n")
    made["empty"].write_text("\n\n")
    release = RELEASE.read_text()
    made["digits"].write_text(release.replace("repeats: 3", "repeats: " + "9" * 5000))
    made["deep"].write_text("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    made["deepline"].write_text('{"prompt": ' + "[" * 10_000 + "]" * 10_000 + "}\n")
    # The alias bomb sits inside a field a schema is read from (online_quality.response_schema).
    live = (RELEASE.parent / "manifests" / "live-quality-regression.yaml").read_text()
    nested = "\n".join("      " + line for line in BOMB.splitlines())
    made["bomb"].write_text(live.replace("  online_quality:\n", "  online_quality:\n    response_schema:\n"
                                         + nested + "\n", 1))
    made["dupkey"].write_text(release + "\napp: someone-else\n")
    made["boolint"].write_text(release.replace("repeats: 3", "repeats: true"))
    made["event"].write_text('{"manifest": ')
    made["truecount"] = tmp / "true.json"
    made["truecount"].write_text('{"canary_share": 0.05, "intervals": [{"baseline": {"requests": true, "errors": 0}, '
                                 '"canary": {"requests": "50", "errors": 0}}]}')
    made["yes"] = tmp / "yes.jsonl"
    made["yes"].write_text('{"prompt": "q", "assertions": [{"type": "contains", "value": "x", "case_sensitive": '
                           '"yes"}]}\n')
    return made


CASES = [
    ["dataset", "validate", "{missing}"], ["dataset", "validate", "{binary}"], ["dataset", "validate", "{notjson}"],
    ["dataset", "validate", "{empty}"], ["dataset", "convert", "{binary}", "--to", "bedrock"],
    ["gate", "compare", "--baseline", "{missing}", "--candidate", "{notjson}"],
    ["gate", "compare", "--baseline", "{binary}", "--candidate", "{binary}"],
    ["gate", "compare", "--baseline", "{notjson}", "--candidate", "{notjson}", "--margin", "nan"],
    ["canary", "judge", "--input", "{nan}"], ["canary", "judge", "--input", "{missing}"],
    ["canary", "judge", "--input", "{binary}"],
    ["canary", "plan", "--rps", "inf", "--baseline-rate", "0.01"],
    ["canary", "plan", "--rps", "10", "--baseline-rate", "lots"],
    ["check", "--release", "{missing}"], ["check", "--release", "{binary}"],
    ["schema", "no-such-format"],
    ["release", "--manifest", "{missing}", "--name", "../../etc/cron.d/x"],
    ["audit", "../x", "--table", "t"], ["approve", "a/b", "--by", "me", "--table", "t"],
    # Issue #30's table.
    ["check", "--release", "{digits}"], ["check", "--release", "{deep}"], ["dataset", "validate", "{deepline}"],
    ["check", "--release", "{bomb}"], ["check", "--release", "{dupkey}"], ["check", "--release", "{boolint}"],
    ["check", "--release", "{zero}"], ["canary", "judge", "--input", "{zero}"],
    ["canary", "judge", "--input", "{truecount}"], ["dataset", "validate", "{yes}"],  # no true for a count
    ["invoke", "validate_manifest", "--event", "{missing}"], ["invoke", "validate_manifest", "--event", "{event}"],
    ["invoke", "validate_manifest", "--event", "{zero}"],
    ["bundle", "--release", "{nul}", "--bucket", "b", "--pipeline", "p", "--execution-id",
     "0c43d40f-b0d9-4962-bb4d-c8411945f6b1"],
    ["bundle", "--release", "{digits}", "--bucket", "b", "--pipeline", "p", "--execution-id", "exec-1"],
    ["release", "--manifest", "{digits}", "--state-machine-arn",
     "arn:aws:states:us-east-1:123456789012:stateMachine:r", "--bucket", "b", "--wait", "--poll-seconds", "-1"],
    ["github-comment", "--body-file", "{missing}"],
    ["bundle", "--release", "{digits}", "--bucket", "b", "--pipeline", "no spaces", "--execution-id",
     "0c43d40f-b0d9-4962-bb4d-c8411945f6b1"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c[:3]) + f" #{i}" for i, c in enumerate(CASES)])
def test_hostile_input_exits_2_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    no_embedded_aws(monkeypatch)
    paths = files(tmp_path)
    args = [a.format(**{k: str(v) for k, v in paths.items()}) for a in argv]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    out = capsys.readouterr()
    assert code == 2, (args, out.out[-300:], out.err[-300:])
    assert "Traceback" not in out.err + out.out


def no_embedded_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad input is refused before the embedded AWS starts (it takes seconds) or anything is uploaded."""
    import genai_cicd_local.embedded.aws_session as session

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("started the embedded AWS before checking the input")

    monkeypatch.setattr(session, "EmbeddedAWS", refuse)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "none")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "none")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # any upload would fail loudly, not silently


def test_invoke_with_a_misspelt_name_lists_the_functions_without_starting_anything(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    no_embedded_aws(monkeypatch)
    (tmp_path / "e.json").write_text("{}")
    assert main(["invoke", "validate_manifests", "--event", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err
    assert "unknown function 'validate_manifests'" in err
    assert "ValidateManifestFunction" in err and "SupportBotFunction" in err


def test_bundle_uploads_nothing_until_every_file_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad golden line found after some uploads would leave a half-written release behind."""
    import shutil

    import boto3
    from moto import mock_aws

    app = tmp_path / "app"
    shutil.copytree(RELEASE.parent, app, ignore=shutil.ignore_patterns("src", "tools", "__pycache__"))
    (app / ".git").mkdir()
    golden = app / "data" / "golden.jsonl"
    golden.write_text(golden.read_text() + '{"prompt": "x", "assertions": [{"type": "regex", "value": "(a"}]}\n')
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        code = main(["bundle", "--release", str(app / "release.yaml"), "--bucket", "artifacts", "--pipeline", "p",
                     "--execution-id", "0c43d40f-b0d9-4962-bb4d-c8411945f6b1", "--out", str(tmp_path / "out")])
        assert code == 2
        assert s3.list_objects_v2(Bucket="artifacts").get("KeyCount") == 0
    assert "nothing was uploaded" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
