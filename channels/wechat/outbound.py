"""WeChat's HTTP API as the outbound channel: answers that missed the 5-second passive-reply
window and ticket status updates go out as customer-service messages
(`POST /cgi-bin/message/custom/send`), authorised by an access token that is cached until it
expires and fetched again when WeChat says it is invalid or expired.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from core.channels import OutboundError, split_text
from core.messages import Button

CHANNEL = "wechat"
# errcodes meaning "this access token is no good any more": invalid, expired, not the latest.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# Fetch a new token this long before WeChat's `expires_in` runs out.
EXPIRY_MARGIN_SECONDS = 300
# WeChat's limit for one text message is 2048 bytes; keep a margin.
MAX_TEXT_BYTES = 2000


def utf8_size(text: str) -> int:
    return len(text.encode())


@dataclass
class _Token:
    value: str
    expires_at: float


class WeChatOutbound:
    """The Official Account's API client; one per process, safe to share between requests."""

    name = CHANNEL

    def __init__(
        self, *, app_id: str, app_secret: str, api_url: str, timeout: float = 10.0
    ) -> None:
        self.app_id = app_id
        self._secret = app_secret
        self._client = httpx.AsyncClient(base_url=api_url.rstrip("/"), timeout=timeout)
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send_text(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None = None
    ) -> None:
        """Customer-service text message(s) to the follower `recipient_id` (an OpenID).
        WeChat text messages have no buttons; the bot's own words ask what they would."""
        for piece in split_text(text, MAX_TEXT_BYTES, size=utf8_size):
            body = {"touser": recipient_id, "msgtype": "text", "text": {"content": piece}}
            await self._call("/cgi-bin/message/custom/send", recipient_id, body)

    async def get_media(self, media_id: str, sender_id: str) -> tuple[bytes, str | None]:
        """A file the customer sent (`GET /cgi-bin/media/get`: kept by WeChat for 3 days, so
        fetched when the message comes), and its content type as WeChat declares it."""
        for attempt in (1, 2):
            token = await self._access_token(sender_id, force=attempt == 2)
            params = {"access_token": token, "media_id": media_id}
            try:
                response = await self._client.get("/cgi-bin/media/get", params=params)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise OutboundError(CHANNEL, sender_id, f"media/get: {exc!r}") from exc
            declared = response.headers.get("content-type", "").split(";")[0].strip() or None
            if declared not in ("application/json", "text/plain"):
                return response.content, declared
            result = response.json()  # an error: WeChat answers JSON instead of the file
            errcode = int(result.get("errcode") or 0)
            if errcode not in TOKEN_ERRCODES or attempt == 2:
                raise OutboundError(CHANNEL, sender_id, f"media/get errcode {errcode}")
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _call(self, path: str, recipient_id: str, body: dict) -> dict:
        """POST with the access token; a stale token is replaced once and the call repeated."""
        for attempt in (1, 2):
            token = await self._access_token(recipient_id, force=attempt == 2)
            result = await self._post(path, recipient_id, token, body)
            errcode = int(result.get("errcode") or 0)
            if errcode == 0:
                return result
            if errcode not in TOKEN_ERRCODES or attempt == 2:
                raise OutboundError(
                    CHANNEL, recipient_id, f"errcode {errcode}: {result.get('errmsg', '')}"
                )
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _post(self, path: str, recipient_id: str, token: str, body: dict) -> dict:
        try:
            response = await self._client.post(path, params={"access_token": token}, json=body)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OutboundError(CHANNEL, recipient_id, f"{path}: {exc!r}") from exc

    async def _access_token(self, recipient_id: str, *, force: bool = False) -> str:
        async with self._token_lock:
            stale = self._token
            if stale is not None and not force and time.monotonic() < stale.expires_at:
                return stale.value
            self._token = await self._fetch_token(recipient_id)
            return self._token.value

    async def _fetch_token(self, recipient_id: str) -> _Token:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
        try:
            response = await self._client.get("/cgi-bin/token", params=params)
            response.raise_for_status()
            result = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OutboundError(CHANNEL, recipient_id, f"access token: {exc!r}") from exc
        if not result.get("access_token"):
            raise OutboundError(
                CHANNEL,
                recipient_id,
                f"access token refused: errcode {result.get('errcode')}: {result.get('errmsg')}",
            )
        lifetime = float(result.get("expires_in") or 7200)
        expires_at = time.monotonic() + max(lifetime - EXPIRY_MARGIN_SECONDS, lifetime / 2)
        return _Token(value=str(result["access_token"]), expires_at=expires_at)
