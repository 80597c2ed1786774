"""SimulatedGuardrails: evaluates Bedrock guardrail policies locally.

Guardrails are defined with the real CreateGuardrail request shape
(content filters incl. PROMPT_ATTACK, denied topics, word filters, PII and
regex filters) and versioned with CreateGuardrailVersion. The matching is
deliberately simple -- keyword lexicons, regexes, example overlap -- but it
is driven entirely by the configuration and the text, so a weaker config
really blocks less.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from genai_cicd_local.embedded.text import EXTRACT, OVERRIDE, content_words, decoded_views

STRENGTH = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
# Hits needed to block at each strength: a stronger filter blocks on less evidence.
HITS_NEEDED = {1: 3, 2: 2, 3: 1}
LEXICON = {
    "HATE": {"hate", "inferior", "subhuman", "vermin"},
    "INSULTS": {"idiot", "stupid", "moron", "useless", "dumb", "pathetic", "incompetent"},
    "SEXUAL": {"explicit", "nude", "sexual", "porn"},
    "VIOLENCE": {"kill", "weapon", "bomb", "hurt", "attack", "shoot", "explosive"},
    "MISCONDUCT": {"steal", "hack", "launder", "fraud", "pirate", "counterfeit", "malware"},
}
PII = {
    "EMAIL": r"[\w.+-]+@[\w-]+\.[\w.-]+",
    "PHONE": r"\+?\d[\d\s().-]{8,}\d",
    "CREDIT_DEBIT_CARD_NUMBER": r"\b(?:\d[ -]?){13,16}\b",
    "US_SOCIAL_SECURITY_NUMBER": r"\b\d{3}-\d{2}-\d{4}\b",
}


@dataclass
class GuardrailDefinition:
    guardrail_id: str
    name: str
    config: dict[str, Any]
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def at(self, version: str) -> dict[str, Any]:
        if version == "DRAFT":
            return self.config
        if version not in self.versions:
            raise KeyError(version)
        return self.versions[version]


@dataclass
class Assessment:
    intervened: bool
    policies: list[str]
    output: str
    # The ApplyGuardrail ``assessments[0]`` structure: which policy matched what.
    detail: dict[str, Any] = field(default_factory=dict)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


@lru_cache(maxsize=1024)
def _example_words(example: str) -> frozenset[str]:
    """A denied topic's words: the configuration repeats on every call, so parse each example once."""
    return frozenset(content_words(example))


def evaluate(config: dict[str, Any], text: str, source: str) -> Assessment:
    strength_key = "inputStrength" if source == "INPUT" else "outputStrength"
    policies: list[str] = []
    detail: dict[str, Any] = {}

    def record(policy: str, section: str, key: str, item: dict[str, Any]) -> None:
        policies.append(policy)
        detail.setdefault(section, {}).setdefault(key, []).append(item)

    words = _words(text)
    for f in (config.get("contentPolicyConfig") or {}).get("filtersConfig", []):
        strength = STRENGTH.get(f.get(strength_key, "NONE"), 0)
        if strength == 0:
            continue
        if f["type"] == "PROMPT_ATTACK":
            if source != "INPUT":
                continue
            views = decoded_views(text)[: strength]  # LOW: plain; MEDIUM: + de-leeted; HIGH: + base64
            if any(OVERRIDE.search(v) or EXTRACT.search(v) for v in views):
                record("prompt_attack", "contentPolicy", "filters",
                       {"type": "PROMPT_ATTACK", "confidence": "HIGH", "action": "BLOCKED"})
            continue
        hits = len(words & LEXICON.get(f["type"], set()))
        if hits >= HITS_NEEDED[strength]:
            record("content", "contentPolicy", "filters",
                   {"type": f["type"], "confidence": "HIGH" if hits > 2 else "MEDIUM", "action": "BLOCKED"})
    question = set(content_words(text))
    for topic in (config.get("topicPolicyConfig") or {}).get("topicsConfig", []):
        for example in [topic.get("definition", ""), *topic.get("examples", [])]:
            ex = _example_words(example)
            if ex and len(question & ex) / len(ex) >= 0.5:
                record("topic", "topicPolicy", "topics", {"name": topic["name"], "type": "DENY", "action": "BLOCKED"})
                break
    word_cfg = config.get("wordPolicyConfig") or {}
    lowered = f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "
    for w in word_cfg.get("wordsConfig", []):
        phrase = " ".join(re.findall(r"[a-z0-9]+", w["text"].lower()))
        if phrase and f" {phrase} " in lowered:
            record("word", "wordPolicy", "customWords", {"match": w["text"], "action": "BLOCKED"})
            break
    output = text
    pii_cfg = config.get("sensitiveInformationPolicyConfig") or {}
    for entity in pii_cfg.get("piiEntitiesConfig", []):
        pattern = PII.get(entity["type"])
        found = re.search(pattern, text) if pattern else None
        if found and pattern:
            record("pii", "sensitiveInformationPolicy", "piiEntities",
                   {"match": found.group(0), "type": entity["type"],
                    "action": "ANONYMIZED" if entity.get("action") == "ANONYMIZE" else "BLOCKED"})
            if entity.get("action") == "ANONYMIZE":
                output = re.sub(pattern, "{" + entity["type"] + "}", output)
    for rx in pii_cfg.get("regexesConfig", []):
        found = re.search(rx["pattern"], text)
        if found:
            record("pii", "sensitiveInformationPolicy", "regexes",
                   {"name": rx.get("name", "regex"), "match": found.group(0), "regex": rx["pattern"],
                    "action": "BLOCKED"})
    intervened = bool(policies)
    if intervened and output == text:
        output = config.get("blockedInputMessaging" if source == "INPUT" else "blockedOutputsMessaging",
                            "Sorry, I can't help with that.")
    return Assessment(intervened, sorted(set(policies)), output, detail)


class GuardrailRegistry:
    """Guardrails created through the embedded CreateGuardrail."""

    def __init__(self) -> None:
        self._by_id: dict[str, GuardrailDefinition] = {}

    @staticmethod
    def id_for(name: str) -> str:
        # Real ids are 12 random lowercase characters; the embedded backend derives
        # them from the name so example manifests can refer to them.
        return (re.sub(r"[^a-z0-9]", "", name.lower()) or "guardrail")[:12]

    def create(self, request: dict[str, Any]) -> GuardrailDefinition:
        gid = self.id_for(request["name"])
        if gid in self._by_id:
            raise ValueError(f"guardrail {request['name']} already exists")
        definition = GuardrailDefinition(gid, request["name"], copy.deepcopy(request))
        self._by_id[gid] = definition
        return definition

    def get(self, identifier: str) -> GuardrailDefinition:
        gid = identifier.rsplit("/", 1)[-1]
        if gid not in self._by_id:
            raise KeyError(identifier)
        return self._by_id[gid]

    def update(self, identifier: str, request: dict[str, Any]) -> GuardrailDefinition:
        definition = self.get(identifier)
        definition.config = copy.deepcopy({**request, "name": definition.name})
        return definition

    def publish(self, identifier: str) -> str:
        definition = self.get(identifier)
        version = str(len(definition.versions) + 1)
        definition.versions[version] = copy.deepcopy(definition.config)
        return version
