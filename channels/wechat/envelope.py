"""The WeChat server-URL envelope: signatures, safe (AES) mode, and XML that is read safely.

Every request must carry WeChat's signature of our token; message XML is size-limited, refused
when it has a DOCTYPE or entities (no XXE, no entity expansion) and only then handed to wechatpy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.utils import check_signature

from core.errors import Forbidden, ServiceError

MAX_XML_BYTES = 64 * 1024


class BadMessage(ServiceError):
    """The request body is not message XML WeChat would send."""


@dataclass(frozen=True)
class WeChatConfig:
    """The Official Account's server settings (`AFTERSALES_WECHAT_*`)."""

    token: str
    app_id: str | None = None
    aes_key: str | None = None


@dataclass(frozen=True)
class Signed:
    """The query WeChat signs every request with."""

    signature: str | None
    timestamp: str | None
    nonce: str | None
    msg_signature: str | None = None
    encrypt_type: str | None = None

    @property
    def safe_mode(self) -> bool:
        return (self.encrypt_type or "").lower() == "aes"


def verify_signature(config: WeChatConfig, signed: Signed) -> None:
    """403 unless `signature` is WeChat's signature of our token, `timestamp` and `nonce`."""
    if not (signed.signature and signed.timestamp and signed.nonce):
        raise Forbidden("missing WeChat signature, timestamp or nonce")
    try:
        check_signature(config.token, signed.signature, signed.timestamp, signed.nonce)
    except InvalidSignatureException as exc:
        raise Forbidden("WeChat signature does not match the configured token") from exc


def checked_xml(body: bytes) -> str:
    """`body` as text once it is well-formed XML without DOCTYPE or entities (400 otherwise)."""
    try:
        fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise BadMessage("XML with a DOCTYPE or entities is refused") from exc
    except ParseError as exc:
        raise BadMessage(f"malformed XML: {exc}") from exc
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage("message XML must be UTF-8") from exc


def _crypto(config: WeChatConfig) -> WeChatCrypto:
    if not (config.aes_key and config.app_id):
        raise BadMessage(
            "safe-mode message received but AFTERSALES_WECHAT_AES_KEY and "
            "AFTERSALES_WECHAT_APP_ID are not both set"
        )
    return WeChatCrypto(config.token, config.aes_key, config.app_id)


def open_message(config: WeChatConfig, signed: Signed, body: bytes) -> BaseMessage:
    """The message in a POST body: signature checked, decrypted in safe mode, parsed."""
    verify_signature(config, signed)
    xml = checked_xml(body)
    if signed.safe_mode:
        if not signed.msg_signature:
            raise Forbidden("safe-mode message without msg_signature")
        try:
            decrypted = _crypto(config).decrypt_message(
                xml, signed.msg_signature, signed.timestamp, signed.nonce
            )
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise Forbidden("msg_signature or app id of the encrypted message is wrong") from exc
        except Exception as exc:  # base64, padding, length: whatever garbage `Encrypt` holds
            raise BadMessage(f"cannot decrypt the message: {exc!r}") from exc
        xml = checked_xml(decrypted.encode("utf-8") if isinstance(decrypted, str) else decrypted)
    try:
        return parse_message(xml)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"not a WeChat message: {exc!r}") from exc


def seal_reply(config: WeChatConfig, signed: Signed, reply_xml: str) -> str:
    """The passive reply as WeChat expects it back: encrypted when the message was."""
    if not signed.safe_mode:
        return reply_xml
    return _crypto(config).encrypt_message(reply_xml, signed.nonce, str(int(time.time())))
