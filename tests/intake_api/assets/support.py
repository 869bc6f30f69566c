"""What the equipment tests share: a small KB with alarm codes, stored before the service
starts, and units registered through the API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from core.database import create_engine, session_factory, unit_of_work
from intake_api.storage.migrate import migrate
from knowledge_base.loader import read_knowledge_base
from knowledge_base.store import import_knowledge_base

KB_FILE = Path(__file__).with_name("kb.yaml")


def store_kb(database_url: str) -> None:
    """Import the test KB into the (migrated) database."""

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            await migrate(engine)
            async with unit_of_work(session_factory(engine)) as session:
                await import_knowledge_base(session, read_knowledge_base(KB_FILE))
        finally:
            await engine.dispose()

    asyncio.run(run())


def unit(serial: str, **fields: Any) -> dict[str, Any]:
    """An asset body: an HX-37 of a key customer unless told otherwise."""
    return {
        "serial": serial,
        "product_id": "HX-37",
        "customer": {"name": "汉霖机械厂", "phone": "13800000000", "tier": "key"},
        "site": {"address": "苏州工业园区星湖街 1 号", "region": "华东"},
        **fields,
    }


def register(client: httpx.Client, serial: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/assets", json=unit(serial, **fields))
    assert response.status_code == 201, response.text
    return response.json()
