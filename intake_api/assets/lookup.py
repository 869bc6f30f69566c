"""The dialogue's `UnitLookup` (core.assets) over the registry: a serial number in the message,
or a sender who is the contact of exactly one unit, names the equipment."""

from __future__ import annotations

import re
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from core.assets import UnitFacts
from intake_api.assets.models import Asset, AssetContact

# Tokens that may be serial numbers: letters, digits and - . / _, at least 4 long.
_SERIAL_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{3,99}")


class _Unit(Protocol):
    """The columns a unit's facts are read from (an `Asset`, or a row of them)."""

    serial: str
    product_id: str
    site_address: str | None
    customer_name: str | None
    customer_phone: str | None
    customer_tier: str | None


_UNIT_COLUMNS = tuple(_Unit.__annotations__)


def facts(asset: _Unit) -> UnitFacts:
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
    """Finds a message's unit in the asset registry (one indexed read)."""

    async def find(
        self, session: AsyncSession, *, channel: str, sender_id: str, text: str
    ) -> UnitFacts | None:
        """The one unit the message names by serial, else the one unit the sender is a contact
        of, else None (two named, or two owned, are ambiguous)."""
        tokens = {
            token for found in _SERIAL_TOKEN.findall(text) for token in (found, found.upper())
        }
        # Reads only the registry: nothing this unit of work added needs flushing first.
        with session.no_autoflush:
            params: dict[str, object] = {"channel": channel, "sender_id": sender_id}
            if tokens:
                params["tokens"] = sorted(tokens)
            rows = (await session.execute(_candidates(tokens), params)).all()
        named = [row for row in rows if row.named]
        if len(named) == 1:
            return facts(named[0])
        owned = [row for row in rows if not row.named]
        return facts(owned[0]) if len(owned) == 1 else None


def _candidates(tokens: set[str]) -> Select[Any]:
    """Up to two units named by `tokens` and up to two the sender is a contact of, in one
    statement: (unit, named). The statement is one of two built once (with and without named
    serials); its parameters are bound when it runs."""
    return _NAMED_OR_OWNED if tokens else _OWNED


def _units(*parts: Select[str, bool]) -> Select[Any]:
    """The units' columns, not mapped objects: nothing else in the unit of work loads them, and
    a plain row costs less to read than an `Asset` (most messages find none at all)."""
    picks = union_all(*parts).subquery()
    columns = [getattr(Asset.__table__.c, name) for name in _UNIT_COLUMNS]
    return select(*columns, picks.c.named).join(picks, Asset.serial == picks.c.serial)


_OWNED_PART = select(
    select(AssetContact.serial, literal(False).label("named"))
    .where(
        AssetContact.channel == bindparam("channel"),
        AssetContact.sender_id == bindparam("sender_id"),
    )
    .order_by(AssetContact.serial)
    .limit(2)
    .subquery()
)
_NAMED_PART = select(
    select(Asset.serial, literal(True).label("named"))
    .where(Asset.serial.in_(bindparam("tokens", expanding=True)))
    .limit(2)
    .subquery()
)
# Built once: SQLAlchemy memoizes their cache keys (building the UNION per message cost more
# than running it).
_OWNED = _units(_OWNED_PART)
_NAMED_OR_OWNED = _units(_NAMED_PART, _OWNED_PART)
