"""The dialogue's unit lookup in one read: a single named serial wins, else the sender's single
unit; two of either are ambiguous."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from intake_api.assets.lookup import RegistryUnits
from intake_api.assets.models import Asset, AssetContact


async def _register(sessions: async_sessionmaker[AsyncSession]) -> None:
    """SN-1 and SN-2 belong to contact a; SN-3 to b; SN-4 to nobody."""
    owners = {"SN-1": "a", "SN-2": "a", "SN-3": "b", "SN-4": None}
    async with unit_of_work(sessions) as session:
        for serial, owner in owners.items():
            contacts = [AssetContact(channel="web", sender_id=owner)] if owner else []
            session.add(
                Asset(serial=serial, product_id="P", site_address=serial, contacts=contacts)
            )


async def _found(sessions: async_sessionmaker[AsyncSession], sender: str, text: str) -> str | None:
    async with sessions() as session:
        unit = await RegistryUnits().find(session, channel="web", sender_id=sender, text=text)
    return unit.serial if unit else None


async def test_the_named_serial_then_the_senders_only_unit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _register(sessions)
    assert await _found(sessions, "b", "my unit sn-4 is down") == "SN-4"  # named, any case
    assert await _found(sessions, "b", "it is down") == "SN-3"  # the sender's only unit
    assert await _found(sessions, "b", "SN-1 or SN-4?") == "SN-3"  # two named: the sender's
    assert await _found(sessions, "a", "it is down") is None  # two units: which one?
    assert await _found(sessions, "a", "SN-2 is down") == "SN-2"
    assert await _found(sessions, "nobody", "坏了") is None


async def test_the_lookup_leaves_pending_rows_unflushed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The message's own pending rows are written once, at the end of its unit of work."""
    await _register(sessions)
    async with unit_of_work(sessions) as session:
        session.add(Asset(serial="SN-9", product_id="P", contacts=[]))
        await RegistryUnits().find(session, channel="web", sender_id="b", text="SN-9")
        assert session.new  # not flushed by the read
