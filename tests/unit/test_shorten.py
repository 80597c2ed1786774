"""Reasons and messages that must fit a limit are cut at a word, never inside one (issue #30)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cicd.errors import domain_message
from genai_cicd.shorten import MARK, shorten

REASON = ("error rate: canary 32 of 2,078 requests (1.54%) vs baseline 507 of 39,992 requests (1.27%), 1.21 times "
          "the baseline's rate; harm is shown when that whole range is above 1.20 times")


def test_a_long_reason_keeps_whole_words_and_says_it_was_cut() -> None:
    cut = shorten(REASON, 120)
    assert len(cut) <= 120 and cut.endswith(MARK)
    assert REASON.startswith(cut[: -len(MARK)]) and REASON[len(cut) - len(MARK)] in " ,;:"
    assert shorten(REASON, len(REASON)) == REASON


def test_a_domain_message_is_cut_at_a_word() -> None:
    message = domain_message('{"errorType": "GateError", "errorMessage": "' + "word " * 200 + '"}', limit=100)
    assert message.startswith("GateError: word") and message.endswith(" word" + MARK)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet="ab ,", max_size=300), st.integers(3, 200))
def test_shortened_text_fits_and_is_a_prefix(text: str, limit: int) -> None:
    cut = shorten(text, limit)
    assert len(cut) <= limit
    assert cut == text or (cut.endswith(MARK) and text.startswith(cut[: -len(MARK)]))
