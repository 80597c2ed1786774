"""Read JSON and YAML documents from users and other tools without letting them crash or hang us.

Every file and event the CLI and the handlers decode goes through here first, so the limits
hold everywhere: a size the caller names, nesting at most ``MAX_DEPTH`` deep, at most
``MAX_VALUES`` values once YAML aliases are expanded (an alias bomb is refused before anything
walks it), no object or mapping with the same key twice (the last one would silently win), no
integer longer than ``MAX_INT_DIGITS`` digits, and no NaN or infinity unless the format gives
them a meaning. Each refusal is an ``InvalidInput`` naming the source (and the line, where the
parser knows it); nothing here raises anything else.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genai_cicd.errors import InvalidInput

MAX_DEPTH = 64  # manifests nest about 6 deep, eval-tool logs about 15
MAX_VALUES = 200_000  # after YAML aliases are expanded
MAX_INT_DIGITS = 19  # what fits in 64 bits: no count, seed or size of ours needs more


class JsonSyntaxError(InvalidInput):
    """The text is not one JSON document (a reader of JSON lines may try it line by line)."""


class _Refused(ValueError):
    """Raised inside the JSON decoder's hooks; turned into InvalidInput by the caller."""


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"the number {text[:40]} is too large to be finite")
    return number


def _no_nan(text: str) -> float:
    raise _Refused(f"{text} is not a number JSON allows here")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {key[:80]!r} appears twice in one object")
        out[key] = value
    return out


def load_json(text: str | bytes, source: str, *, max_bytes: int | None = None, allow_nan: bool = False) -> Any:
    """One JSON document. ``allow_nan``: NaN and Infinity decode (formats where they mean "no score")."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if max_bytes is not None and size > max_bytes:
        raise InvalidInput(f"{source}: (root): {size} bytes, over the {max_bytes}-byte limit")
    try:
        doc = json.loads(text, parse_int=_int, parse_float=_float, object_pairs_hook=_pairs,
                         parse_constant=float if allow_nan else _no_nan)
    except _Refused as exc:
        raise InvalidInput(f"{source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise JsonSyntaxError(f"{source}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise InvalidInput(f"{source}: (root): nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError of bytes, and anything else the decoder refuses
        raise InvalidInput(f"{source}: not valid JSON: {str(exc)[:200]}") from None
    check_tree(doc, source, allow_nan)
    return doc


def check_tree(doc: Any, source: str, allow_nan: bool = False) -> None:
    """Depth, expanded size and cycles of a decoded document, walked without recursion.

    Shared containers (YAML aliases) are measured once and counted every time they are used,
    so an alias bomb is refused from its few thousand nodes, never expanded.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list | tuple):
            continue
        key = id(node)
        children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else list(node)
        if done:
            on_path.discard(key)
            inner = [c for c in children if isinstance(c, dict | list | tuple)]
            size[key] = 1 + len(children) + sum(size[id(c)] - 1 for c in inner)
            depth[key] = 1 + max((depth[id(c)] for c in inner), default=0)
            if depth[key] > MAX_DEPTH:
                raise InvalidInput(f"{source}: (root): nested deeper than {MAX_DEPTH} levels")
            if size[key] > MAX_VALUES:
                raise InvalidInput(f"{source}: (root): more than {MAX_VALUES} values once YAML aliases are expanded")
            continue
        if key in size:
            continue
        if key in on_path:
            raise InvalidInput(f"{source}: (root): a value contains itself (a recursive YAML alias)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, dict | list | tuple) and id(c) not in size)
    _check_numbers(doc, source, set(), allow_nan)


def _check_numbers(doc: Any, source: str, seen: set[int], allow_nan: bool) -> None:
    """Integers that fit in 64 bits and finite floats (YAML's .inf and .nan are refused like JSON's)."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, bool):
            continue
        if isinstance(node, int) and node.bit_length() > 63:
            raise InvalidInput(f"{source}: an integer too large for 64 bits")
        if isinstance(node, dict | list | tuple):
            if id(node) not in seen:
                seen.add(id(node))
                stack.extend([*node.keys(), *node.values()] if isinstance(node, dict) else node)
        elif isinstance(node, float) and not math.isfinite(node) and not allow_nan:
            raise InvalidInput(f"{source}: {node} is not a number this format allows")


def load_yaml(text: str, source: str, *, max_bytes: int | None = None) -> Any:
    """One YAML document (JSON is YAML) under the same limits, with the line of each refusal."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if max_bytes is not None and size > max_bytes:
        raise InvalidInput(f"{source}: (root): {size} bytes, over the {max_bytes}-byte limit")
    import yaml  # imported here: the Lambda functions that read only JSON never load it

    try:
        doc = yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"{source}{line}: not valid YAML/JSON: {exc.problem or exc.context or exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: not valid YAML/JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise InvalidInput(f"{source}: (root): nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
        reason = "an integer of thousands of digits" if "digits" in str(exc) else str(exc)[:200]
        raise InvalidInput(f"{source}: not valid YAML/JSON: {reason}") from None
    check_tree(doc, source)
    return doc


_LOADER: Any = None


def _strict_loader() -> Any:
    """SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last one)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class StrictLoader(yaml.SafeLoader):
            def construct_mapping(self, node: Any, deep: bool = False) -> Any:
                first: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=deep)
                    try:
                        seen = key in first
                    except TypeError:
                        continue  # an unhashable key: SafeLoader refuses it itself
                    if seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"the key {str(key)[:80]!r} appears twice (first on line {first[key] + 1}); "
                            "the second would silently replace the first", key_node.start_mark)
                    first[key] = key_node.start_mark.line
                return super().construct_mapping(node, deep=deep)

        _LOADER = StrictLoader
    return _LOADER


def read_bytes(path: Path, *, max_bytes: int, what: str = "file") -> bytes:
    """A file of at most ``max_bytes`` (read no further: ``/dev/zero`` is refused, not read forever)."""
    try:
        with Path(path).open("rb") as f:
            data = f.read(max_bytes + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise InvalidInput(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > max_bytes:
        raise InvalidInput(f"{path}: (root): over the {max_bytes}-byte limit of a {what}")
    return data


def read_text(path: Path, *, max_bytes: int, what: str = "file") -> str:
    """A UTF-8 file of at most ``max_bytes`` (``read_bytes``, decoded)."""
    data = read_bytes(path, max_bytes=max_bytes, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {exc.start})") from None


def yaml_lines(text: str) -> Any:
    """A function from a field path (``("gates", "prompt_regression", "repeats")``) to the 1-based line
    of that field in the YAML text, or of its nearest enclosing field that is there."""
    import yaml

    try:
        root = yaml.compose(text, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError, ValueError):
        root = None

    def line_of(path: tuple[Any, ...]) -> int | None:
        node, line = root, None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)]
                if not match:
                    break
                line, node = match[0][0].start_mark.line + 1, match[0][1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    return line_of
