"""The web chat in a real headless Chromium against the whole service on loopback: a message
and its reply, the conversation after a reload, quick replies, a ticket made in the chat whose
status changes appear live, the zh/en interface, the embeddable widget, and text that looks like
HTML staying text. One browser for the module; each test has a fresh browser context (a new
visitor with an empty localStorage, so a session of its own)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from websockets.sync.client import connect

from tests.channels.test_transcripts import Service, cached_interpreter, serve_ice_maker_service
from tests.support.postgres import create_database
from tests.support.server import running_server

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RATE_PER_MINUTE = 12
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)  # the bot's first answers may take a while on a busy machine


@pytest.fixture(scope="module")
def chat_service(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("webchat")
    database_url = f"sqlite+aiosqlite:///{folder / 'webchat.db'}"
    yield from serve_ice_maker_service(
        folder,
        database_url,
        cached_interpreter(pytestconfig),
        rate_limit_per_sender_per_minute=RATE_PER_MINUTE,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


def open_chat(context: BrowserContext, service: Service) -> Page:
    page = context.new_page()
    page.goto(f"{service.url}/chat")
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    return page


def say(page: Page, text: str) -> None:
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")


def bot_says(page: Page, words: str) -> None:
    expect(page.locator(".msg-bot .bubble", has_text=words).last).to_be_visible()


def quick_reply(page: Page, label: str) -> None:
    page.locator(".quick-reply", has_text=re.compile(f"^{re.escape(label)}$")).click()


def stored_token(page: Page) -> str:
    return page.evaluate("localStorage.getItem('aftersales.chat.token')")


# --- the page -------------------------------------------------------------------------------


def test_page_has_a_strict_content_security_policy(chat_service: Service) -> None:
    page = httpx.get(f"{chat_service.url}/chat")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "http" not in page.text.split("<body>")[0]  # nothing loaded from elsewhere
    widget = httpx.get(f"{chat_service.url}/chat/widget.js")
    assert widget.status_code == 200
    assert widget.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{chat_service.url}/chat/static/../../etc/passwd").status_code == 404


def test_message_reply_and_the_conversation_after_a_reload(
    context: BrowserContext, chat_service: Service
) -> None:
    page = open_chat(context, chat_service)
    say(page, "How long is the warranty on the ice maker?")
    bot_says(page, "Two years on the whole unit")
    expect(page.locator(".quick-reply", has_text="Not solved")).to_be_visible()
    token = stored_token(page)
    assert token

    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    customer = page.locator(".msg-customer .bubble")
    expect(customer).to_have_text(["How long is the warranty on the ice maker?"])
    bot_says(page, "Two years on the whole unit")
    expect(page.locator(".quick-reply", has_text="Not solved")).to_be_visible()
    assert stored_token(page) == token  # the same session, no key asked for


def test_quick_replies_make_a_ticket_whose_status_changes_live(
    context: BrowserContext, chat_service: Service
) -> None:
    page = open_chat(context, chat_service)
    say(page, "My KX-5 ice maker stops with alarm E12")
    bot_says(page, "Clean the condenser")
    quick_reply(page, "Talk to a person")
    ticket = page.locator(".ticket")
    expect(ticket).to_have_count(1)
    expect(ticket.locator(".ticket-status")).to_have_text("received")
    ticket_id = ticket.get_attribute("data-ticket-id")
    assert ticket_id and ticket_id in page.locator(".msg-bot .bubble").last.inner_text()
    stored = chat_service.admin.get(f"/v1/tickets/{ticket_id}").json()
    assert stored["channel"] == "webchat" and stored["category"] != "complaint"

    moved = chat_service.admin.patch(
        f"/v1/tickets/{ticket_id}", json={"status": "in_progress", "note": "engineer on the way"}
    )
    assert moved.status_code == 200, moved.text
    expect(ticket.locator(".ticket-status")).to_have_text("in progress")  # no reload
    notice = page.locator(".msg-notice .bubble")
    expect(notice).to_contain_text(ticket_id)
    expect(notice).to_contain_text("engineer on the way")

    page.reload()  # the status and the notice are there for a page opened later
    expect(page.locator(".ticket .ticket-status")).to_have_text("in progress")
    expect(page.locator(".msg-notice .bubble")).to_contain_text("engineer on the way")


def test_the_repair_form_ends_in_a_ticket_once_it_has_a_phone(
    context: BrowserContext, chat_service: Service
) -> None:
    page = open_chat(context, chat_service)
    say(page, "My KX-5 ice maker stops with alarm E12")
    bot_says(page, "Clean the condenser")
    quick_reply(page, "Not solved")
    expect(page.locator(".msg-customer .bubble").last).to_have_text("not solved")
    say(page, "The address is 42 Harbour Road, Kowloon")
    bot_says(page, "What phone number")
    say(page, "1381234")  # too short for any numbering plan: asked again
    bot_says(page, "That phone number does not look right")
    expect(page.locator(".msg-bot .bubble").last).to_contain_text("What phone number")
    say(page, "61234567")  # everything a visit needs: the ticket, no further questions
    expect(page.locator(".ticket .ticket-status")).to_have_text("received")
    noted = page.locator(".msg-bot .bubble").last
    expect(noted).to_contain_text("42 Harbour Road")  # what was noted, for the customer to check
    expect(noted).to_contain_text("61234567")
    ticket_id = page.locator(".ticket").get_attribute("data-ticket-id")
    stored = chat_service.admin.get(f"/v1/tickets/{ticket_id}").json()
    # the due time on the customer's clock (AFTERSALES_CUSTOMER_TIMEZONE, Asia/Shanghai)
    created = page.locator(".msg-bot .bubble", has_text=ticket_id).last
    expect(created).not_to_contain_text("UTC")
    due = datetime.fromisoformat(stored["sla_due_at"].replace("Z", "+00:00"))
    local = due.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    expect(created).to_contain_text(local)
    assert stored["product_id"] == "KX-5"
    assert stored["customer"]["phone"] == "61234567"
    assert "Harbour Road" in stored["description"]


def test_html_from_the_customer_is_shown_as_text_and_never_runs(
    context: BrowserContext, chat_service: Service
) -> None:
    page = open_chat(context, chat_service)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attack = '<img src=x onerror="window.__xss = 1; alert(1)"><script>window.__xss = 2</script>'
    say(page, attack)
    expect(page.locator(".msg-customer .bubble")).to_have_text([attack])
    expect(page.locator(".msg-customer")).not_to_have_class(re.compile("pending"))  # answered
    page.reload()
    expect(page.locator(".msg-customer .bubble")).to_have_text([attack])
    assert page.locator("#messages img, #messages script").count() == 0
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_interface_follows_the_browser_language_and_toggles(
    browser: Browser, chat_service: Service
) -> None:
    context = browser.new_context(locale="zh-CN")
    try:
        page = open_chat(context, chat_service)
        expect(page.locator("#send")).to_have_text("发送")
        expect(page.locator("#connection")).to_have_text("在线")
        page.locator("#lang-toggle").click()
        expect(page.locator("#send")).to_have_text("Send")
        page.reload()  # the choice is remembered
        expect(page.locator("#send")).to_have_text("Send")
    finally:
        context.close()


def shop_site(chat_url: str, heading: str, *, mobile: bool = False) -> FastAPI:
    """A customer's own site: another origin with one script tag, the chat widget's."""
    shop = FastAPI()
    viewport = '<meta name="viewport" content="width=device-width">' if mobile else ""

    @shop.get("/")
    def home() -> HTMLResponse:
        return HTMLResponse(
            f"<!doctype html><html><head>{viewport}</head><body><h1>{heading}</h1>"
            f'<script src="{chat_url}/chat/widget.js" async></script></body></html>'
        )

    return shop


def test_the_widget_adds_a_chat_button_to_another_site(
    context: BrowserContext, chat_service: Service
) -> None:
    with running_server(shop_site(chat_service.url, "Ice makers for bars")) as shop_url:
        page = context.new_page()
        page.goto(shop_url.replace("127.0.0.1", "localhost"))
        _open_widget_and_chat(page)


def _open_widget_and_chat(page: Page) -> None:
    button = page.locator("#aftersales-chat-button")
    expect(button).to_have_text("Chat with us")
    button.click()
    chat = page.frame_locator("#aftersales-chat-panel iframe")
    expect(chat.locator("#connection")).to_have_attribute("data-state", "online")
    chat.locator("#input").fill("How long is the warranty on the ice maker?")
    chat.locator("#input").press("Enter")
    expect(chat.locator(".msg-bot .bubble", has_text="Two years").last).to_be_visible()


# --- the socket protocol --------------------------------------------------------------------


def _socket_url(service: Service, token: str | None = None) -> str:
    url = service.url.replace("http://", "ws://") + "/chat/ws"
    return f"{url}?token={token}" if token else url


def _frames_until(socket, kind: str) -> dict:  # noqa: ANN001 - websockets connection
    while True:
        frame = json.loads(socket.recv(timeout=30))
        if frame["type"] == kind:
            return frame


def test_a_forged_token_gets_a_new_session(chat_service: Service) -> None:
    session = httpx.post(f"{chat_service.url}/chat/session").json()
    forged = session["session_id"] + ".not-our-signature"
    with connect(_socket_url(chat_service, forged)) as socket:
        first = json.loads(socket.recv(timeout=30))
    assert first["type"] == "session"
    assert first["session_id"] != session["session_id"]
    with connect(_socket_url(chat_service, session["token"])) as socket:
        assert json.loads(socket.recv(timeout=30))["session_id"] == session["session_id"]


def test_bad_frames_get_an_error_and_the_socket_stays_open(chat_service: Service) -> None:
    with connect(_socket_url(chat_service)) as socket:
        _frames_until(socket, "history")
        socket.send("not json")
        assert "not JSON" in _frames_until(socket, "error")["message"]
        socket.send(b"\x00\x01")
        assert "binary" in _frames_until(socket, "error")["message"]
        socket.send(json.dumps({"type": "message", "id": "a1", "text": "   "}))
        assert "`text`" in _frames_until(socket, "error")["message"]
        socket.send(
            json.dumps({"type": "message", "id": "a2", "text": "How long is the warranty?"})
        )
        assert _frames_until(socket, "reply")["client_id"] == "a2"


def test_history_keeps_earlier_conversations_of_the_session(chat_service: Service) -> None:
    with connect(_socket_url(chat_service)) as socket:
        token = _frames_until(socket, "session")["token"]
        conversations = []
        for number, text in enumerate(["hello", "bye", "How long is the warranty?"]):
            socket.send(json.dumps({"type": "message", "id": f"h{number}", "text": text}))
            conversations.append(_frames_until(socket, "reply")["conversation_id"])
        assert conversations[1] != conversations[2]  # "bye" closed the first conversation
    with connect(_socket_url(chat_service, token)) as socket:
        lines = _frames_until(socket, "history")["messages"]
    said = [line["text"] for line in lines if line["from"] == "customer"]
    assert said == ["hello", "bye", "How long is the warranty?"]


def test_messages_are_rate_limited_per_session(chat_service: Service) -> None:
    with connect(_socket_url(chat_service)) as socket:
        _frames_until(socket, "history")
        for _ in range(RATE_PER_MINUTE):  # frames that are not messages use the budget too
            socket.send("{}")
            assert _frames_until(socket, "error")["code"] == "bad_frame"
        socket.send(json.dumps({"type": "message", "id": "over", "text": "hello"}))
        refused = _frames_until(socket, "error")
    assert refused["code"] == "rate_limited" and refused["id"] == "over"
    assert refused["retry_after"] >= 1
    with connect(_socket_url(chat_service)) as other:  # another visitor is not held back
        _frames_until(other, "history")
        other.send(json.dumps({"type": "message", "id": "fine", "text": "hello"}))
        assert _frames_until(other, "reply")["client_id"] == "fine"


# --- the same on PostgreSQL, at the socket (no browser) -------------------------------------


@pytest.fixture(scope="module")
def pg_chat_service(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config, postgres_admin_url: str
) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("webchat-pg")
    database_url = create_database(postgres_admin_url)
    yield from serve_ice_maker_service(folder, database_url, cached_interpreter(pytestconfig))


def test_history_ticket_status_and_notices_on_postgresql(pg_chat_service: Service) -> None:
    with connect(_socket_url(pg_chat_service)) as socket:
        token = _frames_until(socket, "session")["token"]
        assert _frames_until(socket, "history")["messages"] == []
        socket.send(json.dumps({"type": "message", "id": "p1", "text": "talk to a person"}))
        reply = _frames_until(socket, "reply")
        ticket_id = reply["ticket"]["id"]
        assert _frames_until(socket, "ticket")["ticket_id"] == ticket_id
        moved = pg_chat_service.admin.patch(
            f"/v1/tickets/{ticket_id}", json={"status": "assigned", "assignee": "li.wei"}
        )
        assert moved.status_code == 200, moved.text
        assert _frames_until(socket, "ticket")["status"] == "assigned"
        notice = _frames_until(socket, "message")
        assert notice["action"] == "notice" and ticket_id in notice["text"]
    with connect(_socket_url(pg_chat_service, token)) as socket:
        lines = _frames_until(socket, "history")["messages"]
        assert [line["from"] for line in lines] == ["customer", "bot", "bot"]
        assert lines[0]["text"] == "talk to a person" and lines[0]["client_id"] == "p1"
        assert lines[-1]["action"] == "notice"
        statuses = [_frames_until(socket, "ticket")["status"] for _ in range(2)]
        assert statuses[-1] == "assigned"


# --- what the customer sees: the newest message is never hidden -----------------------------

PHONE = {"width": 375, "height": 667}

# The last message's box lies inside the message list's visible box (not under the ticket bar,
# the quick replies or the composer), and nothing else is drawn over its last line.
NEWEST_IN_VIEW = """() => {
  const list = document.getElementById("messages");
  const last = list && list.lastElementChild;
  if (!last) { return false; }
  const view = list.getBoundingClientRect();
  const box = last.getBoundingClientRect();
  const inside = box.top >= view.top - 0.5 && box.bottom <= view.bottom + 0.5
    && box.bottom <= window.innerHeight + 0.5 && box.height > 0;
  const probe = document.elementFromPoint(box.left + box.width / 2, box.bottom - 2);
  return inside && !!probe && last.contains(probe);
}"""


def assert_newest_in_view(page: Page) -> None:
    page.wait_for_timeout(300)  # let the layout settle (buttons, ticket bar)
    assert page.evaluate(NEWEST_IN_VIEW), "the newest message is hidden"


def _several_messages_and_a_ticket(page: Page) -> None:
    say(page, "How long is the warranty on the ice maker?")
    bot_says(page, "Two years on the whole unit")
    say(page, "My KX-5 ice maker stops with alarm E12")
    bot_says(page, "Clean the condenser")
    expect(page.locator(".quick-reply", has_text="Not solved")).to_be_visible()
    assert_newest_in_view(page)
    quick_reply(page, "Talk to a person")
    expect(page.locator(".ticket")).to_have_count(1)
    expect(page.locator(".msg-customer").last).not_to_have_class(re.compile("pending"))


def test_the_newest_message_is_never_hidden_at_phone_width(
    browser: Browser, chat_service: Service
) -> None:
    context = browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True)
    context.set_default_timeout(WAIT_MS)
    try:
        page = open_chat(context, chat_service)
        _several_messages_and_a_ticket(page)
        assert_newest_in_view(page)
        say(page, "How long is the warranty on the ice maker?")  # while a person is coming
        bot_says(page, "Two years on the whole unit")
        assert_newest_in_view(page)
        page.reload()
        expect(page.locator("#connection")).to_have_attribute("data-state", "online")
        expect(page.locator(".ticket")).to_have_count(1)
        assert_newest_in_view(page)
    finally:
        context.close()


def test_the_newest_message_is_never_hidden_on_a_desktop_page_with_buttons(
    context: BrowserContext, chat_service: Service
) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": 1024, "height": 420})
    page.goto(f"{chat_service.url}/chat")
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    _several_messages_and_a_ticket(page)
    assert_newest_in_view(page)


def test_the_newest_message_is_never_hidden_in_the_widget(
    browser: Browser, chat_service: Service
) -> None:
    shop = shop_site(chat_service.url, "Ice makers for bars", mobile=True)
    context = browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True)
    context.set_default_timeout(WAIT_MS)
    try:
        with running_server(shop) as shop_url:
            page = context.new_page()
            page.goto(shop_url.replace("127.0.0.1", "localhost"))
            page.locator("#aftersales-chat-button").click()
            frame = page.frame_locator("#aftersales-chat-panel iframe")
            expect(frame.locator("#connection")).to_have_attribute("data-state", "online")
            chat = page.frame(url=re.compile(r"/chat\?embed=1"))
            assert chat is not None
            for text in (
                "How long is the warranty on the ice maker?",
                "My KX-5 ice maker stops with alarm E12",
            ):
                frame.locator("#input").fill(text)
                frame.locator("#input").press("Enter")
            bot_line = frame.locator(".msg-bot .bubble", has_text="Clean the condenser")
            expect(bot_line).to_be_visible()
            expect(frame.locator(".quick-reply", has_text="Not solved")).to_be_visible()
            chat.wait_for_timeout(300)
            assert chat.evaluate(NEWEST_IN_VIEW), "the newest message is hidden in the widget"
            # the panel itself fits the phone's screen
            box = page.locator("#aftersales-chat-panel").bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    finally:
        context.close()


# --- what the customer sees: the page follows the visitor's language and script -------------


@pytest.mark.parametrize("locale", ["zh-TW", "zh-HK"])
def test_a_traditional_chinese_browser_gets_a_traditional_page(
    browser: Browser, chat_service: Service, locale: str
) -> None:
    context = browser.new_context(locale=locale)
    context.set_default_timeout(WAIT_MS)
    try:
        page = open_chat(context, chat_service)
        expect(page.locator("#send")).to_have_text("發送")
        expect(page.locator("#connection")).to_have_text("在線")
        expect(page.locator("#title")).to_have_text("售後服務線上客服")
        expect(page.locator(".msg-welcome .bubble")).to_contain_text("請描述設備")
        assert page.evaluate("document.documentElement.lang") == "zh-Hant"
        expect(page.locator("#lang-toggle")).to_have_text("English")
        page.locator("#lang-toggle").click()
        expect(page.locator("#send")).to_have_text("Send")
        expect(page.locator("#lang-toggle")).to_have_text("繁體中文")  # back to its own script
        page.locator("#lang-toggle").click()
        expect(page.locator("#send")).to_have_text("發送")
    finally:
        context.close()


def test_an_english_browser_gets_an_english_page_and_widget(
    context: BrowserContext, chat_service: Service
) -> None:
    page = open_chat(context, chat_service)
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator("#title")).to_have_text("After-sales service chat")
    expect(page.locator("#lang-toggle")).to_have_text("中文")


def test_the_widget_follows_a_traditional_chinese_browser(
    browser: Browser, chat_service: Service
) -> None:
    shop = shop_site(chat_service.url, "製冰機")
    context = browser.new_context(locale="zh-HK")
    context.set_default_timeout(WAIT_MS)
    try:
        with running_server(shop) as shop_url:
            page = context.new_page()
            page.goto(shop_url.replace("127.0.0.1", "localhost"))
            button = page.locator("#aftersales-chat-button")
            expect(button).to_have_text("線上客服")
            button.click()
            expect(button).to_have_text("關閉")
            chat = page.frame_locator("#aftersales-chat-panel iframe")
            expect(chat.locator("#send")).to_have_text("發送")
    finally:
        context.close()


# --- what the customer sees: an agent's reply, and the bot coming back ------------------------


def _agent(service: Service, name: str) -> httpx.Client:
    """A client of the agent API under a new key named `name` (the name replies go under)."""
    made = service.admin.post("/v1/apikeys", json={"name": name, "scopes": ["agents"]})
    assert made.status_code == 201, made.text
    headers = {"Authorization": f"Bearer {made.json()['key']}"}
    return httpx.Client(base_url=service.url, headers=headers, timeout=60)


def _background(locator) -> str:  # noqa: ANN001 - a Playwright locator
    return locator.evaluate("node => getComputedStyle(node).backgroundColor")


def test_an_agents_reply_shows_as_theirs_and_the_customer_is_told_when_the_bot_is_back(
    context: BrowserContext, chat_service: Service
) -> None:
    page = open_chat(context, chat_service)
    say(page, "talk to a person")
    ticket = page.locator(".ticket")
    expect(ticket).to_have_count(1)
    ticket_id = ticket.get_attribute("data-ticket-id")
    stored = chat_service.admin.get(f"/v1/tickets/{ticket_id}").json()
    conversation_id = stored["conversation_id"]
    name = "Alice <b>Wang</b>"  # a key name that looks like HTML stays text
    words = "Hello, this is Alice. I am checking your ice maker now."

    with _agent(chat_service, name) as alice:
        replied = alice.post(
            f"/v1/agent/conversations/{conversation_id}/reply", json={"text": words}
        )
        assert replied.status_code == 200 and replied.json()["delivered"] is True, replied.text

        def agent_line_is_shown() -> None:
            line = page.locator(".msg-agent")
            expect(line).to_have_count(1)
            expect(line.locator(".author")).to_have_text(name)
            expect(line.locator(".words")).to_have_text(words)
            assert page.locator("#messages b").count() == 0
            assert page.locator(".msg-notice", has_text=words).count() == 0
            bot_bubble = page.locator(".msg-bot .bubble").last
            assert _background(line.locator(".bubble")) != _background(bot_bubble)

        agent_line_is_shown()  # live, without a reload
        page.reload()
        expect(page.locator("#connection")).to_have_attribute("data-state", "online")
        agent_line_is_shown()  # the same from the stored history

        back = alice.post(f"/v1/agent/conversations/{conversation_id}/handback")
        assert back.status_code == 200 and back.json()["status"] == "open", back.text

    notice = page.locator(".msg-notice .bubble", has_text="the assistant is back")
    expect(notice).to_be_visible()
    assert_newest_in_view(page)
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    expect(notice).to_be_visible()
    expect(page.locator(".msg-agent .author")).to_have_text(name)
    say(page, "How long is the warranty on the ice maker?")  # the bot answers again
    bot_says(page, "Two years on the whole unit")
