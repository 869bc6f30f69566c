"""Start-up of the assets domain: the dialogue finds the unit a customer writes about in the
registry (after the messages domain built the dialogue)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from intake_api.assets.lookup import RegistryUnits
from intake_api.services import services


@asynccontextmanager
async def assets_lifespan(app: FastAPI) -> AsyncIterator[None]:
    services(app).messages.dialogue.units = RegistryUnits()
    yield
