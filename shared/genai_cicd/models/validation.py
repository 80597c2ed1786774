"""Turn pydantic errors into messages that name the file, line and field."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError, source: str, line: int | None = None,
                              lines: Callable[[tuple[Any, ...]], int | None] | None = None,
                              fields: Iterable[str] = ()) -> str:
    """One line per problem: ``source[:line]: field.path: message``.

    ``lines`` finds each field's line in the source text (a YAML manifest); ``fields`` are the
    names the model knows, from which a misspelt one gets a suggestion.
    """
    problems = []
    known = sorted(set(fields))
    for err in exc.errors(include_url=False):
        at = lines(tuple(err["loc"])) if lines is not None else line
        where = f"{source}:{at}" if at is not None else source
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "extra_forbidden" and known and err["loc"]:
            close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            if close:
                problems.append(f"{where}: {loc}: not a field here (did you mean {close[0]!r}?)")
                continue
        value = err.get("input")
        # The value is shown only when it is a boolean, a number or null: text may be a prompt or a secret.
        got = f" (got {json.dumps(value)})" if err["type"].endswith("_type") and (
            value is None or isinstance(value, bool | int | float)) else ""
        problems.append(f"{where}: {loc}: {err['msg']}{got}")
    return "\n".join(problems)
