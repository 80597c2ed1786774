"""Score files of other eval tools, read as those tools write them, mapped to our score lines.

Each format gives (case id, repeat, {metric: score in [0, 1]}) per arm; the gate then judges
them exactly like its own scores (``gates/compare.py``). The mapping (docs/FORMATS.md,
"Scores from your eval tool"):

- ``promptfoo``: ``promptfoo eval -o results.json``. One result per (test, provider/prompt,
  repeat). Arm = the provider's label (else its id; with several prompts, ``label:prompt``).
  Case = the test's ``description`` (else its vars). Repeat = order within (arm, case), as
  ``--repeat`` writes them. Metrics = ``namedScores`` (assertions with ``metric:``), one
  ``assert:<type>`` per unnamed assertion (mean if repeated), and ``pass`` (the test passed).
- ``deepeval``: the test-run JSON DeepEval saves (``DEEPEVAL_RESULTS_FOLDER``), one file per
  arm. Case = the test case's ``name`` (else its input). Repeat = order within the case
  (``deepeval test run --repeat``). Metrics = each ``metricsData`` entry's ``name`` -> ``score``.
- ``inspect``: an Inspect AI eval log, one per arm (``.json``, or the default ``.eval`` with
  the ``local`` extra, which reads its zstd compression). Case = sample ``id``, repeat =
  ``epoch`` - 1, metrics = each scorer's value (C=1, I=0, P=0.5, N=0, booleans, numbers;
  a dict value gives ``scorer.key``).
- ``jsonl``: our own score lines (``genai-cicd schema score-line``).

Fail closed: a result the tool marks as an error, a metric that errored, or a null or NaN score
gives no score for that case and repeat: the comparison counts it against the candidate. A score
outside [0, 1], a score written as text, or a promptfoo ``success`` that is not a boolean is
refused with the case named.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from genai_cicd.errors import InvalidInput
from genai_cicd.models.dataset import parse_jsonl
from genai_cicd.models.documents import JsonSyntaxError, load_json, read_bytes
from genai_cicd.models.validation import describe_validation_error

Format = Literal["jsonl", "promptfoo", "deepeval", "inspect"]
FORMATS: tuple[Format, ...] = ("jsonl", "promptfoo", "deepeval", "inspect")
INSPECT_VALUES = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}

# (case id, repeat, scores); scores None = the tool recorded an error for this run.
Row = tuple[str, int, dict[str, float] | None]
MAX_FILE_BYTES = 512 * 1024 * 1024  # an eval log of a few thousand samples with their transcripts fits
MAX_ERRORS = 10
MAX_EPOCHS = 1000
MAX_EXPECTED_ROWS = 10_000_000


class _ToolFile(BaseModel):
    """The part of another tool's file we read, typed: anything else in it is ignored, but a field we
    read with the wrong type is refused naming its path (``results.results.3.success``)."""

    model_config = ConfigDict(extra="ignore")


class PromptfooProvider(_ToolFile):
    id: StrictStr | None = None
    label: StrictStr | None = None


class PromptfooPrompt(_ToolFile):
    label: StrictStr | None = None


class PromptfooTestCase(_ToolFile):
    description: StrictStr | None = None
    vars: Any = None


class PromptfooAssertion(_ToolFile):
    type: StrictStr | None = None
    metric: StrictStr | None = None


class PromptfooComponent(_ToolFile):
    assertion: PromptfooAssertion | None = None
    score: Any = None


class PromptfooGrading(_ToolFile):
    componentResults: list[PromptfooComponent] | None = None  # noqa: N815 - promptfoo's name


class PromptfooResult(_ToolFile):
    testIdx: StrictInt = 0  # noqa: N815
    promptIdx: StrictInt = 0  # noqa: N815
    promptId: StrictStr | None = None  # noqa: N815
    provider: PromptfooProvider | StrictStr | None = None
    prompt: PromptfooPrompt | None = None
    testCase: PromptfooTestCase | None = None  # noqa: N815
    vars: Any = None
    failureReason: StrictInt | None = None  # noqa: N815
    error: Any = None
    gradingResult: PromptfooGrading | None = None  # noqa: N815
    namedScores: dict[str, Any] | None = None  # noqa: N815
    success: StrictBool | None = None


class PromptfooResults(_ToolFile):
    results: list[PromptfooResult]


class PromptfooFile(_ToolFile):
    results: PromptfooResults


class DeepEvalMetric(_ToolFile):
    name: StrictStr
    score: Any = None
    error: Any = None


class DeepEvalCase(_ToolFile):
    name: StrictStr | None = None
    input: Any = None
    metricsData: list[DeepEvalMetric] | None = None  # noqa: N815


class DeepEvalFile(_ToolFile):
    testCases: list[DeepEvalCase] | None = None  # noqa: N815
    conversationalTestCases: list[DeepEvalCase] | None = None  # noqa: N815


class InspectScore(_ToolFile):
    value: Any = None


class InspectSample(_ToolFile):
    id: StrictStr | StrictInt
    epoch: Annotated[StrictInt, Field(ge=1)] | None = None
    error: Any = None
    scores: dict[str, InspectScore] | None = None


class InspectDataset(_ToolFile):
    sample_ids: list[StrictStr | StrictInt] | None = None


class InspectConfig(_ToolFile):
    epochs: Annotated[StrictInt, Field(ge=1, le=MAX_EPOCHS)] | None = None


class InspectEval(_ToolFile):
    dataset: InspectDataset | None = None
    config: InspectConfig | None = None


class InspectFile(_ToolFile):
    status: StrictStr | None = None
    eval: InspectEval
    samples: list[InspectSample] | None = None


F = TypeVar("F", bound=_ToolFile)


def _typed(path: str, model: type[F], doc: Any) -> F:
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        lines = describe_validation_error(exc, path).splitlines()
        more = f"\n... and {len(lines) - MAX_ERRORS} more" if len(lines) > MAX_ERRORS else ""
        raise InvalidInput("\n".join(lines[:MAX_ERRORS]) + more) from None


class ScoreLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(min_length=1, max_length=256)
    repeat: int = Field(ge=0)
    # strict: true/false and "0.5" are not scores; NaN and infinities are refused too.
    scores: dict[str, Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)]] = Field(
        min_length=1)


def load_score_lines(path: Path, text: str) -> list[ScoreLine]:
    lines = parse_jsonl(text, ScoreLine, str(path))
    seen: set[tuple[str, int]] = set()
    for number, line in enumerate(lines, start=1):
        key = (line.case_id, line.repeat)
        if key in seen:
            raise InvalidInput(f"{path}: case {line.case_id!r} repeat {line.repeat} appears twice (line {number})")
        seen.add(key)
    return lines


def _read(path: Path) -> bytes:
    return read_bytes(path, max_bytes=MAX_FILE_BYTES, what="score file")


def _member(path: str, data: bytes, archive: zipfile.ZipFile, name: str) -> Any:
    info = archive.getinfo(name)
    if info.file_size > MAX_FILE_BYTES:
        raise InvalidInput(f"{path}: {name} unpacks to {info.file_size} bytes, over the "
                           f"{MAX_FILE_BYTES // 2**20} MiB limit")
    if info.compress_type != 93:
        with archive.open(name) as member:
            return load_json(member.read(MAX_FILE_BYTES + 1), f"{path}: {name}", max_bytes=MAX_FILE_BYTES,
                             allow_nan=True)
    # zstd (what Inspect writes): zipfile reads it only from Python 3.14, so decode the raw member.
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise InvalidInput(f"{path}: an Inspect .eval log is zstd-compressed: install the local extra "
                           "(pip install 'genai-cicd[local]'), or convert it with: inspect log convert "
                           f"{path.rsplit('/', 1)[-1]} --to json --output-dir DIR") from None
    header = info.header_offset
    name_len = int.from_bytes(data[header + 26:header + 28], "little")
    extra_len = int.from_bytes(data[header + 28:header + 30], "little")
    start = header + 30 + name_len + extra_len
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data[start:start + info.compress_size])) as reader:
            raw = reader.read(MAX_FILE_BYTES + 1)
    except zstandard.ZstdError as exc:
        raise InvalidInput(f"{path}: {name}: not readable zstd data: {exc}") from None
    return load_json(raw, f"{path}: {name}", max_bytes=MAX_FILE_BYTES, allow_nan=True)


def _zip_json(path: str, data: bytes) -> dict[str, Any]:
    """An Inspect ``.eval`` log (a zip: header.json + samples/*.json) as one JSON log."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        header = _member(path, data, archive, "header.json")
        if not isinstance(header, dict):
            raise InvalidInput(f"{path}: header.json: expected an object, got {type(header).__name__}")
        log = dict(header)
        log["samples"] = [_member(path, data, archive, n) for n in archive.namelist()
                          if n.startswith("samples/") and n.endswith(".json")]
        return log
    # A corrupted archive fails in many ways inside zipfile and zlib; each is "not a log we can read".
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, zlib.error, EOFError, OSError,
            NotImplementedError, RuntimeError, IndexError) as exc:
        raise InvalidInput(f"{path}: not an Inspect .eval log: {type(exc).__name__}: {str(exc)[:200]}") from None


def load_document(path: Path) -> tuple[Format, Any]:
    """The file's format (from its content) and its parsed document (JSON lines stay text)."""
    return parse_document(str(path), _read(path))


def parse_document(path: str, data: bytes) -> tuple[Format, Any]:
    """``path`` names the file in messages; the format is read from the content."""
    if data[:4] == b"PK\x03\x04":
        return "inspect", _zip_json(path, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    try:
        doc = load_json(text, path, allow_nan=True)
    except JsonSyntaxError:
        return "jsonl", text  # several JSON lines (or broken JSON: the JSONL parser names the line)
    if isinstance(doc, dict):
        results = doc.get("results")
        if isinstance(results, dict) and isinstance(results.get("results"), list):
            return "promptfoo", doc
        if isinstance(doc.get("testCases"), list) or isinstance(doc.get("conversationalTestCases"), list):
            return "deepeval", doc
        if isinstance(doc.get("eval"), dict) and "samples" in doc:
            return "inspect", doc
        if "case_id" in doc:
            return "jsonl", text  # a one-line score file
    raise InvalidInput(f"{path}: not a score file genai-cicd knows: expected promptfoo `eval -o` JSON, a DeepEval "
                       "test run, an Inspect AI log or score lines (use --format to say which)")


def _score(path: str, where: str, metric: str, value: Any, letters: bool = False) -> float | None:
    """A score in [0, 1]; None for a value that records no score (null, NaN). Text is refused, as in score
    lines: "0.8" or "false" read as a score would pass what the tool never scored (``letters``: Inspect's
    C/I/P/N)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return None  # NaN is never a score: the run counts as missing
        if not 0.0 <= number <= 1.0:
            raise InvalidInput(f"{path}: {where}: {metric} = {number} is outside [0, 1]; gate compare judges scores "
                               "in [0, 1] (rescale the metric in your tool)")
        return number
    if isinstance(value, str):
        if letters and value in INSPECT_VALUES:
            return INSPECT_VALUES[value]
        raise InvalidInput(f"{path}: {where}: {metric} = {value[:80]!r} is text, not a score: a number in [0, 1] or "
                           "true/false" + (" (or C, I, P, N)" if letters else ""))
    if value is None:
        return None  # the tool recorded no score: the run counts as missing
    raise InvalidInput(f"{path}: {where}: {metric} is a {type(value).__name__}, not a score: a number in [0, 1] or "
                       "true/false")


def _vars_id(variables: Any) -> str:
    return "vars-" + hashlib.sha256(json.dumps(variables, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _provider_name(r: PromptfooResult) -> str:
    p = r.provider
    if isinstance(p, PromptfooProvider):
        return p.label or p.id or "provider"
    return p or "provider"


def promptfoo_variants(path: str, doc: Any) -> dict[str, list[PromptfooResult]]:
    results = _typed(path, PromptfooFile, doc).results.results
    prompts_per_provider: dict[str, set[str]] = defaultdict(set)
    for r in results:
        prompts_per_provider[_provider_name(r)].add(r.promptId or str(r.promptIdx))
    out: dict[str, list[PromptfooResult]] = defaultdict(list)
    for r in sorted(results, key=lambda r: (r.testIdx, r.promptIdx)):
        name = _provider_name(r)
        if len(prompts_per_provider[name]) > 1:
            name = f"{name}:{(r.prompt.label if r.prompt else None) or r.promptIdx}"
        out[name].append(r)
    return dict(out)


def _promptfoo_rows(path: str, results: list[PromptfooResult]) -> Iterator[Row]:
    seen: dict[str, int] = defaultdict(int)
    for r in results:
        test = r.testCase or PromptfooTestCase()
        case = test.description or _vars_id(r.vars if r.vars is not None else test.vars)
        repeat = seen[case]
        seen[case] += 1
        # failureReason 2 (ERROR): the provider or an assertion errored; an assertion failure (1) is a score.
        if r.failureReason == 2 or (r.error and not r.gradingResult):
            yield case, repeat, None
            continue
        where = f"test {case!r} repeat {repeat}"
        scores: dict[str, float] = {}
        for metric, value in (r.namedScores or {}).items():
            s = _score(path, where, metric, value)
            if s is not None:
                scores[metric] = s
        unnamed: dict[str, list[float]] = defaultdict(list)
        for component in (r.gradingResult.componentResults if r.gradingResult else None) or []:
            assertion = component.assertion or PromptfooAssertion()
            if assertion.metric:
                continue  # counted in namedScores
            name = f"assert:{assertion.type or 'unknown'}"
            s = _score(path, where, name, component.score)
            if s is not None:
                unnamed[name].append(s)
        scores |= {name: sum(v) / len(v) for name, v in unnamed.items()}
        scores["pass"] = 1.0 if r.success is True else 0.0
        yield case, repeat, scores


def _deepeval_rows(path: str, doc: Any) -> Iterator[Row]:
    typed = _typed(path, DeepEvalFile, doc)
    seen: dict[str, int] = defaultdict(int)
    for test in [*(typed.testCases or []), *(typed.conversationalTestCases or [])]:
        case = test.name or _vars_id(test.input)
        repeat = seen[case]
        seen[case] += 1
        scores: dict[str, float] = {}
        for m in test.metricsData or []:
            if m.error:
                continue  # an errored metric has no score for this run
            s = _score(path, f"test case {case!r} repeat {repeat}", m.name, m.score)
            if s is not None:
                scores[m.name] = s
        yield case, repeat, scores or None


def _inspect_rows(path: str, doc: Any) -> Iterator[Row]:
    typed = _typed(path, InspectFile, doc)
    if typed.status != "success":
        raise InvalidInput(f"{path}: the Inspect run ended with status {typed.status!r}: an unfinished run "
                           "is not judged (re-run it, or retry it with inspect eval-retry)")
    seen: set[tuple[str, int]] = set()
    for sample in typed.samples or []:
        case, repeat = str(sample.id), (sample.epoch or 1) - 1
        seen.add((case, repeat))
        if sample.error:
            yield case, repeat, None
            continue
        scores: dict[str, float] = {}
        for scorer, score in (sample.scores or {}).items():
            value = score.value
            items = value.items() if isinstance(value, dict) else [(None, value)]
            for key, v in items:
                name = f"{scorer}.{key}" if key is not None else scorer
                s = _score(path, f"sample {case!r} epoch {repeat + 1}", name, v, letters=True)
                if s is not None:
                    scores[name] = s
        yield case, repeat, scores or None
    # Every sample of the dataset in every epoch is expected: one the log lacks is a missing score.
    dataset = typed.eval.dataset or InspectDataset()
    epochs = (typed.eval.config.epochs if typed.eval.config else None) or 1
    if len(dataset.sample_ids or []) * epochs > MAX_EXPECTED_ROWS:
        raise InvalidInput(f"{path}: eval.dataset.sample_ids: {len(dataset.sample_ids or [])} samples x {epochs} "
                           f"epochs is over {MAX_EXPECTED_ROWS} expected scores")
    for sample_id in dataset.sample_ids or []:
        for repeat in range(epochs):
            if (str(sample_id), repeat) not in seen:
                yield str(sample_id), repeat, None


def read_rows(path: Path, fmt: Format | None = None, variant: str | None = None, role: str = "") -> list[Row]:
    """Score rows of one arm. ``variant`` picks an arm in a file holding several (promptfoo)."""
    return rows_from(str(path), _read(path), fmt, variant, role)


def read_arm(path: Path, fmt: Format | None = None, variant: str | None = None,
             role: str = "") -> tuple[Format, list[Row]]:
    """The file's format and one arm's rows, reading and parsing the file once."""
    detected, doc = parse_document(str(path), _read(path))
    return detected, _rows(str(path), detected, doc, fmt, variant, role)


def rows_from(path: str, data: bytes, fmt: Format | None = None, variant: str | None = None,
              role: str = "") -> list[Row]:
    detected, doc = parse_document(path, data)
    return _rows(path, detected, doc, fmt, variant, role)


def _rows(path: str, detected: Format, doc: Any, fmt: Format | None, variant: str | None,
          role: str) -> list[Row]:
    if fmt is not None and fmt != detected:
        raise InvalidInput(f"{path}: --format {fmt}, but the file reads as {detected}")
    if detected == "jsonl":
        return [(x.case_id, x.repeat, dict(x.scores)) for x in load_score_lines(Path(path), doc)]
    if detected == "promptfoo":
        arms = promptfoo_variants(path, doc)
        if variant is None:
            if role in arms:
                variant = role
            elif len(arms) == 1:
                variant = next(iter(arms))
            else:
                raise InvalidInput(f"{path}: holds {len(arms)} variants ({', '.join(sorted(arms))}): say which is "
                                   f"the {role or 'arm'} with --{role or 'baseline'}-variant")
        if variant not in arms:
            raise InvalidInput(f"{path}: no variant {variant!r}; it holds {', '.join(sorted(arms))}")
        rows = list(_promptfoo_rows(path, arms[variant]))
    elif detected == "deepeval":
        rows = list(_deepeval_rows(path, doc))
    else:
        rows = list(_inspect_rows(path, doc))
    if variant is not None and detected != "promptfoo":
        raise InvalidInput(f"{path}: --{role}-variant applies to files with several variants (promptfoo)")
    seen: set[tuple[str, int]] = set()
    for case, repeat, _ in rows:
        if (case, repeat) in seen:
            raise InvalidInput(f"{path}: case {case!r} repeat {repeat} appears twice")
        seen.add((case, repeat))
    if not rows:
        raise InvalidInput(f"{path}: no results in the file")
    return rows
