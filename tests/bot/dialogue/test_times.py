"""Times in customer messages are on the customer's clock (the service's
`customer_timezone`, passed to the bot by the composition root), never in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.ports import NoInterpreter
from bot.dialogue.tickets import due_text, local_time
from bot.triage import load_policy
from core.database import unit_of_work
from core.messages import InboundMessage
from core.settings import Settings
from intake_api.messages.desk import BotTicketDesk

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_due_time_is_shown_on_the_customers_clock() -> None:
    due = datetime(2026, 3, 4, 18, 30, tzinfo=UTC)
    assert local_time(due, SHANGHAI) == "2026-03-05 02:30"
    assert local_time("2026-03-04T18:30:00+00:00", SHANGHAI) == "2026-03-05 02:30"
    assert local_time("2026-03-04T18:30:00Z", ZoneInfo("Europe/London")) == "2026-03-04 18:30"
    assert local_time("2026-03-04T18:30:00", SHANGHAI) == "2026-03-05 02:30"  # naive: UTC
    assert due_text({"sla_due_at": due.isoformat()}, SHANGHAI) == "2026-03-05 02:30"
    assert due_text({}, SHANGHAI) == ""


def test_the_setting_defaults_to_shanghai_and_refuses_unknown_zones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AFTERSALES_CUSTOMER_TIMEZONE", raising=False)
    assert Settings().customer_timezone == "Asia/Shanghai"
    monkeypatch.setenv("AFTERSALES_CUSTOMER_TIMEZONE", "Asia/Hong_Kong")
    assert Settings().customer_timezone == "Asia/Hong_Kong"
    monkeypatch.setenv("AFTERSALES_CUSTOMER_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Settings()


async def test_the_ticket_reply_gives_the_due_time_in_the_customers_zone(
    knowledge: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession]
) -> None:
    dialogue = DialogueEngine(
        knowledge=knowledge,
        interpreter=NoInterpreter(),
        tickets=BotTicketDesk(load_policy(None)),
        customer_zone="Asia/Shanghai",
    )
    texts = ["AC-300报E05，派工程师上门，地址北京市朝阳区建国路88号，电话13912345678"]
    turn = None
    for number, text in enumerate(texts):
        inbound = InboundMessage(
            channel="test", sender_id="tz", message_id=f"tz{number}", text=text
        )
        async with unit_of_work(sessions) as session:
            turn = await dialogue.handle(session, inbound)
    assert turn is not None and turn.action == "ticket" and turn.ticket is not None
    reply = " ".join(turn.texts)
    assert "UTC" not in reply
    due = turn.ticket.get("sla_due_at") or turn.ticket.get("response_due_at")
    expected = local_time(due, SHANGHAI)
    assert expected and expected in reply, reply
    utc_clock = str(due)[:16].replace("T", " ")
    assert utc_clock not in reply  # 8 hours apart: the UTC clock is not the one shown
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", reply)
