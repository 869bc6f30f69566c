"""WeChat's side of the server URL, built per WeChat's documentation: signed requests
(`signature` = SHA1 of the sorted token, timestamp and nonce), message XML, and safe mode
(`encrypt_type=aes`, the message AES-encrypted and signed in `msg_signature`, made with
wechatpy's crypto as WeChat's servers would)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from xml.etree import ElementTree

import httpx
from wechatpy.crypto import WeChatCrypto

OFFICIAL_ACCOUNT = "gh_0123456789ab"


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def message_xml(openid: str, msg_type: str, msg_id: int | None = None, **fields: str) -> str:
    """A message or event as WeChat pushes it (`fields` become elements, e.g. Content)."""
    elements = "".join(f"<{name}><![CDATA[{value}]]></{name}>" for name, value in fields.items())
    msg_id_element = f"<MsgId>{msg_id}</MsgId>" if msg_id is not None else ""
    return (
        f"<xml><ToUserName><![CDATA[{OFFICIAL_ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{elements}{msg_id_element}</xml>"
    )


def fields_of(xml: str) -> dict[str, str]:
    root = ElementTree.fromstring(xml)
    return {child.tag: child.text or "" for child in root}


@dataclass
class WeChatServers:
    """Sends what WeChat sends to `/channels/wechat` and reads the passive replies."""

    client: httpx.Client
    token: str
    app_id: str
    aes_key: str

    @property
    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.aes_key, self.app_id)

    def signed_query(self, token: str | None = None) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        return {
            "timestamp": timestamp,
            "nonce": nonce,
            "signature": sign(token or self.token, timestamp, nonce),
        }

    def post(self, xml: str | bytes, *, safe: bool = False, **query: str) -> httpx.Response:
        params = self.signed_query() | {"openid": "o-any"}
        body = xml.encode() if isinstance(xml, str) else xml
        if safe:
            sealed = self.crypto.encrypt_message(
                body.decode(), params["nonce"], params["timestamp"]
            )
            envelope = fields_of(sealed)
            params |= {"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
            # WeChat's safe-mode body: the account and the ciphertext only.
            body = (
                f"<xml><ToUserName><![CDATA[{OFFICIAL_ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
            ).encode()
        params |= query
        return self.client.post(
            "/channels/wechat", params=params, content=body, headers={"Content-Type": "text/xml"}
        )

    def reply(self, response: httpx.Response, *, safe: bool = False) -> dict[str, str]:
        """The passive reply's fields, decrypted (and its signature checked) in safe mode."""
        assert response.status_code == 200, response.text
        xml = response.text
        if safe:
            envelope = fields_of(xml)
            xml = self.crypto.decrypt_message(
                xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
            )
        return fields_of(xml)

    def say(self, openid: str, text: str, msg_id: int, *, safe: bool = False) -> str:
        """A text message; the Content of the passive reply."""
        response = self.post(message_xml(openid, "text", msg_id, Content=text), safe=safe)
        return self.reply(response, safe=safe)["Content"]
