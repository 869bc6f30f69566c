"""A throwaway PostgreSQL server for the test run, from Debian's packages.

Set AFTERSALES_TEST_POSTGRES_URL to use a server that is already running instead.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import asyncpg


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL is not installed: run `make system-deps` (Debian package postgresql)"
        )
    return Path(candidates[-1]).parent


class PostgresServer:
    """initdb + pg_ctl in a temp dir; as root the server runs as the `postgres` user."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="aftersales-pg-"))
        self.port = free_port()
        self.user = "aftersales"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)

    def start(self) -> None:
        data = self.root / "data"
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            self.bin / "initdb",
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            self.user,
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            self.bin / "pg_ctl", "-D", data, "-o", options, "-l", self.root / "log", "-w", "start"
        )

    def stop(self) -> None:
        try:
            self._run(
                self.bin / "pg_ctl", "-D", self.root / "data", "-m", "immediate", "-w", "stop"
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"


def create_database(admin_url: str) -> str:
    """Create a fresh database and return its asyncpg URL (callable inside or outside a loop)."""
    name = "t_" + uuid.uuid4().hex[:12]

    async def _create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    # A thread of its own, so that this works from sync fixtures and inside a running loop.
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(_create())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"
