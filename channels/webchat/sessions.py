"""Anonymous web chat sessions: an id the browser keeps, in a token the server signs, so that no
one reads or writes another visitor's conversation by guessing its id. No API key is involved."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from core.errors import Unauthorized
from core.settings import Settings

SESSION_PREFIX = "wc_"
SECRET_FILE = "webchat.secret"
MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class ChatSession:
    """A browser's session: `session_id` is the conversation's sender id, `token` proves it."""

    session_id: str
    token: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SessionSigner:
    """Issues session tokens (`<session id>.<HMAC-SHA256>`) and checks them."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def new(self) -> ChatSession:
        session_id = SESSION_PREFIX + secrets.token_urlsafe(18)
        return ChatSession(session_id, self.token_of(session_id))

    def token_of(self, session_id: str) -> str:
        signature = hmac.new(self._secret, session_id.encode(), hashlib.sha256).digest()
        return f"{session_id}.{_b64(signature)}"

    def verify(self, token: str) -> ChatSession:
        """The session `token` stands for; 401 when it is malformed or not signed by us."""
        session_id, _, _ = token.partition(".")
        well_formed = len(token) <= MAX_TOKEN_CHARS and session_id.startswith(SESSION_PREFIX)
        if not well_formed or not hmac.compare_digest(token, self.token_of(session_id)):
            raise Unauthorized("invalid web chat session token; start a new session")
        return ChatSession(session_id, token)


def load_secret(settings: Settings) -> bytes:
    """`AFTERSALES_WEBCHAT_SECRET`, else a random secret kept in the data dir, so sessions
    survive restarts (several workers share it through the data dir)."""
    if settings.webchat_secret:
        return settings.webchat_secret.encode()
    path = Path(settings.data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # atomic: a worker that lost the race reads the winner's
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip().encode()
