"""A real webhook backend on loopback (stdlib http.server in a thread) for delivery tests.

It can answer 2xx, answer any other status, hold requests unanswered, or be down altogether
(nothing listening: connection refused), and records every request it got.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from intake_api.deliveries.signing import SIGNATURE_HEADER, verify_signature
from tests.support.postgres import free_port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 refuses connections under concurrent deliveries


@dataclass
class Received:
    """One request as the backend saw it, and the status it answered."""

    body: bytes
    headers: dict[str, str]
    status: int
    at: float = field(default_factory=time.time)

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        return verify_signature(self.body, secret, self.headers.get(SIGNATURE_HEADER))


class Receiver:
    """The backend: `answer` sets the status to reply with ("hold" keeps requests waiting)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/aftersales"
        self.answer: int | str = 200
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    def up(self) -> None:
        """Start listening (again) on the same port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = receiver.answer
                if answer == "hold":
                    receiver._record(body, dict(self.headers), 0)
                    receiver._released.wait()
                    return
                receiver._record(body, dict(self.headers), int(answer))
                self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections are refused until `up` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release_held(self) -> None:
        """Let held requests go (they end without an answer: the client sees an error)."""
        self._released.set()

    def _record(self, body: bytes, headers: dict[str, str], status: int) -> None:
        with self._lock:
            self.requests.append(Received(body, headers, status))

    def accepted(self) -> list[Received]:
        """Requests answered with 2xx, in the order they arrived."""
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def accepted_ids(self) -> list[str]:
        return [r.json["event_id"] for r in self.accepted()]


@contextmanager
def receiver_running(answer: int | str = 200) -> Iterator[Receiver]:
    """A backend that is up for the block (tests may take it down and up inside)."""
    receiver = Receiver()
    receiver.answer = answer
    receiver.up()
    try:
        yield receiver
    finally:
        receiver.release_held()
        receiver.down()


def first_arrival_order(received: list[Received]) -> dict[str, list[str]]:
    """Per ticket, event ids in the order each first arrived (re-deliveries ignored)."""
    order: dict[str, list[str]] = {}
    seen: set[str] = set()
    for request in received:
        payload = request.json
        if payload["event_id"] not in seen:
            seen.add(payload["event_id"])
            order.setdefault(str(payload["ticket"]["id"]), []).append(payload["event_id"])
    return order
