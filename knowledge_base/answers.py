"""Answer assembly: walk the graph from a fault or FAQ, answer in the customer's language.

For a fault: its likely causes (likelihood first, then listed order), the solutions of each in
order of preference with numbered steps, the parts they need, safety notes and whether an engineer
is needed. Chinese text is converted with OpenCC to the asked script (`zh-Hant` from Simplified,
`zh` from Traditional) when the KB lacks it; a text missing in the asked language falls back to
the other one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from knowledge_base.errors import UnknownItemError
from knowledge_base.format import (
    Cause,
    Faq,
    Fault,
    LocalizedList,
    LocalizedText,
    Product,
    Solution,
    lists_by_lang,
    texts_by_lang,
)
from knowledge_base.graph import KnowledgeGraph
from knowledge_base.text import to_simplified, to_traditional

Lang = Literal["zh", "zh-Hant", "en"]
T = TypeVar("T")

# Which stored languages to try, in order, for each output language.
_PREFERENCE: dict[str, tuple[str, ...]] = {
    "zh": ("zh", "zh-Hant", "en"),
    "zh-Hant": ("zh-Hant", "zh", "en"),
    "en": ("en", "zh", "zh-Hant"),
}
_TRADITIONAL = {"zh-hant", "zh-tw", "zh-hk", "zh-mo"}
# How many causes the chat text spells out; the structured answer holds all of them.
TEXT_CAUSES = 2

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "cause": "Possible cause {n}: {text}",
        "solution": "{title}:",
        "alternative": "Or: {titles}",
        "parts": "Parts: {parts}",
        "sku": "{name} (SKU {sku})",
        "more_causes": "Other possible causes: {texts}",
        "direct": "What to do: {title}",
        "safety": "Safety: {text}",
        "hazard": "Safety hazard: stop using the equipment and keep clear until it is checked.",
        "engineer": "This needs a service engineer; we can arrange a visit.",
        "separator": "; ",
    },
    "zh": {
        "cause": "可能原因{n}：{text}",
        "solution": "{title}：",
        "alternative": "或：{titles}",
        "parts": "所需配件：{parts}",
        "sku": "{name}（编号 {sku}）",
        "more_causes": "其他可能原因：{texts}",
        "direct": "处理方法：{title}",
        "safety": "安全提示：{text}",
        "hazard": "存在安全隐患：请立即停用设备，远离设备，等待检查。",
        "engineer": "此问题需要专业工程师处理，我们可以为您安排上门服务。",
        "separator": "；",
    },
}


class PartInfo(BaseModel):
    """A part a solution needs."""

    id: str
    name: str
    sku: str | None = None
    stock_hint: str | None = None


class SolutionInfo(BaseModel):
    """A solution with its numbered steps (in `steps` order) and parts."""

    id: str
    title: str
    steps: list[str]
    parts: list[PartInfo] = Field(default_factory=list)
    requires_engineer: bool = False
    est_minutes: int | None = None
    safety: str | None = None


class CauseInfo(BaseModel):
    """A likely cause and its solutions in order of preference."""

    id: str
    text: str
    likelihood: float | None = None
    solutions: list[SolutionInfo] = Field(default_factory=list)


class Answer(BaseModel):
    """What the bot says about a fault or FAQ, structured and as chat-ready `text`."""

    id: str
    type: Literal["fault", "faq"]
    lang: Lang
    title: str
    text: str
    answer: str | None = None
    causes: list[CauseInfo] = Field(default_factory=list)
    solutions: list[SolutionInfo] = Field(default_factory=list)
    safety_notes: list[str] = Field(default_factory=list)
    engineer_needed: bool = False
    severity: str | None = None
    safety_hazard: bool = False
    category: str | None = None
    codes: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)


def normalize_lang(lang: str | None) -> Lang:
    """`zh-TW`, `zh_Hant`, `zh-HK` -> `zh-Hant`; other `zh*` -> `zh`; anything else -> `en`."""
    code = (lang or "").strip().lower().replace("_", "-")
    if code in _TRADITIONAL or code.startswith("zh-hant"):
        return "zh-Hant"
    if code.startswith("zh"):
        return "zh"
    return "en"


def _as_is(text: str) -> str:
    return text


# (stored script, output language) pairs that need converting, and how.
_CONVERSIONS: dict[tuple[str, str], Callable[[str], str]] = {
    ("zh", "zh-Hant"): to_traditional,
    ("zh-Hant", "zh"): to_simplified,
}


def _pick(by_lang: dict[str, T], lang: Lang) -> tuple[T, Callable[[str], str]] | None:
    """The value in the best available language, and how to convert its Chinese script."""
    if not by_lang:
        return None
    grouped: dict[str, T] = {}
    for code, value in by_lang.items():
        known = code.lower().startswith(("zh", "en"))
        grouped.setdefault(normalize_lang(code) if known else code, value)
    for choice in _PREFERENCE[lang]:
        if choice in grouped:
            return grouped[choice], _CONVERSIONS.get((choice, lang), _as_is)
    return next(iter(by_lang.values())), _as_is


def localize(value: LocalizedText | None, lang: Lang) -> str | None:
    """A localized text in `lang`, falling back to the other language."""
    picked = _pick(texts_by_lang(value), lang)
    if picked is None:
        return None
    text, convert = picked
    return convert(text)


def localize_list(value: LocalizedList | None, lang: Lang) -> list[str]:
    """A localized list of texts in `lang`, falling back to the other language."""
    picked = _pick(lists_by_lang(value), lang)
    if picked is None:
        return []
    texts, convert = picked
    return [convert(text) for text in texts]


def localize_steps(value: LocalizedList, lang: Lang) -> list[str]:
    """Steps in `lang`; a plain list is one procedure, kept whole and in order even when some
    steps read as another language (`Reset E03` among Chinese steps)."""
    if isinstance(value, list):
        return [to_traditional(step) for step in value] if lang == "zh-Hant" else list(value)
    return localize_list(value, lang)


def label(lang: Lang, key: str, **values: object) -> str:
    """A fixed phrase of the rendered answer, in the output language."""
    if lang == "en":
        return _LABELS["en"][key].format(**values)
    template = _LABELS["zh"][key]
    if lang == "zh-Hant":
        template = to_traditional(template)
    return template.format(**values)


def assemble_answer(graph: KnowledgeGraph, item_id: str, lang: str) -> Answer:
    """The answer for a fault or FAQ id, in `lang` (`zh`, `zh-Hant` or `en`)."""
    out_lang = normalize_lang(lang)
    if item_id in graph.faults:
        return _fault_answer(graph, graph.faults[item_id], out_lang)
    if item_id in graph.faqs:
        return _faq_answer(graph.faqs[item_id], out_lang)
    raise UnknownItemError(item_id)


def ordered_causes(graph: KnowledgeGraph, fault: Fault) -> list[Cause]:
    """A fault's causes, most likely first; equal or missing likelihood keeps the listed order."""
    causes = graph.causes_of(fault.id)
    return sorted(
        causes,
        key=lambda cause: (cause.likelihood is None, -(cause.likelihood or 0.0)),
    )


def _solution_info(graph: KnowledgeGraph, solution: Solution, lang: Lang) -> SolutionInfo:
    parts = [
        PartInfo(
            id=part.id,
            name=localize(part.name, lang) or part.id,
            sku=part.sku,
            stock_hint=part.stock_hint,
        )
        for part in graph.parts_of(solution.id)
    ]
    return SolutionInfo(
        id=solution.id,
        title=localize(solution.title, lang) or solution.id,
        steps=localize_steps(solution.steps, lang),
        parts=parts,
        requires_engineer=solution.requires_engineer,
        est_minutes=solution.est_minutes,
        safety=localize(solution.safety, lang),
    )


def _fault_answer(graph: KnowledgeGraph, fault: Fault, lang: Lang) -> Answer:
    causes = [
        CauseInfo(
            id=cause.id,
            text=localize(cause.text, lang) or cause.id,
            likelihood=cause.likelihood,
            solutions=[
                _solution_info(graph, s, lang) for s in graph.solutions_of("causes", cause.id)
            ],
        )
        for cause in ordered_causes(graph, fault)
    ]
    direct = [_solution_info(graph, s, lang) for s in graph.solutions_of("faults", fault.id)]
    every_solution = [*direct, *(s for cause in causes for s in cause.solutions)]
    safety_notes = list(dict.fromkeys(s.safety for s in every_solution if s.safety))
    if fault.safety_hazard:
        safety_notes.insert(0, label(lang, "hazard"))
    answer = Answer(
        id=fault.id,
        type="fault",
        lang=lang,
        title=localize(fault.title, lang) or fault.id,
        text="",
        causes=causes,
        solutions=direct,
        safety_notes=safety_notes,
        engineer_needed=(
            any(s.requires_engineer for s in every_solution)
            or fault.severity == "critical"
            or fault.safety_hazard
        ),
        severity=fault.severity,
        safety_hazard=fault.safety_hazard,
        category=fault.category,
        codes=list(fault.codes),
        products=[localize(p.name, lang) or p.id for p in _products(graph, fault.products)],
    )
    answer.text = render_fault_text(answer)
    return answer


def _products(graph: KnowledgeGraph, ids: list[str]) -> list[Product]:
    return [graph.products[i] for i in ids if i in graph.products]


def _faq_answer(faq: Faq, lang: Lang) -> Answer:
    questions = localize_list(faq.questions, lang)
    text = localize(faq.answer, lang) or ""
    return Answer(
        id=faq.id,
        type="faq",
        lang=lang,
        title=questions[0] if questions else faq.id,
        text=text,
        answer=text,
        category=faq.category,
    )


def _solution_lines(solution: SolutionInfo, lang: Lang) -> list[str]:
    lines = [label(lang, "solution", title=solution.title)]
    lines += [f"{number}. {step}" for number, step in enumerate(solution.steps, start=1)]
    if solution.parts:
        parts = [
            label(lang, "sku", name=part.name, sku=part.sku) if part.sku else part.name
            for part in solution.parts
        ]
        lines.append(label(lang, "parts", parts=label(lang, "separator").join(parts)))
    return lines


def render_fault_text(answer: Answer) -> str:
    """Chat text: title, direct solutions, top causes with their preferred solution, safety."""
    lang = answer.lang
    separator = label(lang, "separator")
    lines = [answer.title]
    if answer.safety_hazard:
        lines.append(label(lang, "hazard"))
    for solution in answer.solutions:
        lines.append(label(lang, "direct", title=solution.title))
        lines += _solution_lines(solution, lang)[1:]
    for number, cause in enumerate(answer.causes[:TEXT_CAUSES], start=1):
        lines.append(label(lang, "cause", n=number, text=cause.text))
        if cause.solutions:
            lines += _solution_lines(cause.solutions[0], lang)
        if len(cause.solutions) > 1:
            titles = separator.join(s.title for s in cause.solutions[1:])
            lines.append(label(lang, "alternative", titles=titles))
    more = answer.causes[TEXT_CAUSES:]
    if more:
        lines.append(label(lang, "more_causes", texts=separator.join(c.text for c in more)))
    hazard = label(lang, "hazard")
    lines += [label(lang, "safety", text=note) for note in answer.safety_notes if note != hazard]
    if answer.engineer_needed:
        lines.append(label(lang, "engineer"))
    return "\n".join(lines)
