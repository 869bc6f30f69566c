"""Headless Debian Chromium for the agent pages: one browser per test module, and a record of
every host a page asked for (the pages must load nothing from another host)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

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


def record_hosts(page: Page) -> list[str]:
    """Every `scheme://host:port` the page requests from now on (data: and blob: excluded)."""
    hosts: list[str] = []

    def seen(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss"):
            hosts.append(f"{parts.scheme}://{parts.netloc}")

    page.on("request", lambda request: seen(request.url))
    page.on("websocket", lambda socket: seen(socket.url))
    return hosts


def foreign(hosts: list[str], base: str) -> set[str]:
    """The hosts that are not the service's own."""
    own = urlsplit(base).netloc
    return {host for host in hosts if urlsplit(host).netloc != own}
