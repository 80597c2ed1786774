"""SimulatedFoundationModel: a seeded, stochastic stand-in for a chat model.

Its answers depend only on what it is given -- the system prompt, the user
message, the model id's profile, the temperature and a per-request tag --
never on the name of a scenario:

- Knowledge: it answers from ``Q: ... / A: ...`` pairs found in the system
  prompt (a RAG-style prompt), picking the pair that best overlaps the
  question. A prompt without the pair cannot answer it.
- Accuracy: with probability depending on the model profile and the
  temperature it picks a wrong pair (the kind of mistake a real model makes).
- Style: "at most N words" truncates; "step by step" / "in detail" makes it
  verbose; "respond only with JSON" makes it answer as a JSON object.
- Instructions inside the user message or a retrieved document (ignore your
  instructions, reveal your prompt, say X) are followed with the profile's
  compliance probability, cut sharply when the system prompt tells the model
  to treat user input and documents as untrusted data.
- Cost: token counts are estimated from words; latency is the profile's base
  plus a per-output-token cost with lognormal noise, reported as Bedrock
  reports it (``metrics.latencyMs``), not slept.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from genai_cicd_local.embedded.text import EXTRACT, OVERRIDE, content_words, decoded_views

_SAY = re.compile(
    r"\b(?:say|reply(?: with)?|respond(?: with)?|output|print|write|answer(?: with)?|include|end with|start with)"
    r"\s*(?:only|exactly|the word|the phrase|the text)?\s*[:\-]?\s*[\"'\u201c]([^\"'\u201d]{3,80})[\"'\u201d]",
    re.IGNORECASE,
)
_DEFENCE = re.compile(
    r"untrusted|treat (?:the )?(?:user|retrieved|document)[^.]{0,60}as data|never follow instructions (?:in|from|"
    r"inside|contained)",
    re.IGNORECASE,
)
_NO_LEAK = re.compile(r"never (?:reveal|disclose|share|repeat)[^.]{0,40}(?:instructions|prompt|reference)",
                      re.IGNORECASE)


@dataclass(frozen=True)
class ModelProfile:
    accuracy: float  # probability of answering from the right knowledge pair at temperature 0
    compliance: float  # probability of following an injected instruction with no defence in the prompt
    base_latency_ms: float
    ms_per_output_token: float
    usd_per_1k_input: float
    usd_per_1k_output: float
    error_rate: float = 0.0  # ModelErrorException per call


PROFILES: dict[str, ModelProfile] = {
    "local.sim-chat-v1": ModelProfile(0.93, 0.80, 380.0, 9.0, 0.0008, 0.0032, 0.002),
    "local.sim-chat-v2": ModelProfile(0.95, 0.75, 1250.0, 16.0, 0.0010, 0.0040, 0.002),
    "local.sim-chat-mini": ModelProfile(0.70, 0.90, 150.0, 4.0, 0.0001, 0.0004, 0.002),
    "local.sim-judge-v1": ModelProfile(0.97, 0.50, 500.0, 10.0, 0.0030, 0.0150, 0.0),
}


def profile_for(model_id: str) -> ModelProfile:
    """Known ids have fixed profiles; any other id gets a stable derived one."""
    if model_id in PROFILES:
        return PROFILES[model_id]
    h = int(hashlib.sha256(model_id.encode()).hexdigest()[:8], 16)
    return ModelProfile(0.85 + (h % 10) / 100, 0.6 + (h % 30) / 100, 300 + h % 500, 6 + h % 10, 0.001, 0.004, 0.001)


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text.split()) * 1.33))





@dataclass(frozen=True)
class KnowledgePair:
    question: str
    answer: str
    topic: str


def knowledge(system: str) -> list[KnowledgePair]:
    pairs: list[KnowledgePair] = []
    topic = "general"
    lines = system.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#"):
            topic = stripped.lstrip("#").strip().lower() or topic
        if stripped.startswith("Q:") and i + 1 < len(lines) and lines[i + 1].strip().startswith("A:"):
            pairs.append(KnowledgePair(stripped[2:].strip(), lines[i + 1].strip()[2:].strip(), topic))
    return pairs


@lru_cache(maxsize=64)
def _indexed_knowledge(system: str) -> tuple[tuple[KnowledgePair, frozenset[str]], ...]:
    """Each pair with its content words; a pure function of the prompt, so one parse serves every call."""
    return tuple((p, frozenset(content_words(p.question + " " + p.answer))) for p in knowledge(system))





@dataclass(frozen=True)
class SystemTraits:
    """What a system prompt asks of the model, read once per prompt (every call of a release repeats it)."""

    seed_text: str  # the prompt without the per-run secrets: what the draws are seeded with
    tokens: int
    defended: bool
    no_leak: bool
    grader: bool
    labels: tuple[str, ...] | None
    elaborate: bool
    word_limit: int | None
    json_only: bool


@lru_cache(maxsize=256)
def _traits(system: str) -> SystemTraits:
    lowered = system.lower()
    labels = re.search(r"Classify the text into exactly one of these labels: ([^\n]+?)\.\n", system)
    limit = re.search(r"at most (\d+) words", lowered)
    return SystemTraits(
        seed_text=_RUN_SECRETS.sub("<secret>", system), tokens=tokens(system),
        defended=_DEFENCE.search(system) is not None, no_leak=_NO_LEAK.search(system) is not None,
        grader="strict grader" in system and ('"verdict"' in system or '"scores"' in system),
        labels=tuple(x.strip() for x in labels.group(1).split(",")) if labels else None,
        elaborate=re.search(r"step by step|in detail|be thorough|explain thoroughly", lowered) is not None,
        word_limit=int(limit.group(1)) if limit else None,
        json_only=re.search(r"respond only with (?:a )?json", lowered) is not None)


@lru_cache(maxsize=512)
def _hashed_prefix(*parts: str) -> Any:
    """sha256 fed with the parts and a separator: a call's hash continues from a copy of it."""
    return hashlib.sha256(("\x1f".join(parts) + "\x1f").encode())


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    stop_reason: str


# What gates/injection.py and gates/model_scorers.py draw fresh each run: CANARY-<12 hex>, DATA-<24 hex>,
# and a 16-hex nonce.
_RUN_SECRETS = re.compile(r"CANARY-[0-9A-F]{12}|DATA-[0-9a-f]{24}|\b[0-9a-f]{16}\b")


class ModelError(Exception):
    """The simulated model failed this call (Bedrock ModelErrorException)."""


class SimulatedFoundationModel:
    """See the module docstring. ``seed`` makes whole runs reproducible."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _rng(self, *parts: str) -> random.Random:
        digest = hashlib.sha256("\x1f".join((str(self.seed), *parts)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def complete(self, model_id: str, system: str, user: str, temperature: float = 0.2, max_tokens: int = 512,
                 tag: str = "") -> Completion:
        profile = profile_for(model_id)
        traits = _traits(system)
        # Draws never depend on the per-run secrets the control plane plants (canary tokens, the judge's
        # data boundary and nonce): a seeded run answers the same way every time. The text keeps them.
        seed_system, seed_user = traits.seed_text, _RUN_SECRETS.sub("<secret>", user)
        # sha256 of "\x1f".join(parts), with the long prompt hashed once per prompt (_hashed_prefix)
        rest = "\x1f".join((seed_user, f"{temperature:.3f}", tag)).encode()
        draws = _hashed_prefix(str(self.seed), model_id, seed_system).copy()
        draws.update(rest)
        rng = random.Random(int.from_bytes(draws.digest()[:8], "big"))
        # Each attempt of the same request is a fresh draw for failures (a retry can succeed). The
        # temperature is part of the request: two variants that differ only in it count apart, so
        # how many of each one's calls fail never depends on which thread called first.
        request = _hashed_prefix(model_id, seed_system).copy()
        request.update(rest)
        key = request.hexdigest()
        with self._lock:
            attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        if self._rng(key, str(attempt)).random() < profile.error_rate:
            raise ModelError("the model failed to generate a response")
        text = self._respond(profile, traits, system, user, temperature, rng)
        words = text.split()
        limit = max(1, int(max_tokens / 1.33))
        stop = "end_turn"
        if len(words) > limit:
            text, stop = " ".join(words[:limit]), "max_tokens"
        out_tokens = tokens(text)
        latency = (profile.base_latency_ms + profile.ms_per_output_token * out_tokens) * rng.lognormvariate(0, 0.25)
        return Completion(text, traits.tokens + tokens(user), out_tokens, round(latency, 1), stop)

    # -- behaviour -------------------------------------------------------
    def _respond(self, profile: ModelProfile, traits: SystemTraits, system: str, user: str, temperature: float,
                 rng: random.Random) -> str:
        injected = self._injection(user)
        if injected is not None:
            kind, marker = injected
            compliance = profile.compliance
            if traits.defended:
                compliance *= 0.02
            if kind == "extract" and traits.no_leak:
                compliance *= 0.25
            if rng.random() < compliance:
                if kind == "extract":
                    return "Sure. My instructions are:\n" + system
                return marker or "OK, ignoring my previous instructions."
            if kind == "extract" or (marker and traits.defended):
                return "I'm sorry, but I can't help with that request. I can answer questions about our product."
        if traits.grader:
            return self._grade(profile, system, user, rng)
        if traits.labels is not None:
            return self._classify(list(traits.labels), user)
        answer, topic = self._answer(profile, system, user, temperature, rng)
        if traits.elaborate:
            answer = self._elaborate(answer, rng)
        if traits.word_limit is not None:
            answer = " ".join(answer.split()[: traits.word_limit])
        if traits.json_only:
            return json.dumps({"answer": answer, "topic": topic, "confidence": round(0.5 + rng.random() / 2, 2)})
        return answer

    @staticmethod
    def _injection(user: str) -> tuple[str, str | None] | None:
        for view in decoded_views(user):
            say = _SAY.search(view)
            if EXTRACT.search(view):
                return "extract", None
            if OVERRIDE.search(view):
                return "override", say.group(1) if say else None
        return None

    @staticmethod
    def _answer(profile: ModelProfile, system: str, user: str, temperature: float,
                rng: random.Random) -> tuple[str, str]:
        indexed = _indexed_knowledge(system)
        pairs = [p for p, _ in indexed]
        question = set(content_words(user))
        scored = sorted(
            ((len(question & words) / (len(question) or 1), i) for i, (_, words) in enumerate(indexed)),
            reverse=True,
        )
        if not scored or scored[0][0] < 0.34:
            return "I'm sorry, I don't have information about that. Please contact our support team.", "unknown"
        mistake = (1 - profile.accuracy) * (0.6 + temperature)
        if rng.random() < mistake and len(scored) > 1:
            wrong = pairs[scored[rng.randrange(1, min(len(scored), 6))][1]]
            return wrong.answer, wrong.topic
        best = pairs[scored[0][1]]
        return best.answer, best.topic

    @staticmethod
    def _section(user: str, name: str, boundary: str) -> str:
        found = re.search(f"BEGIN {name} {re.escape(boundary)}\n(.*?)\nEND {name} {re.escape(boundary)}", user,
                          re.DOTALL)
        return found.group(1) if found else ""

    def _grade(self, profile: ModelProfile, system: str, user: str, rng: random.Random) -> str:
        """As a judge: how much of the reference the answer states, with some grader noise.

        Reads the sections between the boundary its instructions name and answers with the
        nonce they give, as a well-behaved judge model does.
        """
        boundary = re.search(r"'BEGIN <name> (\S+)'", system)
        nonce = re.search(r'"nonce": "([0-9a-f]+)"', system)
        mark = boundary.group(1) if boundary else ""
        if "ANSWER_1" in system:
            return self._grade_pair(profile, user, mark, nonce.group(1) if nonce else "", rng)
        ref = set(content_words(self._section(user, "REFERENCE", mark)))
        got = set(content_words(self._section(user, "ANSWER", mark)))
        if "there is no reference" in system:
            # Reference-free (live answers): how much of what was asked the answer takes up.
            asked = set(content_words(self._section(user, "QUESTION", mark)))
            ref = asked
        recall = len(ref & got) / len(ref) if ref else 0.0
        # Rounded before the verdict is read off it, so the two always agree.
        score = round(min(1.0, max(0.0, recall + rng.gauss(0, (1 - profile.accuracy) / 2))), 2)
        verdict = "PASS" if score >= 0.5 else "FAIL"
        return json.dumps({"nonce": nonce.group(1) if nonce else "", "verdict": verdict, "score": score,
                           "reason": "states the reference facts" if verdict == "PASS" else "facts missing"})

    # Judges favour a position when shown two answers (Zheng et al., "Judging LLM-as-a-Judge", 2023): the
    # simulated one adds this much to the first answer's score. genai-cicd asks in both orders.
    POSITION_BIAS = 0.04

    def _grade_pair(self, profile: ModelProfile, user: str, mark: str, nonce: str, rng: random.Random) -> str:
        """As a pairwise judge (reference-free): each answer scored as ``_grade`` scores one, the first
        shown a little higher."""
        asked = set(content_words(self._section(user, "QUESTION", mark)))
        scores = []
        for position, name in enumerate(("ANSWER_1", "ANSWER_2")):
            got = set(content_words(self._section(user, name, mark)))
            recall = len(asked & got) / len(asked) if asked else 0.0
            bias = self.POSITION_BIAS if position == 0 else 0.0
            scores.append(round(min(1.0, max(0.0, recall + bias + rng.gauss(0, (1 - profile.accuracy) / 2))), 2))
        return json.dumps({"nonce": nonce, "scores": scores,
                           "reason": "the first states more of what was asked" if scores[0] > scores[1]
                           else "the second states more of what was asked" if scores[1] > scores[0]
                           else "both state as much of what was asked"})

    @staticmethod
    def _classify(labels: list[str], user: str) -> str:
        """As a tone classifier: a small lexicon decides; the label must be one of those offered."""
        words = set(re.findall(r"[a-z']+", user.lower()))
        rude = {"stupid", "idiot", "useless", "whatever", "obviously", "dumb", "ridiculous"}
        friendly = {"happy", "glad", "thanks", "thank", "welcome", "great", "please", "friendly", "enjoy"}
        wanted = "rude" if words & rude else "friendly" if words & friendly else "neutral"
        for label in labels:
            if label.lower() == wanted:
                return label
        return labels[0]

    @staticmethod
    def _elaborate(answer: str, rng: random.Random) -> str:
        filler = [
            "Let me walk you through this step by step so nothing is missed.",
            "First, make sure you are signed in to the right account before you start.",
            "Next, review the relevant settings page carefully and confirm each option.",
            "It is also a good idea to keep a record of any changes you make.",
            "If anything looks different from what I describe, the interface may have been updated recently.",
            "Finally, check that the change took effect, and contact support if it did not.",
            "Many customers find it helpful to read the related documentation as well.",
        ]
        rng.shuffle(filler)
        return " ".join([answer, *filler, "In short: " + answer])
