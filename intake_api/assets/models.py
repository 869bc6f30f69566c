"""Asset tables (one row per installed unit, its contacts beside it) and the API shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.triage.policy import Tier
from core.columns import UtcDateTime, utcnow
from core.database import Base
from intake_api.limits.text import limit

Serial = Annotated[str, limit(100, min_length=1, strip=True)]
Text200 = Annotated[str, limit(200, strip=True)]


class Asset(Base):
    """An installed unit, keyed by its serial number."""

    __tablename__ = "assets"

    serial: Mapped[str] = mapped_column(String(100), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(100), index=True)
    customer_name: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    customer_phone: Mapped[str | None] = mapped_column(String(50), nullable=True)
    customer_tier: Mapped[str] = mapped_column(String(20), default="standard")
    lang: Mapped[str] = mapped_column(String(16), default="zh")
    site_address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    site_region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    warranty_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    installed_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    firmware: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    contacts: Mapped[list[AssetContact]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AssetContact.id"
    )


class AssetContact(Base):
    """Who hears about the unit, and on which channel (`wechat`, `telegram`, `web`)."""

    __tablename__ = "asset_contacts"
    __table_args__ = (
        UniqueConstraint("serial", "channel", "sender_id", name="uq_asset_contacts_contact"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(ForeignKey("assets.serial", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(50))
    sender_id: Mapped[str] = mapped_column(String(200), index=True)


# --- API shapes ----------------------------------------------------------------------------------
class AssetCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    phone: Annotated[str, limit(50, strip=True)] | None = None
    tier: Tier = "standard"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Annotated[str, limit(50, min_length=1, strip=True)]
    sender_id: Annotated[str, limit(200, min_length=1, strip=True)]


class Site(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Annotated[str, limit(300, strip=True)] | None = None
    region: Annotated[str, limit(100, strip=True)] | None = None


class AssetFields(BaseModel):
    """What an import row or `PATCH` may set (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    product_id: Annotated[str, limit(100, min_length=1, strip=True)] | None = None
    customer: AssetCustomer | None = None
    contacts: list[Contact] | None = None
    site: Site | None = None
    lang: Annotated[str, limit(16, min_length=2, strip=True)] | None = Field(
        default=None, description="The customer's language for notices (zh, en); default zh."
    )
    warranty_end: date | None = None
    installed_at: date | None = None
    firmware: Annotated[str, limit(100, strip=True)] | None = None


class AssetCreate(AssetFields):
    """A new unit: `serial` and a KB `product_id` are required."""

    serial: Serial
    product_id: Annotated[str, limit(100, min_length=1, strip=True)]


class AssetRead(BaseModel):
    serial: str
    product_id: str
    customer: AssetCustomer
    contacts: list[Contact]
    site: Site
    lang: str
    warranty_end: date | None
    installed_at: date | None
    firmware: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, asset: Asset) -> AssetRead:
        return cls(
            serial=asset.serial,
            product_id=asset.product_id,
            customer=AssetCustomer(
                name=asset.customer_name, phone=asset.customer_phone, tier=asset.customer_tier
            ),
            contacts=[Contact(channel=c.channel, sender_id=c.sender_id) for c in asset.contacts],
            site=Site(address=asset.site_address, region=asset.site_region),
            lang=asset.lang,
            warranty_end=asset.warranty_end,
            installed_at=asset.installed_at,
            firmware=asset.firmware,
            created_at=asset.created_at,
            updated_at=asset.updated_at,
        )


class AssetPage(BaseModel):
    items: list[AssetRead]
    total: int
    limit: int
    offset: int
