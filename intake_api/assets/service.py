"""Asset operations over a session; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.columns import utcnow
from core.errors import Conflict, NotFound, ServiceError
from intake_api.assets.models import Asset, AssetContact, AssetCreate, AssetFields
from intake_api.pagination import PageRequest
from knowledge_base.store import known_ids


class UnknownProduct(ServiceError):
    """An asset names a product the knowledge base does not have."""

    status_code = 422
    code = "unknown_product"


async def kb_products(session: AsyncSession) -> set[str]:
    """The product ids of the stored knowledge base."""
    return (await known_ids(session)).get("products", set())


async def check_product(session: AsyncSession, product_id: str) -> None:
    """422 naming the field when `product_id` is not a KB product."""
    if product_id not in await kb_products(session):
        raise UnknownProduct(
            f"product_id: {product_id!r} is not a product of the knowledge base",
            field="product_id",
        )


def _not_found(serial: str) -> NotFound:
    return NotFound(f"asset {serial} not found", serial=serial)


async def get(session: AsyncSession, *, serial: str) -> Asset:
    """The unit with this serial (404 when there is none)."""
    asset = await session.get(Asset, serial)
    if asset is None:
        raise _not_found(serial)
    return asset


async def find(session: AsyncSession, *, serial: str) -> Asset | None:
    """The unit with this serial, or None."""
    return await session.get(Asset, serial)


async def of_contact(session: AsyncSession, *, channel: str, sender_id: str) -> list[Asset]:
    """The units a sender on a channel is a contact of, by serial."""
    query = (
        select(Asset)
        .join(AssetContact)
        .where(AssetContact.channel == channel, AssetContact.sender_id == sender_id)
        .order_by(Asset.serial)
    )
    return list(await session.scalars(query))


def _apply(asset: Asset, fields: AssetFields) -> None:
    """Set what `fields` gives (contacts replace the unit's contacts)."""
    given = fields.model_fields_set
    if fields.product_id is not None:
        asset.product_id = fields.product_id
    if fields.customer is not None:
        asset.customer_name = fields.customer.name
        asset.customer_phone = fields.customer.phone
        asset.customer_tier = fields.customer.tier
    if fields.site is not None:
        asset.site_address, asset.site_region = fields.site.address, fields.site.region
    for name in ("lang", "warranty_end", "installed_at", "firmware"):
        if name in given and (name != "lang" or fields.lang):
            setattr(asset, name, getattr(fields, name))
    if fields.contacts is not None:
        unique = {(c.channel, c.sender_id): c for c in fields.contacts}
        asset.contacts = [
            AssetContact(channel=channel, sender_id=sender) for channel, sender in unique
        ]
    asset.updated_at = utcnow()


def _new(data: AssetCreate) -> Asset:
    now = utcnow()
    asset = Asset(serial=data.serial, lang="zh", created_at=now, contacts=[])
    _apply(asset, data)
    asset.customer_tier = asset.customer_tier or "standard"
    asset.updated_at = now
    return asset


async def create(session: AsyncSession, *, data: AssetCreate) -> Asset:
    """A new unit (409 when the serial is taken, 422 when the product is unknown)."""
    await check_product(session, data.product_id)
    if await session.get(Asset, data.serial) is not None:
        raise Conflict(f"asset {data.serial} already exists", serial=data.serial)
    asset = _new(data)
    session.add(asset)
    await session.flush()
    return asset


async def update(session: AsyncSession, *, serial: str, data: AssetFields) -> Asset:
    """Change what `data` gives."""
    asset = await get(session, serial=serial)
    if data.product_id is not None:
        await check_product(session, data.product_id)
    _apply(asset, data)
    await session.flush()
    return asset


async def remove(session: AsyncSession, *, serial: str) -> None:
    """Delete the unit and its contacts (alarms keep their serial)."""
    await session.delete(await get(session, serial=serial))


async def store_all(
    session: AsyncSession, rows: Sequence[AssetCreate], *, replace: bool = False
) -> tuple[int, int, int]:
    """Upsert units by serial; `replace` also deletes those absent. Answers (added, updated,
    removed)."""
    added = updated = removed = 0
    serials = {row.serial for row in rows}
    if replace:
        result = await session.execute(delete(Asset).where(Asset.serial.not_in(serials)))
        removed = int(getattr(result, "rowcount", 0) or 0)
    for row in rows:
        asset = await session.get(Asset, row.serial)
        if asset is None:
            session.add(_new(row))
            added += 1
        else:
            _apply(asset, row)
            updated += 1
    await session.flush()
    return added, updated, removed


async def get_all(
    session: AsyncSession,
    *,
    page: PageRequest,
    customer: str | None = None,
    product_id: str | None = None,
) -> tuple[list[Asset], int]:
    """A page of units, filtered by customer (name or phone) and product."""
    conditions: list[ColumnElement[bool]] = []
    if customer is not None:
        conditions.append((Asset.customer_name == customer) | (Asset.customer_phone == customer))
    if product_id is not None:
        conditions.append(Asset.product_id == product_id)
    return await page.fetch(session, select(Asset).where(*conditions), tiebreak=Asset.serial)
