"""equipment: the asset registry (installed units and their contacts)

Revision ID: equipment_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "equipment_0001"
down_revision = None
branch_labels = ("equipment",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("serial", sa.String(100), nullable=False),
        sa.Column("product_id", sa.String(100), nullable=False),
        sa.Column("customer_name", sa.String(200), nullable=True),
        sa.Column("customer_phone", sa.String(50), nullable=True),
        sa.Column("customer_tier", sa.String(20), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("site_address", sa.String(300), nullable=True),
        sa.Column("site_region", sa.String(100), nullable=True),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.Column("installed_at", sa.Date(), nullable=True),
        sa.Column("firmware", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("serial", name="pk_assets"),
    )
    op.create_index("ix_assets_product_id", "assets", ["product_id"])
    op.create_index("ix_assets_customer_name", "assets", ["customer_name"])
    op.create_table(
        "asset_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_asset_contacts"),
        sa.ForeignKeyConstraint(
            ["serial"],
            ["assets.serial"],
            name="fk_asset_contacts_serial_assets",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("serial", "channel", "sender_id", name="uq_asset_contacts_contact"),
    )
    op.create_index("ix_asset_contacts_serial", "asset_contacts", ["serial"])
    op.create_index("ix_asset_contacts_sender_id", "asset_contacts", ["sender_id"])


def downgrade() -> None:
    op.drop_table("asset_contacts")
    op.drop_table("assets")
