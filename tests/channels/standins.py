"""Local stand-ins of the platforms' HTTP APIs, as documented, recording what the service sends.

- WeChat: `GET /cgi-bin/token` and `POST /cgi-bin/message/custom/send` (errcode 40001 for a
  token it did not issue or has revoked).
- Telegram Bot API: `/bot<token>/getMe`, `sendMessage`, `answerCallbackQuery`, `setWebhook`,
  `deleteWebhook`, `getWebhookInfo`, `getUpdates` (parameters as JSON or form fields, answers
  `{"ok", "result"}`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


@dataclass
class Recorder:
    """Calls received, readable from the test thread while the server runs in another."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, params: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append((method, params))

    def of(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [params for name, params in self.calls if name == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The first `count` calls of `method`, waiting for them to arrive (the service sends
        some in the background); fails the test if they do not come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s), got {self.of(method)}")


class WeChatApiStandIn:
    """WeChat's access-token and customer-service message endpoints."""

    def __init__(self, app_id: str, secret: str) -> None:
        self.app_id, self.secret = app_id, secret
        self.recorder = Recorder()
        self.valid_tokens: set[str] = set()
        self._numbers = itertools.count(1)
        self.app = FastAPI()
        self.app.get("/cgi-bin/token")(self.token)
        self.app.post("/cgi-bin/message/custom/send")(self.custom_send)
        self.app.get("/cgi-bin/media/get")(self.media_get)
        self.media: dict[str, tuple[bytes, str]] = {}  # MediaId -> (bytes, content type)

    def expire_tokens(self) -> None:
        """The tokens issued so far expire: using one gets errcode 42001."""
        self.valid_tokens.clear()

    async def token(self, grant_type: str = "", appid: str = "", secret: str = "") -> dict:
        self.recorder.add("token", {"appid": appid})
        if grant_type != "client_credential" or appid != self.app_id or secret != self.secret:
            return {"errcode": 40013, "errmsg": "invalid appid or secret"}
        token = f"token-{next(self._numbers)}"
        self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    async def custom_send(self, request: Request, access_token: str = "") -> dict:
        if access_token not in self.valid_tokens:
            self.recorder.add("rejected", {"access_token": access_token})
            return {"errcode": 42001, "errmsg": "access_token expired"}
        body = await request.json()
        self.recorder.add("custom_send", body)
        return {"errcode": 0, "errmsg": "ok"}

    def texts_to(self, openid: str) -> list[str]:
        return [
            c["text"]["content"] for c in self.recorder.of("custom_send") if c["touser"] == openid
        ]

    async def media_get(self, access_token: str = "", media_id: str = "") -> Response:
        """The temporary media API: the file, or JSON errcode 40007 for an unknown (or past its
        3 days) MediaId."""
        self.recorder.add("media_get", {"media_id": media_id})
        if access_token not in self.valid_tokens:
            return JSONResponse({"errcode": 42001, "errmsg": "access_token expired"})
        if media_id not in self.media:
            return JSONResponse({"errcode": 40007, "errmsg": "invalid media_id"})
        data, content_type = self.media[media_id]
        disposition = f'attachment; filename="{media_id}"'
        return Response(data, media_type=content_type, headers={"Content-disposition": disposition})


class BotApiStandIn:
    """The Bot API methods the service calls, for one bot token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.recorder = Recorder()
        self.pending_updates: list[dict[str, Any]] = []
        self.webhook_url = ""
        self._message_ids = itertools.count(1000)
        self.app = FastAPI()
        self.app.post("/bot{token}/{method}")(self.call)
        self.app.get("/bot{token}/{method}")(self.call)
        self.app.get("/file/bot{token}/{file_path:path}")(self.download)
        self.files: dict[str, bytes] = {}  # file_id -> bytes (getFile and the download path)

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            return await request.json()
        form = await request.form()
        params: dict[str, Any] = {}
        for key, value in form.items():
            try:
                params[key] = json.loads(str(value))
            except ValueError:
                params[key] = str(value)
        return params

    async def call(self, token: str, method: str, request: Request) -> JSONResponse:
        if token != self.token:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
            )
        params = await self._params(request)
        self.recorder.add(method, params)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return JSONResponse({"ok": True, "result": await handler(params)})

    async def _getMe(self, params: dict) -> dict:  # noqa: N802 (Bot API method name)
        return {"id": 4242, "is_bot": True, "first_name": "Service", "username": "service_bot"}

    async def _sendMessage(self, params: dict) -> dict:  # noqa: N802
        chat_id = int(params["chat_id"])
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "text": params["text"],
        }

    async def _getFile(self, params: dict) -> dict:  # noqa: N802
        file_id = str(params["file_id"])
        found = {"file_id": file_id, "file_unique_id": f"u-{file_id}"}
        if file_id in self.files:
            found |= {"file_size": len(self.files[file_id]), "file_path": f"media/{file_id}"}
        return found

    async def download(self, token: str, file_path: str) -> Response:
        """`GET /file/bot<token>/<file_path>`: the bytes of a file getFile named."""
        data = self.files.get(file_path.removeprefix("media/"))
        if token != self.token or data is None:
            return Response(status_code=404)
        return Response(data, media_type="application/octet-stream")

    async def _answerCallbackQuery(self, params: dict) -> bool:  # noqa: N802
        return True

    async def _setWebhook(self, params: dict) -> bool:  # noqa: N802
        self.webhook_url = str(params["url"])
        return True

    async def _deleteWebhook(self, params: dict) -> bool:  # noqa: N802
        self.webhook_url = ""
        return True

    async def _getWebhookInfo(self, params: dict) -> dict:  # noqa: N802
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending_updates),
        }

    async def _getUpdates(self, params: dict) -> list[dict]:  # noqa: N802
        """Updates from `offset` on; waits a little when there are none, as long polling."""
        offset = int(params.get("offset") or 0)
        for _ in range(25):
            updates = [u for u in self.pending_updates if u["update_id"] >= offset]
            if updates:
                return updates
            await asyncio.sleep(0.02)
        return []

    def texts_to(self, chat_id: int) -> list[str]:
        return [c["text"] for c in self.recorder.of("sendMessage") if int(c["chat_id"]) == chat_id]
