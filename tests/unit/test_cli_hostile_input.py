"""Every CLI path keeps the contract with hostile input: exit 2, the file/field named, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_cicd_local.cli.main import main


def files(tmp: Path) -> dict[str, Path]:
    made = {"binary": tmp / "binary.jsonl", "nan": tmp / "nan.json", "notjson": tmp / "bad.jsonl",
            "empty": tmp / "empty.jsonl", "missing": tmp / "missing.jsonl"}
    made["binary"].write_bytes(b"\xff\xfe\x00garbage")
    made["nan"].write_text('{"canary_share": NaN, "intervals": []}')
    made["notjson"].write_text("{not json\n")
    made["empty"].write_text("\n\n")
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
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c[:3]) for c in CASES])
def test_hostile_input_exits_2_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   argv: list[str]) -> None:
    paths = files(tmp_path)
    args = [a.format(**{k: str(v) for k, v in paths.items()}) for a in argv]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    out = capsys.readouterr()
    assert code == 2, (args, out.out[-300:], out.err[-300:])
    assert "Traceback" not in out.err + out.out
