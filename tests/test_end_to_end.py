"""One test across every layer: a WeChat Official Account message, signed and AES-encrypted as
WeChat's servers send it, goes to the real service on loopback → the WeChat channel (signature,
decryption) → the core message → the bot (NLU, dialogue) → a ticket (triage, SLA) → the ticket
events → the outbox → a signed delivery POSTed to a backend on loopback.

Each layer has tests of its own; this one exists to catch what they cannot: a break in the seams
between them (a renamed module, a field lost between the channel and the ticket, an event that
no longer reaches the outbox). So it drives the service only from the outside: the documented
`AFTERSALES_*` settings, `POST /channels/wechat` as WeChat calls it, `GET /v1/tickets` with the
admin key, and what the backend receives. It runs once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from intake_api.app import create_app
from tests.channels.standins import WeChatApiStandIn
from tests.channels.wechat_platform import OFFICIAL_ACCOUNT, WeChatServers, message_xml
from tests.support.postgres import free_port
from tests.support.server import running_server

ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
WEBHOOK_SECRET = "e2e-webhook-secret"
WECHAT_TOKEN = "e2e-wechat-token"
WECHAT_APP_ID = "wx00e2e0000000000f"
WECHAT_SECRET = "e2e-wechat-app-secret"
CUSTOMER = "o-e2e-customer"
FORGER = "o-e2e-forger"
# Asks for a person, with what is wrong: the bot hands over and opens a ticket in one turn.
ASK_FOR_A_PERSON = "转人工，我们的洗碗机一直漏水，修过一次还是不行"
DELIVERY_WAIT_SECONDS = 15.0


def new_aes_key() -> str:
    """An EncodingAESKey as the WeChat console makes it: 43 characters of base64."""
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


@dataclass(frozen=True)
class Delivery:
    """One POST as the backend received it."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def signature_verifies(self, secret: str) -> bool:
        """The check a backend makes: `sha256=<hex HMAC-SHA256 of the raw body>`."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-aftersales-signature", ""))


class Backend:
    """The customer's backend: a plain HTTP server on loopback recording every POST."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/aftersales"
        self._received: list[Delivery] = []
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with backend._lock:
                    backend._received.append(Delivery(self.path, headers, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self._received)

    def first_for(self, ticket_id: str, within: float) -> Delivery:
        """The first delivery about `ticket_id`; fails the test if none comes in time."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for delivery in self.received():
                if delivery.json.get("ticket", {}).get("id") == ticket_id:
                    return delivery
            time.sleep(0.05)
        got = [(d.json.get("event"), d.json.get("ticket", {}).get("id")) for d in self.received()]
        pytest.fail(f"no delivery about {ticket_id} within {within:.0f} s; got {got}")

    def __enter__(self) -> Backend:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def backend() -> Iterator[Backend]:
    with Backend() as running:
        yield running


@pytest.fixture
def wechat_api() -> Iterator[tuple[str, WeChatApiStandIn]]:
    """WeChat's API on loopback, so that nothing the service sends leaves the machine."""
    standin = WeChatApiStandIn(WECHAT_APP_ID, WECHAT_SECRET)
    with running_server(standin.app) as url:
        yield url, standin


@pytest.fixture
def service_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    backend: Backend,
    wechat_api: tuple[str, WeChatApiStandIn],
) -> dict[str, str]:
    """The service's configuration as an operator writes it: `AFTERSALES_*` variables only."""
    monkeypatch.chdir(tmp_path)  # no `.env` of the checkout is read
    for name in [n for n in os.environ if n.startswith("AFTERSALES_")]:
        monkeypatch.delenv(name)
    env = {
        "AFTERSALES_DATA_DIR": str(tmp_path / "data"),
        "AFTERSALES_DATABASE_URL": database_url,
        "AFTERSALES_ADMIN_KEY": ADMIN_KEY,
        "AFTERSALES_WEBHOOK_URL": backend.url,
        "AFTERSALES_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "AFTERSALES_WECHAT_TOKEN": WECHAT_TOKEN,
        "AFTERSALES_WECHAT_APP_ID": WECHAT_APP_ID,
        "AFTERSALES_WECHAT_APP_SECRET": WECHAT_SECRET,
        "AFTERSALES_WECHAT_AES_KEY": new_aes_key(),
        "AFTERSALES_WECHAT_API_URL": wechat_api[0],
        "AFTERSALES_LOG_LEVEL": "WARNING",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def service_url(service_env: dict[str, str]) -> Iterator[str]:
    """The whole service from the environment alone (bundled demo KB: the default)."""
    with running_server(create_app(Settings())) as url:
        yield url


def tickets_of(admin: httpx.Client, sender_id: str) -> list[dict]:
    listed = admin.get("/v1/tickets", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    return [t for t in items if t["channel"] == "wechat" and t["sender_id"] == sender_id]


def test_signed_wechat_message_becomes_a_ticket_delivered_signed_to_the_backend(
    service_url: str,
    service_env: dict[str, str],
    backend: Backend,
    wechat_api: tuple[str, WeChatApiStandIn],
) -> None:
    with (
        httpx.Client(base_url=service_url, timeout=30) as anonymous,
        httpx.Client(
            base_url=service_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        ) as admin,
    ):
        wechat = WeChatServers(
            anonymous, WECHAT_TOKEN, WECHAT_APP_ID, service_env["AFTERSALES_WECHAT_AES_KEY"]
        )

        # Forged requests: `signature` made with another token, or a safe-mode message (right
        # `signature`) whose `msg_signature` is wrong. Refused (4xx), and nothing comes of them.
        forged = message_xml(FORGER, "text", 24_100_000_000_000_001, Content=ASK_FOR_A_PERSON)
        wrong_token = wechat.post(forged, **wechat.signed_query(token="not-ours"))
        assert 400 <= wrong_token.status_code < 500, wrong_token.text
        wrong_msg_signature = wechat.post(forged, safe=True, msg_signature="0" * 40)
        assert 400 <= wrong_msg_signature.status_code < 500, wrong_msg_signature.text

        # The customer's message, in safe mode as WeChat sends it.
        msg_id = 24_100_000_000_000_002
        started = time.monotonic()
        response = wechat.post(
            message_xml(CUSTOMER, "text", msg_id, Content=ASK_FOR_A_PERSON), safe=True
        )
        assert response.status_code == 200, response.text
        assert response.text != "success", (
            f"the answer missed WeChat's passive-reply window ({time.monotonic() - started:.1f}"
            f" s) and went out via the API instead: {wechat_api[1].texts_to(CUSTOMER)}"
        )
        # Encrypted: the raw reply is WeChat's envelope, not the text.
        assert "<Encrypt>" in response.text and "<MsgSignature>" in response.text
        assert "<Content>" not in response.text
        reply = wechat.reply(response, safe=True)  # checks MsgSignature, decrypts
        assert reply["ToUserName"] == CUSTOMER
        assert reply["FromUserName"] == OFFICIAL_ACCOUNT
        assert reply["MsgType"] == "text"

        # The ticket the bot opened for this follower, named in the reply.
        mine = tickets_of(admin, CUSTOMER)
        assert len(mine) == 1, mine
        ticket_id = mine[0]["id"]
        assert ticket_id in reply["Content"], reply["Content"]

        # The backend gets it, signed with the shared secret.
        delivery = backend.first_for(ticket_id, within=DELIVERY_WAIT_SECONDS)
        assert delivery.path == "/hooks/aftersales"
        assert delivery.signature_verifies(WEBHOOK_SECRET), delivery.headers
        assert not delivery.signature_verifies("some-other-secret")
        assert delivery.headers["content-type"].startswith("application/json")
        payload = delivery.json
        assert set(payload) >= {"event_id", "event", "ticket"}
        assert isinstance(payload["event_id"], str) and payload["event_id"]
        assert isinstance(payload["event"], str) and "created" in payload["event"]
        delivered = payload["ticket"]
        assert delivered["channel"] == "wechat"
        assert delivered["sender_id"] == CUSTOMER
        assert "洗碗机一直漏水" in f"{delivered['subject']} {delivered.get('description')}"

        # The API shows the same ticket.
        fetched = admin.get(f"/v1/tickets/{ticket_id}")
        assert fetched.status_code == 200, fetched.text
        ticket = fetched.json()
        assert ticket["channel"] == "wechat"
        assert ticket["sender_id"] == CUSTOMER
        for field in ("id", "subject", "category", "priority", "sla_due_at"):
            assert ticket[field] == delivered[field], field
        assert ticket["priority"] in {"P1", "P2", "P3", "P4"}

        # The forged requests made nothing: no ticket, no delivery of anything else.
        assert tickets_of(admin, FORGER) == []
        all_tickets = admin.get("/v1/tickets", params={"limit": 100}).json()["items"]
        assert [t["id"] for t in all_tickets] == [ticket_id]
        assert {d.json["ticket"]["id"] for d in backend.received()} == {ticket_id}
        assert all(d.signature_verifies(WEBHOOK_SECRET) for d in backend.received())
