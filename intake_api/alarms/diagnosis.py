"""What the knowledge base says about an alarm: the fault of a code on a product, and the
ticket text that carries its diagnosis (causes, steps, parts)."""

from __future__ import annotations

import json

from intake_api.alarms.models import Alarm
from intake_api.assets.models import Asset
from knowledge_base.answers import assemble_answer, localize, normalize_lang
from knowledge_base.graph import KnowledgeGraph
from knowledge_base.text import code_key

_LABELS = {
    "zh": {
        "alarm": "设备报警",
        "unit": "设备",
        "site": "现场",
        "customer": "客户",
        "warranty": "保修截止",
        "firmware": "固件",
        "details": "报警详情",
        "none": "知识库中没有该报警代码在此产品上的诊断。",
    },
    "en": {
        "alarm": "Machine alarm",
        "unit": "Unit",
        "site": "Site",
        "customer": "Customer",
        "warranty": "Warranty until",
        "firmware": "Firmware",
        "details": "Alarm details",
        "none": "The knowledge base has no diagnosis for this code on this product.",
    },
}


class FaultFinder:
    """The KB fault of (code, product), from an index rebuilt when the graph is swapped."""

    def __init__(self) -> None:
        self._index: tuple[KnowledgeGraph, dict[tuple[tuple[str, ...], str], str]] | None = None

    def find(self, graph: KnowledgeGraph, code: str, product_id: str) -> str | None:
        if self._index is None or self._index[0] is not graph:
            by_code = {
                (code_key(shown), product): fault.id
                for fault in graph.faults.values()
                for shown in fault.codes
                for product in fault.products
            }
            self._index = (graph, by_code)
        return self._index[1].get((code_key(code), product_id))


def product_name(graph: KnowledgeGraph, product_id: str, lang: str) -> str:
    product = graph.products.get(product_id)
    return (
        str(localize(product.name, normalize_lang(lang)) or product_id) if product else product_id
    )


def ticket_subject(graph: KnowledgeGraph, alarm: Alarm, asset: Asset, fault_id: str | None) -> str:
    """ "A-112 HX-37 螺杆空压机（工频） SN-1001: 排气温度过高"."""
    lang = normalize_lang(asset.lang)
    name = product_name(graph, asset.product_id, lang)
    subject = f"{alarm.code} {name} {asset.serial}"
    fault = graph.faults.get(fault_id) if fault_id else None
    return f"{subject}: {localize(fault.title, lang)}" if fault else subject


def ticket_description(
    graph: KnowledgeGraph, alarm: Alarm, asset: Asset, fault_id: str | None
) -> str:
    """The unit's facts and the KB's diagnosis, in the customer's language."""
    lang = normalize_lang(asset.lang)
    labels = _LABELS["en" if lang == "en" else "zh"]
    site = " ".join(part for part in (asset.site_address, asset.site_region) if part)
    customer = ", ".join(
        part for part in (asset.customer_name, asset.customer_phone, asset.customer_tier) if part
    )
    rows = [
        (labels["alarm"], f"{alarm.code} ({alarm.severity})"),
        (labels["unit"], f"{asset.serial} / {product_name(graph, asset.product_id, lang)}"),
        (labels["site"], site),
        (labels["customer"], customer),
        (labels["warranty"], str(asset.warranty_end or "")),
        (labels["firmware"], asset.firmware or ""),
        (labels["details"], json.dumps(alarm.details, ensure_ascii=False) if alarm.details else ""),
    ]
    facts = "\n".join(f"{label}: {value}" for label, value in rows if value)
    diagnosis = assemble_answer(graph, fault_id, lang).text if fault_id else labels["none"]
    return f"{facts}\n\n{diagnosis}"
