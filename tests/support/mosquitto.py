"""A throwaway `mosquitto` broker (Debian package mosquitto) on a free loopback port.

Persistence is on, in a directory of its own, so a persistent session's QoS 1 messages survive
while its subscriber is gone (what the kill -9 test relies on), and off disk at the end.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.postgres import free_port
from tests.support.redis import serving

SBIN = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def _binary() -> str:
    found = shutil.which("mosquitto") or next((p for p in SBIN if Path(p).exists()), None)
    if found is None:
        raise RuntimeError("mosquitto is not installed: `apt-get install mosquitto`")
    return found


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def running_mosquitto() -> Iterator[str]:
    """Start mosquitto for the block; yields its `mqtt://` URL."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="aftersales-mosquitto-"))
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence true\n"
        f"persistence_location {workdir}/\n"
        "max_queued_messages 100000\n"
        "log_dest none\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [_binary(), "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    with serving(process, lambda: _listening(port), f"mosquitto on port {port}", workdir):
        yield f"mqtt://127.0.0.1:{port}"
