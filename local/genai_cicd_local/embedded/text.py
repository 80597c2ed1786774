"""How the simulated model and the simulated guardrails read text: content words, the shapes of
injected instructions, and the decoded views (de-leeted, base64) an attack may hide behind."""

from __future__ import annotations

import base64
import binascii
import re

_WORD = re.compile(r"[a-z0-9]+")
_STOP = {
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "to", "of", "in", "on", "for", "and",
    "or", "with", "my", "your", "our", "i", "you", "we", "it", "this", "that", "how", "what", "when",
    "where", "why", "which", "who", "can", "do", "does", "did", "will", "would", "should", "could", "me",
    "us", "please", "there", "their", "them", "have", "has", "get", "about", "if", "at", "by", "from",
    "as", "so", "not", "any",
}
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
EXTRACT = re.compile(
    r"\b(reveal|print|repeat|show|output|display|tell me|give me|what (?:is|are)|list|dump|leak|copy)\b"
    r".{0,60}\b(system prompt|instructions|initial prompt|prompt above|hidden prompt|configuration|rules you were given"
    r"|session reference|internal reference|text above)",
    re.IGNORECASE | re.DOTALL,
)
OVERRIDE = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions|rules|guidelines|prompt|directives)\b"
    r"|\byou are now\b|\bnew instructions\b|\bdeveloper mode\b|\bact as\b|\bpretend (?:to be|you are)\b"
    r"|\bsystem override\b|\bfrom now on\b",
    re.IGNORECASE | re.DOTALL,
)
_B64 = re.compile(r"\b[A-Za-z0-9+/]{16,}={0,2}")

def content_words(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text.lower()):
        if w in _STOP or len(w) < 2:
            continue
        out.append(w[:-1] if w.endswith("s") and len(w) > 3 else w)
    return out


def decoded_views(text: str) -> list[str]:
    """The text as a model might read it: plain, de-leeted, base64-decoded."""
    views = [text, text.translate(_LEET)]
    for chunk in _B64.findall(text):
        try:
            decoded = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable():
            views.append(decoded)
    return views
