"""workflow: correction reasons, lesion merge and split

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('patient_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lesion_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch_op.create_index('ix_audit_events_patient', ['patient_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_events_lesion', ['lesion_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_lesion')
        batch_op.drop_index('ix_audit_events_patient')
        batch_op.drop_column('reason')
        batch_op.drop_column('lesion_id')
        batch_op.drop_column('patient_id')
