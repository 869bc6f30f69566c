"""The WeChat Official Account channel driven as WeChat drives it: signed requests in plain and
safe mode to a real server, passive replies, retries, hostile XML, late answers through the
customer-service API (a local stand-in of WeChat's API)."""

from __future__ import annotations

import itertools

import httpx
import pytest

from tests.channels.conftest import WECHAT_APP_ID, WECHAT_TOKEN, Service
from tests.channels.standins import WeChatApiStandIn
from tests.channels.wechat_platform import OFFICIAL_ACCOUNT, WeChatServers, message_xml

_msg_ids = itertools.count(24_000_000_000_000_000)


def new_msg_id() -> int:
    return next(_msg_ids)


@pytest.fixture
def wechat(service: Service, aes_key: str) -> WeChatServers:
    return WeChatServers(service.client, WECHAT_TOKEN, WECHAT_APP_ID, aes_key)


def tickets_of(service: Service, sender: str) -> list[dict]:
    tickets = service.admin.get("/v1/tickets", params={"limit": 100}).json()["items"]
    return [t for t in tickets if t["channel"] == "wechat" and t["sender_id"] == sender]


# --- server URL ------------------------------------------------------------------------------


def test_server_url_check_echoes_echostr(wechat: WeChatServers) -> None:
    query = wechat.signed_query() | {"echostr": "8391827364"}
    response = wechat.client.get("/channels/wechat", params=query)
    assert response.status_code == 200
    assert response.text == "8391827364"


@pytest.mark.parametrize("tamper", ["wrong token", "no signature"])
def test_server_url_check_refuses_bad_signature(wechat: WeChatServers, tamper: str) -> None:
    query = wechat.signed_query(token="not-our-token") | {"echostr": "123"}
    if tamper == "no signature":
        del query["signature"]
    response = wechat.client.get("/channels/wechat", params=query)
    assert response.status_code == 403
    assert "123" not in response.text


# --- messages --------------------------------------------------------------------------------


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe-mode"])
def test_text_gets_the_bots_answer_as_passive_reply(
    wechat: WeChatServers, service: Service, safe: bool
) -> None:
    msg_id = new_msg_id()
    response = wechat.post(message_xml("o-alice", "text", msg_id, Content="你好"), safe=safe)
    reply = wechat.reply(response, safe=safe)
    assert reply["ToUserName"] == "o-alice"
    assert reply["FromUserName"] == OFFICIAL_ACCOUNT
    assert reply["MsgType"] == "text"
    # The same path as POST /v1/messages: that route now replays this message's answer.
    stored = service.admin.post(
        "/v1/messages",
        json={"channel": "wechat", "sender_id": "o-alice", "message_id": str(msg_id), "text": "x"},
    ).json()
    assert stored["duplicate"] is True
    assert reply["Content"] == "\n\n".join(r["text"] for r in stored["replies"])


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_retry_of_a_msgid_is_processed_once_and_gets_the_same_reply(
    wechat: WeChatServers, service: Service
) -> None:
    msg_id = new_msg_id()
    first = wechat.say("o-bob", "转人工", msg_id)
    again = wechat.say("o-bob", "转人工", msg_id)
    assert again == first
    tickets = tickets_of(service, "o-bob")
    assert len(tickets) == 1  # the hand-over ticket was made once
    assert tickets[0]["id"] in first


def test_voice_is_answered_from_its_recognition(wechat: WeChatServers, service: Service) -> None:
    voice = message_xml(
        "o-carol", "voice", new_msg_id(), MediaId="m-1", Format="amr", Recognition="转人工"
    )
    reply = wechat.reply(wechat.post(voice))
    tickets = tickets_of(service, "o-carol")
    assert len(tickets) == 1
    assert tickets[0]["id"] in reply["Content"]


def test_voice_without_recognition_asks_for_text(wechat: WeChatServers, service: Service) -> None:
    voice = message_xml("o-dan", "voice", new_msg_id(), MediaId="m-2", Format="amr")
    reply = wechat.reply(wechat.post(voice))
    assert "语音" in reply["Content"]
    assert tickets_of(service, "o-dan") == []


def test_picture_whose_media_is_gone_asks_for_the_code(wechat: WeChatServers) -> None:
    image = message_xml(
        "o-erin", "image", new_msg_id(), PicUrl="http://mmbiz.example/pic.jpg", MediaId="m-3"
    )
    assert "没能看清报警代码" in wechat.reply(wechat.post(image))["Content"]


def test_subscribe_is_welcomed_and_unsubscribe_is_acknowledged(wechat: WeChatServers) -> None:
    welcome = wechat.reply(wechat.post(message_xml("o-fay", "event", Event="subscribe")))
    assert "您好" in welcome["Content"]
    bye = wechat.post(message_xml("o-fay", "event", Event="unsubscribe"))
    assert bye.status_code == 200
    assert bye.text == "success"


# --- refused requests ------------------------------------------------------------------------


def test_message_with_wrong_signature_is_refused(wechat: WeChatServers, service: Service) -> None:
    xml = message_xml("o-gus", "text", new_msg_id(), Content="转人工")
    forged = wechat.signed_query(token="not-our-token")
    response = wechat.post(xml, **forged)
    assert response.status_code == 403
    assert tickets_of(service, "o-gus") == []


def test_safe_mode_message_with_wrong_msg_signature_is_refused(
    wechat: WeChatServers, service: Service
) -> None:
    xml = message_xml("o-hal", "text", new_msg_id(), Content="转人工")
    response = wechat.post(xml, safe=True, msg_signature="0" * 40)
    assert response.status_code == 403
    assert tickets_of(service, "o-hal") == []


def test_external_entity_is_refused_and_no_file_is_read(
    wechat: WeChatServers, service: Service, tmp_path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7731")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY leak SYSTEM "file://{secret}">]>'
        "<xml><ToUserName>gh</ToUserName><FromUserName>o-ivy</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&leak;</Content>"
        "<MsgId>1</MsgId></xml>"
    )
    for safe in (False, True):
        response = wechat.post(xxe, safe=safe)
        assert response.status_code == 400, response.text
        assert "TOP-SECRET" not in response.text
    assert tickets_of(service, "o-ivy") == []


def test_entity_expansion_is_refused(wechat: WeChatServers) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        "<xml><MsgType>text</MsgType><Content>&b;</Content></xml>"
    )
    assert wechat.post(laughs).status_code == 400


@pytest.mark.parametrize(
    "body",
    ["<xml><MsgType>text</MsgType>", "not xml at all", "<xml></xml>", "<other><a>1</a></other>"],
)
def test_malformed_xml_is_a_400(wechat: WeChatServers, body: str) -> None:
    response = wechat.post(body)
    assert response.status_code == 400, response.text
    assert response.json()["message"]


def test_oversized_body_is_a_413(wechat: WeChatServers) -> None:
    xml = message_xml("o-jay", "text", new_msg_id(), Content="故障" * 40_000)
    assert wechat.post(xml).status_code == 413


# --- answers after the 5-second window, status updates --------------------------------------


def test_slow_answer_goes_out_through_the_customer_service_api(
    wechat: WeChatServers,
    service: Service,
    wechat_api: tuple[str, WeChatApiStandIn],
) -> None:
    standin = wechat_api[1]
    service.app.state.wechat.reply_budget = 0.0  # every answer now misses the window
    msg_id = new_msg_id()
    xml = message_xml("o-kim", "text", msg_id, Content="转人工")
    first = wechat.post(xml)
    assert first.text == "success"
    sent = standin.recorder.wait_for("custom_send")
    ticket = tickets_of(service, "o-kim")[0]
    assert sent[0]["touser"] == "o-kim"
    assert ticket["id"] in sent[0]["text"]["content"]
    retry = wechat.post(xml)  # WeChat's retry: nothing twice
    assert retry.text == "success"
    assert len(standin.texts_to("o-kim")) == 1
    assert len(tickets_of(service, "o-kim")) == 1


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_status_change_reaches_the_customer_on_wechat(
    wechat: WeChatServers,
    service: Service,
    wechat_api: tuple[str, WeChatApiStandIn],
) -> None:
    standin = wechat_api[1]
    wechat.say("o-lee", "转人工", new_msg_id())
    ticket = tickets_of(service, "o-lee")[0]
    path = f"/v1/tickets/{ticket['id']}"
    assert service.admin.patch(path, json={"status": "assigned", "note": "王工明天到"}).is_success
    first = standin.recorder.wait_for("custom_send")[0]
    assert first["touser"] == "o-lee"
    assert ticket["id"] in first["text"]["content"]
    assert "已指派工程师" in first["text"]["content"]
    assert "王工明天到" in first["text"]["content"]
    standin.expire_tokens()  # the cached token now fails: fetched again, then the send repeated
    assert service.admin.patch(path, json={"status": "in_progress"}).is_success
    second = standin.recorder.wait_for("custom_send", count=2)[1]
    assert "处理中" in second["text"]["content"]
    assert len(standin.recorder.of("rejected")) == 1
    assert len(standin.recorder.of("token")) == 2


def test_an_agents_reply_carries_their_name_and_the_hand_back_is_told_on_wechat(
    wechat: WeChatServers,
    service: Service,
    wechat_api: tuple[str, WeChatApiStandIn],
) -> None:
    standin = wechat_api[1]
    wechat.say("o-zhang", "转人工", new_msg_id())
    ticket = tickets_of(service, "o-zhang")[0]
    conversation = f"/v1/agent/conversations/{ticket['conversation_id']}"
    made = service.admin.post("/v1/apikeys", json={"name": "张工", "scopes": ["agents"]})
    assert made.status_code == 201, made.text
    headers = {"Authorization": f"Bearer {made.json()['key']}"}
    with httpx.Client(base_url=service.url, headers=headers, timeout=30) as agent:
        replied = agent.post(f"{conversation}/reply", json={"text": "您好，我来看一下。"})
        assert replied.status_code == 200 and replied.json()["delivered"] is True, replied.text
        assert agent.post(f"{conversation}/handback").status_code == 200
    said = standin.texts_to("o-zhang")
    assert "张工：您好，我来看一下。" in said
    assert "智能助手继续为您服务" in said[-1]
