"""The repair-request form: which details a ticket needs, how each is read from free text and
checked, and in which order the bot asks for the missing ones."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import phonenumbers

from bot.dialogue.prompts import DialogueTexts, fold
from knowledge_base.text import to_simplified

# A repair request's form asks for these, in this order, and the ticket is made as soon as they
# are known. The urgency and the serial number go on the ticket when the customer gives them but
# are not asked for: triage reads the priority from the fault's severity and the customer's
# words, and the engineer who calls to arrange the visit reads the nameplate. Customers expect
# the ticket once they have said where and how to reach them, not three more questions.
SLOT_ORDER = ("product", "symptom", "address", "phone")
DETAILS = (*SLOT_ORDER, "urgency", "serial")  # what a ticket's summary lists

# Where a number written without a country code may be from, the first tried first: mainland
# China, then the other places the customers write from in Chinese or English. "1381234" is a
# number in none of them. Not the US and Canada: there "12345678901", a mistyped mainland
# mobile, is a valid number (their customers write +1).
PHONE_REGIONS = ("CN", "HK", "MO", "TW", "SG", "MY", "AU", "NZ", "GB")
_PHONE = re.compile(r"(?<![A-Za-z0-9])(\+?\d[\d\s\-()]{5,20}\d)(?![A-Za-z0-9])")
# Words that introduce a number as the customer's contact ("电话", "call me on", "WhatsApp").
_CONTACT_LABEL = re.compile(
    r"电话|手机|联系|联络|号码|微信|致电|\b(?:tel|phone|mobile|cell|call|contact|number|whatsapp|wechat)\b",
    re.IGNORECASE,
)
# A mainland mobile, or any number written with its country code: a contact however written.
_MOBILE = re.compile(r"^(?:\+|(?:86)?1[3-9]\d{9}$)")
_SERIAL_LABELLED = re.compile(
    r"(?:\bS/?N\b|serial(?:\s*(?:no\.?|number|#))?|序列号|序号|机身号|编号)\s*(?:is|是|为|[:：#])?\s*"
    r"([A-Za-z0-9][A-Za-z0-9\-/]{3,29})",
    re.IGNORECASE,
)
_ZH_ADDRESS = re.compile(
    r"(?:地址|位于|地点)?[是为:：]?\s*"
    r"([\u4e00-\u9fff]{0,12}?(?:省|市|区|县|镇|路|街|道|巷|村|园|城|广场|大厦|中心)"
    r"[\u4e00-\u9fffA-Za-z0-9\-#]*?(?:\d+|[一二三四五六七八九十百]+)\s*(?:号|号楼|栋|幢|室|层|楼|铺)"
    r"(?:[\u4e00-\u9fffA-Za-z0-9\-#]*?(?:\d+)\s*(?:号|室|层|楼|铺))*)"
)
# A site with no street number (construction sites, docks, industrial parks): a district or
# town and the site's kind ("惠州大亚湾石化区西区工地", "宁波北仑区大榭码头").
_ZH_SITE = re.compile(
    r"((?:(?!在)[\u4e00-\u9fff]){0,16}?(?:省|市|区|县|镇|乡|村|湾)[\u4e00-\u9fff]{0,12}?"
    r"(?:工地|工业园|产业园|园区|厂区|码头|项目部|基地|矿区|物流园|开发区|工业区))"
)
_ZH_ADDRESS_LEAD = re.compile(r"^(?:我们?的?|店|门店|公司|工厂|厂|店铺|地址)*(?:在|位于)?")
_EN_ADDRESS = re.compile(
    r"(?:address(?:\s+is)?\s*[:：]?|(?:we(?:'re| are)|i(?:'m| am)|located|site is|shop is)\s+at)"
    r"\s+(\d[^.;\n]*?)(?=,\s*(?:ask|call|phone|tel|contact|please)\b|[.;\n]|$)",
    re.IGNORECASE,
)
_EN_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){0,4}"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|drive|dr|way|place|pl|square|sq)\b"
    r"[^.;\n]*?(?=,\s*(?:ask|call|phone|tel|contact|please)\b|[.;\n]|$)",
    re.IGNORECASE,
)
_ADDRESS_SIGNAL = re.compile(
    r"\d|省|市|区|县|镇|路|街|道|巷|村|号|楼|室|工地|园|码头|基地|street|st\b|road|rd\b|avenue|ave\b|lane|way|"
    r"drive|square|place|floor|unit",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SlotValue:
    """A value read for a slot, or the prompt key saying why the text does not fit."""

    value: str | None = None
    error: str | None = None


def is_phone_number(digits: str) -> bool:
    """Whether `digits` is a number that can be dialled: international (`+…`, `00…`) valid for
    its country, or a domestic number valid in one of `PHONE_REGIONS` (the customers' regions),
    by Google's numbering plan data (`phonenumbers`)."""
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    regions = (None,) if digits.startswith("+") else PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def read_phone(text: str) -> str | None:
    """The first valid phone number in `text`, as written (spaces, dashes and brackets removed);
    "1381234" (too short for a mobile, not a landline) is none."""
    for match in _PHONE.finditer(text):
        digits = re.sub(r"[^\d+]", "", match.group(1))
        if 7 <= len(digits.lstrip("+")) <= 15 and is_phone_number(digits):
            return digits
    return None


def read_contact_phone(text: str) -> str | None:
    """A phone number the customer leaves to be reached on: a mobile or international number,
    or any valid number the message introduces as a contact. Not a bare run of digits, which
    may be a serial number or a date that happens to be dialable."""
    phone = read_phone(text)
    if phone and (_MOBILE.match(phone) or _CONTACT_LABEL.search(fold(text))):
        return phone
    return None


def read_serial_labelled(text: str) -> str | None:
    """A serial number the customer introduced as one ("SN: ...", "序列号 ...")."""
    match = _SERIAL_LABELLED.search(text)
    return match.group(1) if match else None


def read_address(text: str) -> str | None:
    """A street address written inside a longer message (zh or en), or None."""
    simplified = to_simplified(text)  # "開源道55號": the patterns are Simplified
    zh = _ZH_ADDRESS.search(simplified) or _ZH_SITE.search(simplified)
    if zh:
        return _ZH_ADDRESS_LEAD.sub("", zh.group(1)).strip() or None
    for pattern in (_EN_ADDRESS, _EN_STREET):
        match = pattern.search(text)
        if match:
            value = (match.group(1) if match.groups() else match.group(0)).strip(" ,")
            return value or None
    return None


def gives_site_address(text: str) -> bool:
    """The message gives where to come: a Chinese street address (street and number), or one
    it introduces as the address ("address: …", "we're at …"). A number before "drive" or
    "way" in English ("5 and won't drive") is no address by itself."""
    return bool(_ZH_ADDRESS.search(to_simplified(text)) or _EN_ADDRESS.search(text))


class SlotReader:
    """Reads and validates slot values; products are checked against the knowledge base's."""

    def __init__(
        self,
        texts: DialogueTexts,
        find_products: Callable[[str], Iterable[str]],
        product_names: dict[str, str],
    ) -> None:
        self._texts = texts
        self._find_products = find_products
        self._product_names = product_names

    def from_message(self, text: str, entities: dict[str, str]) -> dict[str, str]:
        """Slots a free message fills by itself (entities from the NLU, then own readers)."""
        found: dict[str, str] = {}
        products = list(self._find_products(text))
        if entities.get("product"):
            products = list(self._find_products(entities["product"])) or products
        if len(products) == 1:
            found["product"] = products[0]
        serial = entities.get("serial") or read_serial_labelled(text)
        if serial:
            found["serial"] = serial
        phone = read_phone(entities.get("phone", "")) or read_phone(_without(text, serial))
        if phone:
            found["phone"] = phone
        address = self._address_in(text, entities)
        if address:
            found["address"] = address
        urgency = self._urgency(entities.get("urgency", "")) or self._urgency_in(text)
        if urgency:
            found["urgency"] = urgency
        return found

    def answer(self, slot: str, text: str, entities: dict[str, str]) -> SlotValue:
        """The value of `slot` in a reply to the question about it."""
        reader = getattr(self, f"_answer_{slot}")
        return reader(text.strip(), entities)

    def product_options(self) -> str:
        """The known models, listed in a question about the product."""
        names = list(dict.fromkeys(self._product_names.values()))[:8]
        return f"({' / '.join(names)})" if names else ""

    def product_name(self, product_id: str) -> str:
        return self._product_names.get(product_id, product_id)

    def _answer_product(self, text: str, entities: dict[str, str]) -> SlotValue:
        products = list(self._find_products(entities.get("product") or text))
        if len(products) == 1:
            return SlotValue(products[0])
        if not self._product_names and len(text) >= 2:
            return SlotValue(text)
        return SlotValue(error="invalid_product")

    def _answer_symptom(self, text: str, _entities: dict[str, str]) -> SlotValue:
        long_enough = len(text) >= 2 if re.search(r"[\u4e00-\u9fff]", text) else len(text) >= 4
        return SlotValue(text) if long_enough else SlotValue(error="invalid_symptom")

    def _answer_address(self, text: str, entities: dict[str, str]) -> SlotValue:
        address = self._address_in(text, entities) or text
        if self._valid_address(address):
            return SlotValue(address)
        return SlotValue(error="invalid_address")

    def _address_in(self, text: str, entities: dict[str, str]) -> str | None:
        """The NLU's address, else the one read in the text, whichever is whole: the NLU may
        take only the city of "深圳大铲湾码头后面的堆场"."""
        for address in (entities.get("address"), read_address(text)):
            if address and self._valid_address(address):
                return address
        return None

    def _answer_phone(self, text: str, entities: dict[str, str]) -> SlotValue:
        phone = read_phone(entities.get("phone") or text)
        return SlotValue(phone) if phone else SlotValue(error="invalid_phone")

    def _urgency(self, text: str) -> str | None:
        """The urgency a whole short answer names ("1", "urgent", "不急")."""
        folded = fold(text)
        if not folded:
            return None
        for level, phrases in self._texts.cues["urgency"].items():
            if folded == level or any(folded == fold(str(p)) for p in phrases):
                return level
        return None

    def _urgency_in(self, text: str) -> str | None:
        """The urgency a longer message implies by its words (never by a bare digit)."""
        folded = fold(text)
        for level, phrases in self._texts.cues["urgency"].items():
            for phrase in phrases:
                word = fold(str(phrase))
                if not word.isdigit() and _contains_word(folded, word):
                    return level
        return None

    @staticmethod
    def _valid_address(address: str) -> bool:
        return len(address.strip()) >= 5 and bool(_ADDRESS_SIGNAL.search(address))


def _contains_word(text: str, word: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", word):
        return word in text
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


def _without(text: str, part: str | None) -> str:
    return text.replace(part, " ") if part else text
