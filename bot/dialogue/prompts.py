"""The dialogue's words: prompts, labels and cue lists from `bot/data/dialogue.yml`, small talk
from the Rasa-style `responses:` of `bot/data/domain.yml` where it has them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.dialogue.language import Voice, detect_voice
from knowledge_base.text import to_simplified

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
_SPACE = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s。.!！?？~～,，、]+$")

# Dialogue prompt keys that domain.yml may override with its `utter_<key>` responses.
DOMAIN_RESPONSES = {"greet": "utter_greet", "thanks": "utter_thanks", "goodbye": "utter_goodbye"}


class PromptMissing(KeyError):
    """A prompt key the dialogue needs is absent from dialogue.yml."""


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Text as cue lists compare it: Simplified, lower case, single spaces, no end punctuation."""
    return _TRAILING.sub("", _SPACE.sub(" ", to_simplified(text).strip().lower()))


def _domain_responses(path: Path) -> dict[str, dict[str, list[str]]]:
    """{utter name: {lang: [texts]}} from a Rasa-style domain file; a response without a
    language tag goes under the language its text is written in."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    responses: dict[str, dict[str, list[str]]] = {}
    for name, variants in (data.get("responses") or {}).items():
        for variant in variants or []:
            if not isinstance(variant, dict) or not isinstance(variant.get("text"), str):
                continue
            text = variant["text"]
            lang = variant.get("lang") or variant.get("language") or detect_voice(text, None, None)
            lang = lang.lang if isinstance(lang, Voice) else str(lang).split("-")[0]
            responses.setdefault(name, {}).setdefault(lang, []).append(text)
    return responses


@dataclass
class DialogueTexts:
    """Everything the dialogue says or listens for, per language."""

    prompts: dict[str, dict[str, str]]
    labels: dict[str, Any]
    statuses: dict[str, dict[str, str]]
    cues: dict[str, Any]
    phrases: dict[str, dict[str, list[str]]]
    intents: dict[str, list[str]]
    visit_categories: dict[str, dict[str, list[str]]]
    ticket_id_pattern: str = r"\bT-?\d{3,12}\b"
    intent_threshold: float = 0.5
    # A complaint or status request read by the NLU alone (no words of its own) under this
    # confidence yields to a KB answer for the message: it reports a fault.
    nlu_alone_sure: float = 0.7
    inactivity_minutes: int = 120
    max_fallbacks: int = 2
    # Questions of these intents (prices, quotes, off-topic) are the sales team's or nobody's: a
    # KB item answers them only at `cautious_confidence` (knowledge_base.calibration).
    cautious_intents: tuple[str, ...] = ()
    cautious_confidence: float = 0.9
    # Messages read as these intents get no clarifying question (prices, off-topic).
    no_question_intents: tuple[str, ...] = ()
    # A best hit at this answer confidence or more (under the answer bar) is offered as "did you
    # mean …?" with the next ones.
    suggest_confidence: float = 0.4
    # NLU intent -> the kb-format category of the FAQs that answer it (`decide_by_category`),
    # at this answer confidence or more.
    intent_categories: dict[str, str] = field(default_factory=dict)
    category_confidence: float = 0.5
    # ... and at `category_sure_confidence` when the NLU reads the intent at
    # `category_sure_intent` or more.
    category_sure_intent: float = 0.7
    category_sure_confidence: float = 0.3
    # ... and at any confidence when the NLU reads it at `category_agree_intent` and the FAQ is
    # over the search's bar with a clear lead (`sure_service_lead`).
    category_agree_intent: float = 0.9
    # A service question (an `intent_categories` intent at `faq_lead_intent` or more) whose best
    # hit is an FAQ ahead of the next item by `faq_lead` of search score answers from it at
    # `faq_lead_floor` of answer confidence (`decide_by_faq_lead`).
    faq_lead: float = 0.1
    faq_lead_floor: float = 0.3
    faq_lead_intent: float = 0.3
    # A general service question the NLU is sure of (one of `sure_service_intents`, at
    # `sure_service_intent` or more) whose best hit is an FAQ ahead of the next item by
    # `sure_service_lead` is answered from it at any confidence (`decide_by_faq_lead`).
    sure_service_intents: tuple[str, ...] = ()
    sure_service_intent: float = 0.7
    sure_service_lead: float = 0.12
    # Services (knowledge_base/dialect.yml `service_words`) whose naming settles the FAQ alone:
    # the best hit, an FAQ naming one of them, answers without a lead when no other hit names it.
    unmistakable_services: tuple[str, ...] = ()
    # Intents (at `not_a_fault_confidence`) a fault item never answers: ordering a part.
    not_a_fault_intents: tuple[str, ...] = ()
    not_a_fault_confidence: float = 0.6
    # ... unless the fault is the search's sure pick: this answer confidence, this lead.
    sure_fault_confidence: float = 0.85
    sure_fault_lead: float = 0.15
    domain: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _phrase_patterns: dict[str, re.Pattern[str] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def load(cls, data_dir: Path = DATA_DIR) -> DialogueTexts:
        """Read dialogue.yml (and domain.yml responses when present) from `data_dir`."""
        data = yaml.safe_load((data_dir / "dialogue.yml").read_text(encoding="utf-8"))
        return cls(
            prompts=data["prompts"],
            labels=data["labels"],
            statuses=data["ticket_statuses"],
            cues={
                **data["cues"],
                "negation": data.get("negation") or {},
                "topic_switch": data.get("topic_switch") or {},
                "topic_switch_inside": data.get("topic_switch_inside") or {},
                "ask_openers": data.get("ask_openers") or {},
            },
            phrases=data.get("phrases") or {},
            intents={route: list(names) for route, names in data["intents"].items()},
            visit_categories=data.get("visit_categories") or {},
            ticket_id_pattern=data.get("ticket_id_pattern") or cls.ticket_id_pattern,
            intent_threshold=float(data.get("intent_threshold", 0.5)),
            nlu_alone_sure=float(data.get("nlu_alone_sure", 0.7)),
            inactivity_minutes=int(data.get("inactivity_minutes", 120)),
            max_fallbacks=int(data.get("max_fallbacks", 2)),
            cautious_intents=tuple(data.get("cautious_intents") or ()),
            cautious_confidence=float(data.get("cautious_confidence", 0.9)),
            no_question_intents=tuple(data.get("no_question_intents") or ()),
            suggest_confidence=float(data.get("suggest_confidence", 0.4)),
            category_confidence=float(data.get("category_confidence", 0.5)),
            category_sure_intent=float(data.get("category_sure_intent", 0.7)),
            category_sure_confidence=float(data.get("category_sure_confidence", 0.3)),
            category_agree_intent=float(data.get("category_agree_intent", 0.9)),
            faq_lead=float(data.get("faq_lead", 0.1)),
            faq_lead_floor=float(data.get("faq_lead_floor", 0.3)),
            faq_lead_intent=float(data.get("faq_lead_intent", 0.3)),
            sure_service_intents=tuple(data.get("sure_service_intents") or ()),
            sure_service_intent=float(data.get("sure_service_intent", 0.7)),
            sure_service_lead=float(data.get("sure_service_lead", 0.12)),
            unmistakable_services=tuple(data.get("unmistakable_services") or ()),
            not_a_fault_intents=tuple(data.get("not_a_fault_intents") or ()),
            not_a_fault_confidence=float(data.get("not_a_fault_confidence", 0.6)),
            sure_fault_confidence=float(data.get("sure_fault_confidence", 0.85)),
            sure_fault_lead=float(data.get("sure_fault_lead", 0.15)),
            intent_categories={
                str(k): str(v) for k, v in (data.get("intent_categories") or {}).items()
            },
            domain=_domain_responses(data_dir / "domain.yml"),
        )

    def say(self, key: str, voice: Voice, **values: object) -> str:
        """The prompt `key` in the customer's language and script, placeholders filled."""
        template = self._template(key, voice.lang)
        return voice.render(template.format(**values).strip())

    def _template(self, key: str, lang: str) -> str:
        domain_key = DOMAIN_RESPONSES.get(key)
        if domain_key and (variants := self.domain.get(domain_key, {}).get(lang)):
            return variants[0]
        try:
            texts = self.prompts[key]
        except KeyError as exc:
            raise PromptMissing(f"dialogue.yml has no prompt {key!r}") from exc
        return texts.get(lang) or texts["en"]

    def label(self, key: str, lang: str) -> str:
        return self.labels[key].get(lang) or self.labels[key]["en"]

    def urgency_label(self, value: str, lang: str) -> str:
        names = self.labels["urgency_values"].get(value)
        return (names.get(lang) or names["en"]) if names else value

    def status_label(self, status: str, lang: str) -> str:
        names = self.statuses.get(status)
        return (names.get(lang) or names["en"]) if names else status

    def phrase_search(self, route: str, folded: str) -> re.Match[str] | None:
        """The first of the route's phrase patterns (any language) found in the `folded`
        message. The patterns are compiled once into one alternation: a message is matched
        against several routes' lists on every turn."""
        if route not in self._phrase_patterns:
            patterns = [p for group in self.phrases.get(route, {}).values() for p in group]
            either = "|".join(f"(?:{p})" for p in patterns)
            self._phrase_patterns[route] = re.compile(either) if patterns else None
        pattern = self._phrase_patterns[route]
        return pattern.search(folded) if pattern else None

    def is_cue(self, cue: str, text: str) -> bool:
        """Whether the whole message is one of the `cue` phrases (any language)."""
        folded = fold(text)
        return any(folded == fold(phrase) for phrases in self._texts_of(cue) for phrase in phrases)

    def starts_with_cue(self, cue: str, text: str) -> bool:
        """Whether the message is, or opens with, one of the `cue` phrases ("no, still broken")."""
        folded = fold(text)
        for phrases in self._texts_of(cue):
            for phrase in phrases:
                word = fold(phrase)
                if folded == word or re.match(rf"{re.escape(word)}[\s,，.。!！;；]", folded):
                    return True
        return False

    def after_cue(self, cue: str, text: str) -> str | None:
        """What the message says after the `cue` phrase it opens with ("hi, got an issue" →
        "got an issue"); None when it opens with none."""
        folded = fold(text)
        phrases = sorted((fold(p) for group in self._texts_of(cue) for p in group), key=len)
        for word in reversed(phrases):  # the longest first: "hi there" before "hi"
            if folded == word:
                return ""
            if re.match(rf"{re.escape(word)}[\s,，.。!！;；~]", folded):
                return folded[len(word) :].strip(" ,，.。!！;；~")
        return None

    def _texts_of(self, cue: str) -> list[list[str]]:
        return [list(map(str, phrases)) for phrases in self.cues[cue].values()]

    def visit_category(self, intent_name: str, text: str) -> str:
        """The ticket category of a visit request: installation, maintenance, training or repair."""
        folded = fold(text)
        for category, rules in self.visit_categories.items():
            if intent_name in rules.get("intents", []):
                return category
        for category, rules in self.visit_categories.items():
            if any(re.search(p, folded) for p in rules.get("phrases", [])):
                return category
        return "repair"

    def ticket_id(self, text: str) -> str | None:
        """A ticket number written in the message, in the desk's form (`T-000123`)."""
        match = re.search(self.ticket_id_pattern, text)
        if not match:
            return None
        digits = re.sub(r"\D", "", match.group(0))
        return f"T-{int(digits):06d}"

    def route_of(self, intent_name: str | None) -> str | None:
        """The dialogue route (handoff, repair, status, ...) an NLU intent name stands for."""
        if not intent_name:
            return None
        for route, names in self.intents.items():
            if intent_name in names:
                return route
        return None
