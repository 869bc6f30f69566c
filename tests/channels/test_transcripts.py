"""`POST /v1/transcripts` on a real server: every accepted format, the customer's turns
understood together (details spread over the call end up on the ticket), a standard question
answered without a ticket, the transcript stored with what it made, idempotent `call_id`, and
malformed input answered with a 4xx that names the problem.

The service runs once per database (SQLite and PostgreSQL) with a small knowledge base of a
fictional ice-maker maker, so the assertions do not depend on the bundled demo data.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bot.nlu import load_or_train
from core.database import create_engine, session_factory, unit_of_work
from core.settings import Settings
from intake_api.app import create_app
from intake_api.calls.models import PhoneCall
from intake_api.services import services
from intake_api.storage.migrate import migrate
from knowledge_base.loader import read_knowledge_base
from knowledge_base.store import import_knowledge_base
from tests.support.postgres import create_database
from tests.support.server import running_server

ADMIN_KEY = "phone-and-webchat-admin-key-0123456789"
T = TypeVar("T")

# A maker of ice machines: two models sharing one fault, one fault of one model, one FAQ.
ICE_KB = """
version: 1
products:
  - id: KX-5
    name: {zh: KX-5 制冰机, en: KX-5 ice maker}
    aliases: [KX5, "KX 5"]
  - id: KX-9
    name: {zh: KX-9 制冰机, en: KX-9 ice maker}
    aliases: [KX9, "KX 9"]
solutions:
  - id: S-descale
    title: {zh: 清洗除垢, en: Descale the water circuit}
    steps:
      zh: [断电并关闭进水阀, 加入除垢剂循环三十分钟, 用清水冲洗两遍]
      en:
        - Switch off and close the water inlet
        - Run the descaler for thirty minutes
        - Rinse twice with clean water
  - id: S-condenser
    title: {zh: 清洁冷凝器, en: Clean the condenser}
    steps:
      zh: [断电, 用软毛刷清除冷凝器翅片上的灰尘, 保证机器两侧留出十五厘米通风]
      en:
        - Switch off
        - Brush the dust off the condenser fins
        - Leave fifteen centimetres of air on both sides
causes:
  - id: C-scale
    text: {zh: 水路结垢, en: Scale in the water circuit}
    solutions: [S-descale]
  - id: C-dust
    text: {zh: 冷凝器积灰, en: Dusty condenser}
    solutions: [S-condenser]
faults:
  - id: F-KX-E07
    title: {zh: 不出冰（E07）, en: No ice output (E07)}
    products: [KX-5, KX-9]
    codes: [E07]
    symptoms:
      zh: [不出冰, 制冰很慢]
      en: [no ice comes out, makes ice very slowly]
    questions:
      zh: [制冰机显示E07怎么办]
      en: [my ice maker shows E07]
    causes: [C-scale]
  - id: F-KX5-E12
    title: {zh: 冷凝器过热（E12）, en: Condenser overheating (E12)}
    products: [KX-5]
    codes: [E12]
    symptoms:
      zh: [冷凝器过热报警, 机器很烫然后停机]
      en: [condenser overheating alarm, the machine gets hot and stops]
    questions:
      zh: [KX-5 报 E12 是什么意思]
      en: [what does E12 mean on the KX-5]
    causes: [C-dust]
faqs:
  - id: FAQ-warranty
    questions:
      zh: [制冰机保修期多久, 保修几年]
      en: [how long is the warranty on the ice maker, what warranty do you give]
    answer:
      zh: 整机保修两年，压缩机保修五年。
      en: Two years on the whole unit and five years on the compressor.
    category: warranty
"""


@dataclass
class Service:
    url: str
    app: FastAPI
    database_url: str
    admin: httpx.Client


def cached_interpreter(config: pytest.Config) -> object:
    """The bundled NLU model, trained once and kept in pytest's cache between runs (in a
    temporary folder when the cache is off)."""
    cache = getattr(config, "cache", None)
    folder = cache.mkdir("aftersales-nlu-model") if cache else Path(tempfile.mkdtemp()) / "nlu"
    return load_or_train(folder)


@pytest.fixture(scope="session")
def nlu_interpreter(pytestconfig: pytest.Config) -> object:
    return cached_interpreter(pytestconfig)


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end in a thread of its own (Playwright's sync API keeps an event
    loop running in the test's thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _prepare_database(database_url: str, kb_dir: Path) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with unit_of_work(session_factory(engine)) as session:
            await import_knowledge_base(session, read_knowledge_base(kb_dir))
    finally:
        await engine.dispose()


def serve_ice_maker_service(
    folder: Path, database_url: str, interpreter: object, **overrides: object
) -> Iterator[Service]:
    """The whole service on loopback with the ice-maker knowledge base."""
    kb_dir = folder / "kb"
    kb_dir.mkdir()
    (kb_dir / "ice.yaml").write_text(ICE_KB, encoding="utf-8")
    run_apart(_prepare_database(database_url, kb_dir))
    settings = Settings(
        _env_file=None,
        data_dir=folder / "data",
        database_url=database_url,
        admin_key=ADMIN_KEY,
        load_demo_kb=False,
        **overrides,
    )
    app = create_app(settings)
    services(app).nlu = interpreter
    with running_server(app) as url:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as admin:
            yield Service(url=url, app=app, database_url=database_url, admin=admin)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def phone_service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    nlu_interpreter: object,
) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("phone")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{folder / 'phone.db'}"
    else:
        database_url = create_database(request.getfixturevalue("postgres_admin_url"))
    yield from serve_ice_maker_service(folder, database_url, nlu_interpreter)


_call_numbers = itertools.count(1)


def new_call_id() -> str:
    return f"call-{next(_call_numbers):05d}"


def post_json(service: Service, body: dict) -> httpx.Response:
    return service.admin.post("/v1/transcripts", json=body)


def post_text(service: Service, text: str, content_type: str, **params: str) -> httpx.Response:
    return service.admin.post(
        "/v1/transcripts",
        content=text.encode(),
        headers={"Content-Type": content_type},
        params=params,
    )


def stored_call(service: Service, call_id: str) -> PhoneCall | None:
    async def read() -> PhoneCall | None:
        engine = create_engine(service.database_url)
        try:
            async with session_factory(engine)() as session:
                query = select(PhoneCall).where(PhoneCall.call_id == call_id)
                return await session.scalar(query)
        finally:
            await engine.dispose()

    return run_apart(read())


# A repair call: the model, the address and the phone number each come in a different turn.
def _turn(speaker: str, text: str, start: float, end: float) -> dict:
    return {"speaker": speaker, "text": text, "start": start, "end": end}


REPAIR_CALL = [
    _turn("agent", "您好，售后服务热线，请问有什么可以帮您？", 0.0, 3.1),
    _turn("customer", "我们店的制冰机坏了，完全不出冰，需要派师傅上门维修", 3.4, 8.0),
    _turn("agent", "请问是什么型号？", 8.2, 9.5),
    _turn("customer", "KX-5", 9.8, 10.6),
    _turn("agent", "好的，地址是哪里？", 10.8, 12.0),
    _turn("customer", "上海市徐汇区漕溪北路200号", 12.3, 15.2),
    _turn("agent", "联系电话呢？", 15.4, 16.3),
    _turn("customer", "13912345678", 16.6, 18.9),
]


# --- accepted formats and what a call makes ------------------------------------------------


def test_repair_call_makes_a_ticket_with_details_from_every_turn(phone_service: Service) -> None:
    call_id = new_call_id()
    response = post_json(phone_service, {"call_id": call_id, "segments": REPAIR_CALL})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["call_id"] == call_id
    assert body["action"] == "ticket"
    assert body["format"] == "json" and body["segments"] == len(REPAIR_CALL)
    ticket = body["ticket"]
    assert ticket["status"] == "new" and ticket["priority"] in {"P1", "P2", "P3", "P4"}
    assert ticket["status_token"] and ticket["sla_due_at"]
    assert ticket["product_id"] == "KX-5"  # said in the second customer turn
    assert ticket["customer"]["phone"] == "13912345678"  # said in the fourth
    assert "漕溪北路200号" in ticket["description"]  # the third
    assert ticket["channel"] == "phone"
    assert ticket["conversation_id"] == body["conversation_id"]
    assert any(ticket["id"] in reply["text"] for reply in body["replies"])
    assert "13912345678" in body["replies"][-1]["text"]  # what was noted, for the caller
    entities = {(e["type"], e["value"]) for e in body["entities"]}
    assert ("phone", "13912345678") in entities
    assert ("product", "KX-5") in entities
    stored = phone_service.admin.get(f"/v1/tickets/{ticket['id']}").json()
    assert stored["category"] == "repair"
    assert stored["description"] == ticket["description"]


def test_the_transcript_is_stored_with_the_ticket_and_conversation(
    phone_service: Service,
) -> None:
    call_id = new_call_id()
    body = post_json(
        phone_service, {"call_id": call_id, "caller": "+86 21 5555 0101", "segments": REPAIR_CALL}
    ).json()
    call = stored_call(phone_service, call_id)
    assert call is not None
    assert call.ticket_id == body["ticket"]["id"]
    assert call.conversation_id == body["conversation_id"]
    assert call.caller == "+86 21 5555 0101"
    assert [s["speaker"] for s in call.segments] == [s["speaker"] for s in REPAIR_CALL]
    assert call.segments[1]["start"] == 3.4 and call.segments[1]["end"] == 8.0


def test_a_standard_question_is_answered_from_the_kb_without_a_ticket(
    phone_service: Service,
) -> None:
    text = (
        "Agent: Good morning, after-sales service.\n"
        "Customer (Mr. Li): Hi, I bought one of your ice makers last month.\n"
        "Customer: How long is the warranty on the ice maker?\n"
        "Agent 2: Let me check that for you.\n"
    )
    response = post_text(phone_service, text, "text/plain", call_id=new_call_id())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "answer"
    assert body["ticket"] is None
    assert body["kb_hits"][0]["id"] == "FAQ-warranty"
    assert "Two years" in body["replies"][0]["text"]
    assert body["format"] == "text"


def test_a_fault_the_fix_did_not_solve_makes_a_ticket_for_that_fault(
    phone_service: Service,
) -> None:
    text = (
        "客户：你好，我们的KX-5制冰机报E12，机器很烫然后停机\n"
        "客服：请先断电，用软毛刷清洁冷凝器，两侧留出通风空间。\n"
        "客户：这些都试过了，还是不行\n"
    )
    response = post_text(phone_service, text, "text/plain", call_id=new_call_id())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "ticket"
    assert body["kb_hits"][0]["id"] == "F-KX5-E12"
    assert body["ticket"]["fault_id"] == "F-KX5-E12"
    assert body["ticket"]["product_id"] == "KX-5"


def test_plain_text_with_chinese_speaker_labels(phone_service: Service) -> None:
    text = (
        "坐席：您好，请讲。\n"
        "客户：你好，我的KX-9制冰机报E07，已经除过垢了还是不出冰\n"
        "客服：好的，需要安排工程师吗？\n"
        "客户：对，请派工程师上门，地址是杭州市西湖区文三路90号\n"
    )
    response = post_text(phone_service, text, "text/plain; charset=utf-8", call_id=new_call_id())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "ticket"
    assert body["ticket"]["product_id"] == "KX-9"
    assert "文三路90号" in body["ticket"]["description"]


WEBVTT_CALL = """WEBVTT

NOTE call_id: {call_id}

1
00:00:00.000 --> 00:00:02.500
<v Agent>Service desk, how can I help?</v>

2
00:00:02.800 --> 00:00:07.000
<v Customer>Our KX-5 ice maker keeps stopping with alarm E12 &amp; gets very hot.

3
00:00:07.200 --> 00:00:09.000
<v Agent>Did you clean the condenser?

4
00:00:09.300 --> 00:00:14.000
<v Customer>Yes, still the same. Please send an engineer to 42 Harbour Road, Kowloon.

00:00:14.200 --> 00:00:16.000
Customer: You can call me on 6123 4567.
"""


def test_webvtt_with_voice_tags(phone_service: Service) -> None:
    call_id = new_call_id()
    response = post_text(phone_service, WEBVTT_CALL.format(call_id=call_id), "text/vtt")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["call_id"] == call_id  # from the NOTE block
    assert body["format"] == "vtt" and body["segments"] == 5
    assert body["action"] == "ticket"
    ticket = body["ticket"]
    assert ticket["product_id"] == "KX-5"
    assert ticket["customer"]["phone"] == "61234567"
    assert "Harbour Road" in ticket["description"]
    call = stored_call(phone_service, call_id)
    assert call is not None and call.segments[1]["start"] == 2.8
    assert "E12 & gets very hot" in call.segments[1]["text"]


SRT_CALL = """1
00:00:00,000 --> 00:00:02,000
Agent: After-sales, good afternoon.

2
00:00:02,500 --> 00:00:06,000
Customer: I need your team to install a new KX-9 ice maker at our bar.

3
00:00:06,500 --> 00:00:09,000
Customer: The address is 18 Station Street, Leeds, phone 0113 496 0000.
"""


@pytest.mark.parametrize("content_type", ["application/x-subrip", "text/plain"])
def test_srt(phone_service: Service, content_type: str) -> None:
    call_id = new_call_id()
    response = post_text(phone_service, SRT_CALL, content_type, call_id=call_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["format"] == "srt" and body["segments"] == 3
    assert body["action"] == "ticket"
    assert body["ticket"]["category"] == "installation"
    assert body["ticket"]["product_id"] == "KX-9"
    call = stored_call(phone_service, call_id)
    assert call is not None and call.segments[2]["end"] == 9.0


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_call_id_again_returns_the_first_answer_and_makes_nothing(
    phone_service: Service,
) -> None:
    call_id = new_call_id()
    first = post_json(phone_service, {"call_id": call_id, "segments": REPAIR_CALL}).json()
    tickets_before = phone_service.admin.get("/v1/tickets", params={"limit": 200}).json()
    again = post_json(phone_service, {"call_id": call_id, "segments": REPAIR_CALL[:2]})
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["ticket"]["id"] == first["ticket"]["id"]
    assert again.json()["conversation_id"] == first["conversation_id"]
    tickets_after = phone_service.admin.get("/v1/tickets", params={"limit": 200}).json()
    assert tickets_after["total"] == tickets_before["total"]


def test_a_text_transcript_without_call_id_is_identified_by_its_content(
    phone_service: Service,
) -> None:
    text = "Customer: My KX-9 ice maker makes no ice, please send someone to fix it.\n"
    first = post_text(phone_service, text, "text/plain").json()
    again = post_text(phone_service, text, "text/plain").json()
    assert first["call_id"] == again["call_id"]
    assert again["duplicate"] is True
    assert again["ticket"]["id"] == first["ticket"]["id"]


# --- malformed input ------------------------------------------------------------------------


def _json(body: object) -> tuple[bytes, str]:
    return json.dumps(body).encode(), "application/json"


def _segments(*segments: dict) -> tuple[bytes, str]:
    return _json({"call_id": "bad-call", "segments": list(segments)})


MALFORMED = {
    "not JSON": ((b'{"call_id": "x", "segments": [', "application/json"), 422, "not valid JSON"),
    "empty body": ((b"", "application/json"), 422, "empty"),
    "no call_id": (_json({"segments": [{"speaker": "customer", "text": "hi"}]}), 422, "call_id"),
    "segments not a list": (_json({"call_id": "x", "segments": "hi"}), 422, "segments"),
    "no segments": (_json({"call_id": "x", "segments": []}), 422, "no segments"),
    "unknown speaker": (
        _segments({"speaker": "robot", "text": "beep"}),
        422,
        "unknown speaker 'robot'",
    ),
    "missing text": (_segments({"speaker": "customer"}), 422, "segments[0]: `text`"),
    "end before start": (
        _segments({"speaker": "customer", "text": "E07", "start": 5, "end": 2}),
        422,
        "before `start`",
    ),
    "negative time": (
        _segments({"speaker": "customer", "text": "E07", "start": -1}),
        422,
        "negative",
    ),
    "timestamp not a time": (
        _segments({"speaker": "customer", "text": "E07", "start": "soon"}),
        422,
        "bad timestamp",
    ),
    "agent only": (_segments({"speaker": "agent", "text": "hello?"}), 422, "no customer turns"),
    "text without speaker": ((b"my machine is broken", "text/plain"), 422, "line 1: no speaker"),
    "text with unknown speaker": (
        (b"Customer: hi\nNarrator: then silence", "text/plain"),
        422,
        "line 2: unknown speaker 'Narrator'",
    ),
    "vtt without header": (
        (b"00:00:01.000 --> 00:00:02.000\nCustomer: hi", "text/vtt"),
        422,
        "WEBVTT",
    ),
    "vtt bad timestamp": (
        (b"WEBVTT\n\n00:00:xx.000 --> 00:00:02.000\nCustomer: hi\n", "text/vtt"),
        422,
        "cue 1 (line 3): bad timestamp",
    ),
    "vtt end before start": (
        (b"WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nCustomer: hi\n", "text/vtt"),
        422,
        "cue 1",
    ),
    "srt without timing": (
        (b"1\nCustomer: hi\n", "application/x-subrip"),
        422,
        "no timing line",
    ),
    "unsupported type": ((b"<call/>", "application/xml"), 415, "unsupported content type"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_input_gets_a_4xx_naming_the_problem(phone_service: Service, case: str) -> None:
    (content, content_type), status, words = MALFORMED[case]
    response = phone_service.admin.post(
        "/v1/transcripts", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert words in response.json()["message"]


def test_a_key_is_required(phone_service: Service) -> None:
    response = httpx.post(
        f"{phone_service.url}/v1/transcripts",
        json={"call_id": new_call_id(), "segments": REPAIR_CALL},
    )
    assert response.status_code == 401
