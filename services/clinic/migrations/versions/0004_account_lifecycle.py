"""users.deactivated_at: an admin can switch an account off (and on again)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import services.clinic.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deactivated_at", services.clinic.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column("totp_secret", existing_type=sa.String(64), type_=sa.String(255))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(255), type_=sa.String(64))
        batch_op.drop_column("deactivated_at")
