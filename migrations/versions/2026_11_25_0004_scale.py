"""scale: recheck index, batched assessment

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 15:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # recheck_on: the daily scan's due index; dispatched_at: the sweep's "sent, still queued".
    with op.batch_alter_table("lesions") as batch:
        batch.add_column(sa.Column("recheck_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_lesions_recheck_on", ["recheck_on"])


def downgrade() -> None:
    with op.batch_alter_table("lesions") as batch:
        batch.drop_index("ix_lesions_recheck_on")
        batch.drop_column("dispatched_at")
        batch.drop_column("recheck_on")
