"""Headless Debian Chromium for the agent pages: one browser per test module, and a record of
every host a page asked for (the pages must load nothing from another host)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

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
WAIT_MS = 30_000
NETWORK = ("http", "https", "ws", "wss")


@contextmanager
def chromium() -> Iterator[Browser]:
    """The machine's Chromium (no browser download)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def hosts_of(url: str) -> list[str]:
    """`[scheme://host:port]` of a network URL; `[]` for data:, blob: and the like."""
    parts = urlsplit(url)
    return [f"{parts.scheme}://{parts.netloc}"] if parts.scheme in NETWORK else []


def record_hosts(page: Page) -> list[str]:
    """Every `scheme://host:port` the page requests from now on."""
    hosts: list[str] = []
    page.on("request", lambda request: hosts.extend(hosts_of(request.url)))
    page.on("websocket", lambda socket: hosts.extend(hosts_of(socket.url)))
    return hosts


def foreign(hosts: list[str], base: str) -> set[str]:
    """The hosts that are not the service's own."""
    own = urlsplit(base).netloc
    return {host for host in hosts if urlsplit(host).netloc != own}


def create_agent(admin: httpx.Client, password: str, username: str = "carol") -> None:
    """A named agent account (role `agent`) made through the API by the admin."""
    made = admin.post(
        "/v1/agent/accounts",
        json={
            "username": username,
            "display_name": "Carol Wu",
            "role": "agent",
            "password": password,
        },
    )
    assert made.status_code == 201, made.text


def sign_in(page: Page, base: str, password: str, username: str = "carol") -> None:
    """Open the workspace and sign in on its form."""
    page.goto(f"{base}/agent")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in button[type=submit]")
