"""The dialogue's `UnitLookup` (core.assets) over the registry: a serial number in the message,
or a sender who is the contact of exactly one unit, names the equipment."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.assets import UnitFacts
from intake_api.assets import service
from intake_api.assets.models import Asset

# Tokens that may be serial numbers: letters, digits and - . / _, at least 4 long.
_SERIAL_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{3,99}")


def facts(asset: Asset) -> UnitFacts:
    customer = {
        "name": asset.customer_name,
        "phone": asset.customer_phone,
        "tier": asset.customer_tier,
    }
    return UnitFacts(
        serial=asset.serial,
        product_id=asset.product_id,
        site=asset.site_address,
        customer={key: value for key, value in customer.items() if value},
    )


class RegistryUnits:
    """Finds a message's unit in the asset registry (one indexed read or two)."""

    async def find(
        self, session: AsyncSession, *, channel: str, sender_id: str, text: str
    ) -> UnitFacts | None:
        tokens = {
            token for found in _SERIAL_TOKEN.findall(text) for token in (found, found.upper())
        }
        if tokens:
            named = list(
                await session.scalars(select(Asset).where(Asset.serial.in_(tokens)).limit(2))
            )
            if len(named) == 1:
                return facts(named[0])
        owned = await service.of_contact(session, channel=channel, sender_id=sender_id)
        return facts(owned[0]) if len(owned) == 1 else None
