"""`aftersales serve`: the whole service on embedded defaults."""

from __future__ import annotations

import os
import socket

import typer
import uvicorn
from uvicorn.supervisors import Multiprocess

from core.settings import get_settings
from knowledge_base.encoders import limit_math_threads

APP = "intake_api.app:create_app"
# The math libraries read these when they load in a worker process.
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# How long the supervisor waits for a worker to answer its health check before it kills and
# replaces it. uvicorn's 5 s is shorter than a worker's start-up (the KB index, the NLU model)
# on a busy host: every worker was killed while loading, and replaced, without end.
WORKER_HEALTHCHECK_SECONDS = 60


def math_threads(configured: int | None, workers: int) -> int:
    """Each worker's BLAS/OpenMP threads: the setting, else the cores shared out (at least 1)."""
    return configured or max(1, (os.cpu_count() or 1) // workers)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT: several of them share one port, and the kernel
    spreads new connections evenly over them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class SpreadWorkers(Multiprocess):
    """uvicorn's supervisor (signals, health checks, restarts), except that each worker process
    it starts gets a listening socket of its own (SO_REUSEPORT). With one shared socket,
    whichever worker is idle accepts a whole burst of keep-alive connections (a load balancer's,
    or many customers at once) and the other workers get none of their requests."""

    @property
    def sockets(self) -> list[socket.socket]:
        return [listening_socket(self.config.host, self.config.port)]

    @sockets.setter
    def sockets(self, value: list[socket.socket]) -> None:
        """uvicorn's shared socket is not used: each worker binds its own."""


def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default from settings)."),
    port: int | None = typer.Option(None, help="Port to bind (default from settings)."),
    workers: int = typer.Option(1, min=1, help="Worker processes (use Redis for several)."),
) -> None:
    """Run the intake API, channel webhooks, web chat and agent console."""
    settings = get_settings()
    threads = math_threads(settings.math_threads, workers)
    # Several workers each with a thread per core would spin against each other on the cores.
    os.environ["AFTERSALES_MATH_THREADS"] = str(threads)
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    limit_math_threads(threads)  # this process (the worker when --workers is 1)
    host, port = host or settings.host, port or settings.port
    level = settings.log_level.lower()
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        config = uvicorn.Config(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=level,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
        SpreadWorkers(config, sockets=[]).run()
        return
    uvicorn.run(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=level,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
