"""`aftersales serve`: math threads shared out between workers, one listening socket a worker."""

from __future__ import annotations

import os
import socket

import pytest

from intake_api.cli.serve import listening_socket, math_threads


def test_math_threads_share_the_cores_between_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert math_threads(None, 1) == 4
    assert math_threads(None, 2) == 2
    assert math_threads(None, 8) == 1
    assert math_threads(3, 2) == 3  # AFTERSALES_MATH_THREADS wins


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="Linux/BSD only")
def test_each_worker_can_listen_on_the_same_port() -> None:
    first = listening_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port)
    try:
        first.listen()
        second.listen()
        assert second.getsockname()[1] == port
    finally:
        first.close()
        second.close()
