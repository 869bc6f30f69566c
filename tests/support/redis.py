"""A throwaway `redis-server` (Debian package redis-server) on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.postgres import free_port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running_redis() -> Iterator[str]:
    """Start redis-server without persistence; yields its `redis://` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: `apt-get install redis-server`")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="aftersales-redis-"))
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with serving(process, lambda: _answers_ping(port), f"redis-server on port {port}", workdir):
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def serving(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], name: str, workdir: Path
) -> Iterator[None]:
    """Wait (15 s at most) until a started server answers, hold it for the block, then stop it
    and remove its working folder."""
    try:
        deadline = time.monotonic() + 15
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start")
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
