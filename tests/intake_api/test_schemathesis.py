"""Conformance: `schemathesis run --checks all` against a real server, as integrators run it.

Every operation of `/openapi.json`, every check, every phase (examples, coverage, fuzzing and
stateful: the OpenAPI links of `POST /v1/tickets` and `POST /v1/messages` give ticket and
conversation operations real ids). The repository's `schemathesis.toml` is used as the command
line uses it: its hooks send valid requests as a correct client does where a rule spans several
values (a fresh `Idempotency-Key` per request, `from` not after `to`, a binary CloudEvent's
`ce-*` headers all four or none), it accepts 412 for a schema-valid but stale `If-Match`, and
it reads the never-ending ticket event stream to its first event. No check is excluded; the
response-time check gets a limit only a hang reaches (see below).

Bounded so it stays a few minutes on a small machine: 5 examples per operation and a fixed
seed (the same cases each run). The 30-example run of docs/benchmarks/api.md is the longer one.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from intake_api.app import create_app
from tests.support.postgres import create_database
from tests.support.server import running_server

ADMIN_KEY = "schemathesis-admin-key"
REPOSITORY = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES_PER_OPERATION = 5


@pytest.fixture(scope="module")
def service_url(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server on PostgreSQL (stricter than SQLite about input), no rate limits."""
    root = tmp_path_factory.mktemp("schemathesis")
    app_settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        database_url=create_database(postgres_admin_url),
        load_demo_kb=False,
        admin_key=ADMIN_KEY,
        rate_limit_per_key_per_minute=1_000_000,
        rate_limit_per_sender_per_minute=1_000_000,
        # Every schema-valid `POST /v1/agent/accounts` hashes a password and every sign-in
        # checks one: with RFC 9106's Argon2id parameters (~0.1 s of CPU each) those two
        # operations took a quarter of the run. The parameters are not what is under test.
        agent_password_hash="cheapest",
    )
    with running_server(create_app(app_settings)) as url:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        seed = {"subject": "Pump broken", "customer": {"name": "Wang", "tier": "key"}}
        httpx.post(f"{url}/v1/tickets", json=seed, headers=headers).raise_for_status()
        yield url


def test_every_operation_conforms_to_the_schema_with_every_check(service_url: str) -> None:
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{service_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        "1",
        "--workers",  # one: CPython 3.11's parser is not thread-safe in Schemathesis' coverage
        "1",
        "--request-timeout",
        "150",
        # The response-time check stays on, with a limit that only a hang reaches: the suite
        # makes no timed assertions (a shared 2-core machine would make them flaky); response
        # times are measured in docs/benchmarks/ instead (api.md runs it with the 10 s default).
        "--max-response-time",
        "120",
        "--generation-database",
        "none",
        "--no-color",
        "--header",
        f"Authorization: Bearer {ADMIN_KEY}",
    ]
    run = subprocess.run(
        command, cwd=REPOSITORY, capture_output=True, text=True, timeout=900, check=False
    )
    report = run.stdout + run.stderr
    assert "Selected: " in report, report[-5000:]
    assert run.returncode == 0, _failures(report)


def _failures(report: str) -> str:
    """The report from its failures on (what failed, how to reproduce, the summary)."""
    start = report.find("=== FAILURES ===")
    return report[start if start >= 0 else 0 :][:30000]
