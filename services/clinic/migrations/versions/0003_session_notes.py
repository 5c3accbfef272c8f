"""sessions.notes: the therapist's session notes, kept in the clinic

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import services.clinic.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("notes_updated_at", services.clinic.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("notes_updated_at")
        batch_op.drop_column("notes")
