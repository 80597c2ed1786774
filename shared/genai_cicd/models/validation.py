"""Turn pydantic errors into messages that name the file, line and field."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError, source: str, line: int | None = None) -> str:
    """One line per problem: ``source[:line]: field.path: message``."""
    where = f"{source}:{line}" if line is not None else source
    problems = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        problems.append(f"{where}: {loc}: {err['msg']}")
    return "\n".join(problems)
