"""The input layer (models/documents.py): every JSON and YAML document is refused cleanly or read.

Hostile documents named in issues #28 and #30, then property-based fuzzing of each reader:
whatever Hypothesis generates, the reader returns a value or raises InvalidInput naming the
source; never another exception, never a hang.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genai_cicd.errors import InvalidInput
from genai_cicd.models.documents import MAX_DEPTH, load_json, load_yaml, read_text

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(7)])

HOSTILE_YAML = {
    "duplicate key": ("app: one\nenvironment: prod\napp: two\n",
                      r"m\.yaml:3: .*'app' appears twice \(first on line 1\)"),
    "duplicate key in a flow mapping": ("{a: 1, a: 2}", r"'a' appears twice"),
    "alias bomb": (BOMB, r"more than \d+ values once YAML aliases are expanded"),
    "recursive alias": ("&a [*a]", r"contains itself"),
    "10,000 deep": ("[" * 10_000, r"nested deeper than"),
    "5,000-digit integer": ("x: " + "9" * 5000, r"integer of thousands of digits"),
    "integer over 64 bits": ("x: 123456789012345678901", r"too large for 64 bits"),
    "infinity": ("x: .inf", r"not a number this format allows"),
}
HOSTILE_JSON = {
    "duplicate key": ('{"a": 1, "a": 2}', r"'a' appears twice"),
    "10,000 deep": ("[" * 10_000 + "]" * 10_000, r"nested deeper than"),
    "65 deep": ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), r"nested deeper than"),
    "5,000-digit integer": ("1" * 5000, r"integer of 5000 digits"),
    "NaN": ('{"x": NaN}', r"NaN is not a number"),
    "overflowing float": ('{"x": 1e999}', r"too large to be finite"),
    "not UTF-8": (b"\xff\xfe", r"not valid JSON"),
}


HOSTILE = [("m.yaml", load_yaml, name, *case) for name, case in HOSTILE_YAML.items()] + [
    ("f.json", load_json, name, *case) for name, case in HOSTILE_JSON.items()]


@pytest.mark.parametrize(("source", "load", "name", "text", "message"), HOSTILE,
                         ids=[f"{h[0]}: {h[2]}" for h in HOSTILE])
def test_a_hostile_document_is_refused_naming_its_source(source: str, load: Any, name: str, text: str | bytes,
                                                          message: str) -> None:
    with pytest.raises(InvalidInput, match="^" + source.replace(".", r"\.")) as caught:
        load(text, source)
    assert caught.match(message)


def test_what_is_legitimate_still_reads() -> None:
    assert load_yaml("a: &a [1, 2]\nb: *a\n<<: {c: 3}\n", "m") == {"a": [1, 2], "b": [1, 2], "c": 3}
    deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_json(deep, "f") is not None
    assert load_json('{"x": NaN}', "f", allow_nan=True)["x"] != 0  # eval tools write NaN for "no score"
    assert load_json(str(2**63 - 1), "f") == 2**63 - 1


def test_a_file_is_read_no_further_than_its_limit(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="over the 1000-byte limit"):
        read_text(Path("/dev/zero"), max_bytes=1000)  # would never end if read whole
    with pytest.raises(InvalidInput, match="cannot read"):
        read_text(Path(str(tmp_path) + "/a\x00b"), max_bytes=1000)
    with pytest.raises(InvalidInput, match="cannot read"):
        read_text(tmp_path, max_bytes=1000)  # a directory
    (tmp_path / "latin1").write_bytes("café".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_text(tmp_path / "latin1", max_bytes=1000)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_json_or_a_clean_refusal(text: str) -> None:
    try:
        load_json(text, "f.json")
    except InvalidInput as exc:
        assert str(exc).startswith("f.json")


@FUZZ
@given(st.text(alphabet="ab:-[]{}&*!|>'\"\n #,?0.9<\t", max_size=200))
def test_any_yaml_like_text_is_a_document_or_a_clean_refusal(text: str) -> None:
    try:
        load_yaml(text, "m.yaml")
    except InvalidInput as exc:
        assert str(exc).startswith("m.yaml")


# -- mutating real files: every reader, every generated variant -------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


def mutate(doc: Any, draw: Any, depth: int = 0) -> Any:
    """A copy of ``doc`` with one node, reached by drawn keys, replaced by a drawn JSON value."""
    if depth > 12 or not isinstance(doc, dict | list) or not doc or draw(st.integers(0, 4)) == 0:
        return draw(JSON_VALUES)
    if isinstance(doc, dict):
        key = draw(st.sampled_from(sorted(doc)))
        return {**doc, key: mutate(doc[key], draw, depth + 1)}
    index = draw(st.integers(0, len(doc) - 1))
    return [*doc[:index], mutate(doc[index], draw, depth + 1), *doc[index + 1:]]


EVAL_TOOLS = Path(__file__).resolve().parents[2] / "examples" / "eval_tools"
TOOL_FILES = ["promptfoo-results.json", "deepeval-baseline.json", "inspect-baseline.json"]


@pytest.mark.parametrize("name", TOOL_FILES)
@FUZZ
@given(data=st.data())
def test_every_eval_tool_reader_reads_or_refuses_a_mutated_file(name: str, data: st.DataObject) -> None:
    from genai_cicd.gates.eval_formats import rows_from

    original = json.loads((EVAL_TOOLS / name).read_text())
    doc = mutate(original, data.draw)
    try:
        rows = rows_from(name, json.dumps(doc, allow_nan=True).encode(), variant=None, role="baseline")
    except InvalidInput as exc:
        assert str(exc).startswith(name), str(exc)
    else:
        for case, repeat, scores in rows:
            assert isinstance(case, str) and isinstance(repeat, int) and repeat >= 0
            assert scores is None or all(0.0 <= v <= 1.0 for v in scores.values())


@FUZZ
@given(data=st.data())
def test_a_corrupted_inspect_eval_archive_is_refused_never_a_traceback(data: st.DataObject) -> None:
    from genai_cicd.gates.eval_formats import rows_from

    archive = bytearray((EVAL_TOOLS / "inspect-candidate.eval").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(4, len(archive) - 1))
        archive[at] = data.draw(st.integers(0, 255))
    try:
        rows_from("c.eval", bytes(archive))
    except InvalidInput as exc:
        assert str(exc).startswith("c.eval")


@FUZZ
@given(data=st.data())
def test_every_golden_dataset_line_reads_or_is_refused_with_its_line(data: st.DataObject) -> None:
    from genai_cicd.models.dataset import GoldenCase, parse_jsonl

    lines = (EVAL_TOOLS / "cases.jsonl").read_text().splitlines()[:4]
    at = data.draw(st.integers(0, len(lines) - 1))
    lines[at] = json.dumps(mutate(json.loads(lines[at]), data.draw), allow_nan=True)
    try:
        parse_jsonl("\n".join(lines), GoldenCase, "golden.jsonl")
    except InvalidInput as exc:
        assert f"golden.jsonl:{at + 1}:" in str(exc), str(exc)


@FUZZ
@given(data=st.data())
def test_every_manifest_field_reads_or_is_refused_naming_the_file(data: st.DataObject) -> None:
    import yaml

    from genai_cicd.models.manifest import load_manifest_text

    release = Path(__file__).resolve().parents[2] / "examples" / "support_bot" / "release.yaml"
    doc = mutate(yaml.safe_load(release.read_text()), data.draw)
    try:
        load_manifest_text(json.dumps(doc, allow_nan=True), "release.yaml")
    except InvalidInput as exc:
        assert str(exc).startswith("release.yaml"), str(exc)


@pytest.mark.parametrize(("edit", "expected"), [
    (("repeats: 3", "repeats: true"), r"release\.yaml:20: gates\.prompt_regression\.repeats: Input should be a valid "
                                      r"integer \(got true\)"),
    (("repeats: 3", "repeat: 3"), r"release\.yaml:20: gates\.prompt_regression\.repeat: not a field here \(did you "
                                  r"mean 'repeats'\?\)"),
    (("repeats: 3", "repeats: '3'"), r"release\.yaml:20: gates\.prompt_regression\.repeats: Input should be a valid "
                                     r"integer$"),  # text is never echoed: it may be a prompt or a secret
    (("id: supportbot", "id: Support Bot"), r"release\.yaml:\d+: baseline\.guardrail\.id: String should match"),
    (("model_id: local.sim-chat-v1", "model_id: local sim"), r"release\.yaml:\d+: baseline\.model_id: String should"),
])
def test_a_manifest_error_names_the_file_the_line_the_field_and_a_fix(edit: tuple[str, str], expected: str) -> None:
    from genai_cicd.models.manifest import load_manifest_text

    release = Path(__file__).resolve().parents[2] / "examples" / "support_bot" / "release.yaml"
    text = release.read_text()
    assert text.splitlines()[19].strip() == "repeats: 3"  # line 20, as the messages say
    with pytest.raises(InvalidInput, match=expected):
        load_manifest_text(text.replace(*edit), "release.yaml")


def test_keys_are_checked_like_values() -> None:
    """YAML keys can be numbers: an integer key beyond 64 bits, or an infinite one, is refused too."""
    with pytest.raises(InvalidInput, match="too large for 64 bits"):
        load_yaml("{123456789012345678901: a}", "m.yaml")
    with pytest.raises(InvalidInput, match="not a number this format allows"):
        load_yaml("{.inf: 1}", "m.yaml")
    assert load_yaml("{1: 2}", "m.yaml") == {1: 2}
