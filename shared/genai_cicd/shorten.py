"""Text that must fit a limit (a Step Functions payload, an SNS message, a table cell) is cut at a word.

A reason cut mid-word ("harmful above 1.2") can say the opposite of the whole; cutting at the last
space before the limit and marking the cut with " …" keeps every word that is shown whole.
"""

from __future__ import annotations

MARK = " …"


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its longest prefix that ends a word, plus " …"."""
    if len(text) <= limit:
        return text
    room = max(limit - len(MARK), 1)
    cut = text.rfind(" ", 0, room + 1)
    head = text[:cut] if cut > room // 2 else text[:room]  # one huge word: cut it rather than lose most
    return head.rstrip(" ,;:") + MARK
