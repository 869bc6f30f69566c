"""The Telegram channel driven as Telegram drives it: updates POSTed to the webhook of a real
server with the secret header, the service calling a local stand-in of the Bot API; long
polling; buttons; status updates in the customer's language."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests.channels.conftest import TELEGRAM_SECRET, Service, prepare, serve
from tests.channels.standins import BotApiStandIn

_update_ids = itertools.count(700_000)
_message_ids = itertools.count(1)


def user(chat_id: int, lang: str | None) -> dict[str, Any]:
    person = {"id": chat_id, "is_bot": False, "first_name": "Ann", "last_name": "Lee"}
    return person | ({"language_code": lang} if lang else {})


def text_update(chat_id: int, text: str, lang: str | None = "en") -> dict[str, Any]:
    """A private-chat message update as the Bot API documents it."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
        "from": user(chat_id, lang),
        "text": text,
    }
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": next(_update_ids), "message": message}


def button_update(chat_id: int, data: str, lang: str | None = "en") -> dict[str, Any]:
    """A press on an inline keyboard button under one of the bot's messages."""
    bot_message = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
        "from": {"id": 4242, "is_bot": True, "first_name": "Service"},
        "text": "Did this solve it?",
    }
    query = {
        "id": f"cq-{next(_update_ids)}",
        "from": user(chat_id, lang),
        "chat_instance": "ci-1",
        "message": bot_message,
        "data": data,
    }
    return {"update_id": next(_update_ids), "callback_query": query}


def post(service: Service, update: dict[str, Any], secret: str | None = TELEGRAM_SECRET) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return service.client.post("/channels/telegram/webhook", json=update, headers=headers)


def tickets_of(service: Service, chat_id: int) -> list[dict]:
    tickets = service.admin.get("/v1/tickets", params={"limit": 100}).json()["items"]
    return [t for t in tickets if t["channel"] == "telegram" and t["sender_id"] == str(chat_id)]


@pytest.fixture
def bot(bot_api: tuple[str, BotApiStandIn]) -> BotApiStandIn:
    return bot_api[1]


# --- webhook ---------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "wrong-secret"], ids=["missing", "wrong"])
def test_webhook_refuses_a_wrong_secret(
    service: Service, bot: BotApiStandIn, secret: str | None
) -> None:
    response = post(service, text_update(11, "talk to a person"), secret=secret)
    assert response.status_code == 403
    assert bot.recorder.of("sendMessage") == []
    assert tickets_of(service, 11) == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"message": {}}'])
def test_webhook_answers_bad_updates_with_400(service: Service, body: bytes) -> None:
    response = service.client.post(
        "/channels/telegram/webhook",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "after-sales service"), ("zh-hans", "这里是售后服务"), ("zh-hant", "這裡是售後服務")],
)
def test_start_welcomes_in_the_users_language(
    service: Service, bot: BotApiStandIn, lang: str, expected: str
) -> None:
    assert post(service, text_update(12, "/start", lang)).status_code == 200
    [welcome] = bot.texts_to(12)
    assert expected in welcome


def test_text_is_answered_by_the_bot(service: Service, bot: BotApiStandIn) -> None:
    update = text_update(13, "hello")
    assert post(service, update).status_code == 200
    sent = bot.texts_to(13)
    message_id = f"13:{update['message']['message_id']}"
    stored = service.admin.post(
        "/v1/messages",
        json={"channel": "telegram", "sender_id": "13", "message_id": message_id, "text": "x"},
    ).json()
    assert stored["duplicate"] is True  # the same path as POST /v1/messages
    assert sent == [reply["text"] for reply in stored["replies"]]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_repeated_update_is_processed_once(service: Service, bot: BotApiStandIn) -> None:
    update = text_update(14, "talk to a person")
    assert post(service, update).status_code == 200
    assert post(service, update).status_code == 200
    assert len(tickets_of(service, 14)) == 1
    assert len(bot.texts_to(14)) == 1


def test_status_command_lists_open_tickets(service: Service, bot: BotApiStandIn) -> None:
    post(service, text_update(15, "talk to a person"))
    [ticket] = tickets_of(service, 15)
    post(service, text_update(15, "/status"))
    assert ticket["id"] in bot.texts_to(15)[-1]


def test_buttons_reach_the_bot_and_are_answered(service: Service, bot: BotApiStandIn) -> None:
    press = button_update(16, "talk to a person")  # a button's payload: the words it says
    assert post(service, press).status_code == 200
    [answered] = bot.recorder.of("answerCallbackQuery")
    assert answered["callback_query_id"] == press["callback_query"]["id"]
    [ticket] = tickets_of(service, 16)  # "talk to a person" hands the chat to a person
    assert ticket["id"] in bot.texts_to(16)[-1]


@pytest.fixture
def demo_service(channel_settings: Settings) -> Iterator[Service]:
    """The service with the bundled demo knowledge base, for answers to rate."""
    settings = channel_settings.model_copy(update={"load_demo_kb": True})
    prepare(settings)
    yield from serve(settings)


def test_answer_from_the_kb_offers_buttons_and_not_solved_goes_on(
    demo_service: Service, bot: BotApiStandIn
) -> None:
    service = demo_service
    question = "HX-37 won't start, shows A121 and the temperature readout says minus 50"
    post(service, text_update(17, question))
    last = bot.recorder.of("sendMessage")[-1]
    keyboard = last["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["Solved", "Not solved", "Talk to a person"]
    says = [row[0]["callback_data"] for row in keyboard]
    assert says == ["solved", "not solved", "talk to a person"]  # what a press tells the bot
    before = len(bot.texts_to(17))
    post(service, button_update(17, says[1]))
    after = bot.recorder.of("sendMessage")[before:]
    assert after, "the bot answers a press of 'Not solved'"
    assert all("reply_markup" not in m for m in after)  # no longer an answer to rate


# --- status updates --------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_status_change_reaches_the_customer_on_telegram(
    service: Service, bot: BotApiStandIn
) -> None:
    post(service, text_update(18, "talk to a person", "en"))
    [ticket] = tickets_of(service, 18)
    before = len(bot.texts_to(18))
    response = service.admin.patch(f"/v1/tickets/{ticket['id']}", json={"status": "assigned"})
    assert response.status_code == 200, response.text
    sent = bot.recorder.wait_for("sendMessage", before + 1)[before:]
    assert int(sent[0]["chat_id"]) == 18
    assert sent[0]["text"].startswith(f"Your ticket {ticket['id']}")
    assert "assigned to an engineer" in sent[0]["text"]


def test_status_change_is_sent_in_traditional_chinese(service: Service, bot: BotApiStandIn) -> None:
    post(service, text_update(19, "請幫我轉人工", "zh-hant"))
    [ticket] = tickets_of(service, 19)
    before = len(bot.texts_to(19))
    service.admin.patch(f"/v1/tickets/{ticket['id']}", json={"status": "in_progress"})
    text = bot.recorder.wait_for("sendMessage", before + 1)[before]["text"]
    assert "您的工單" in text
    assert "處理中" in text


# --- long polling ----------------------------------------------------------------------------


@pytest.fixture
def polling_service(channel_settings: Settings) -> Iterator[Service]:
    """The service without a webhook secret: it polls getUpdates."""
    yield from serve(channel_settings.model_copy(update={"telegram_webhook_secret": None}))


def test_polling_fetches_and_answers_updates(polling_service: Service, bot: BotApiStandIn) -> None:
    update = text_update(20, "talk to a person")
    bot.pending_updates.append(update)
    bot.recorder.wait_for("sendMessage")
    assert bot.recorder.of("deleteWebhook"), "a webhook would block getUpdates"
    assert len(tickets_of(polling_service, 20)) == 1
    offsets = [call.get("offset") for call in bot.recorder.wait_for("getUpdates", 3)]
    assert update["update_id"] + 1 in offsets  # the update is confirmed, not fetched again
    assert len(bot.texts_to(20)) == 1
    response = post(polling_service, text_update(20, "hello"))
    assert response.status_code == 403  # no webhook secret: the webhook stays shut


# --- an agent's reply and the hand-back ------------------------------------------------------


def _agent(service: Service, name: str) -> httpx.Client:
    """A client of the agent API under a new key named `name` (the name replies go under)."""
    made = service.admin.post("/v1/apikeys", json={"name": name, "scopes": ["agents"]})
    assert made.status_code == 201, made.text
    headers = {"Authorization": f"Bearer {made.json()['key']}"}
    return httpx.Client(base_url=service.url, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("lang", "ask", "name", "words", "said", "back"),
    [
        (
            "en",
            "talk to a person",
            "Alice",
            "Checking it now.",
            "Alice: Checking it now.",
            "the assistant is back",
        ),
        (
            "zh-hant",
            "請幫我轉人工",
            "張工",
            "我幫您查一下。",
            "張工：我幫您查一下。",
            "智能助手繼續為您服務",
        ),
    ],
    ids=["en", "zh-Hant"],
)
def test_an_agents_reply_carries_their_name_and_the_hand_back_is_told(
    service: Service,
    bot: BotApiStandIn,
    lang: str,
    ask: str,
    name: str,
    words: str,
    said: str,
    back: str,
) -> None:
    chat = 31 if lang == "en" else 32
    post(service, text_update(chat, ask, lang))
    [ticket] = tickets_of(service, chat)
    conversation = f"/v1/agent/conversations/{ticket['conversation_id']}"
    with _agent(service, name) as agent:
        replied = agent.post(f"{conversation}/reply", json={"text": words})
        assert replied.status_code == 200 and replied.json()["delivered"] is True, replied.text
        assert said in bot.texts_to(chat)
        assert agent.post(f"{conversation}/handback").status_code == 200
        assert back in bot.texts_to(chat)[-1]
        lines = agent.get(conversation).json()["messages"]
    mine = [line for line in lines if line["action"] == "agent"]
    assert [(line["text"], line["author"]) for line in mine] == [(words, name)]
    assert lines[-1]["action"] == "notice" and back in lines[-1]["text"]
