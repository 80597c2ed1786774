"""User-supplied regular expressions, run in linear time (RE2).

A golden case's ``regex`` assertion runs on model output the author does not
control. Python's ``re`` backtracks, so ``(a+)+$`` on 30 characters takes
seconds and doubles with each one more; RE2 (google-re2) guarantees time
linear in the input and refuses what it cannot do that way (backreferences,
lookaround), which ``dataset validate`` and ``check`` report before any run.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2


class PatternInvalid(ValueError):
    pass


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str, case_sensitive: bool = False) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False  # the error is raised and reported with the line; no stderr noise
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternInvalid(f"not a valid RE2 regular expression ({detail}); RE2 has no backreferences "
                             "or lookaround") from None
