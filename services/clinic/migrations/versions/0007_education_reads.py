"""education_reads: the patient marks an education item read

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import services.clinic.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "education_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("read_at", services.clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "key"),
    )
    with op.batch_alter_table("education_reads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_education_reads_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("education_reads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_education_reads_patient_id"))
    op.drop_table("education_reads")
