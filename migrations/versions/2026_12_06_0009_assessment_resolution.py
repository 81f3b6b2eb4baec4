"""assessment resolution: how sure a `resolved` stage is (confirmed, expected, unconfirmed),
per observation and for the lesion's current stage

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# No backfill: rules revision 3 makes every stored assessment stale, and the stale job writes it.
RESOLUTIONS = "'confirmed', 'expected', 'unconfirmed'"


def upgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution', sa.String(length=12), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_assessments_resolution'),
            f"resolution IS NULL OR resolution IN ({RESOLUTIONS})")
    # lesions is the parent of every other table: on SQLite a batch copy would drop it, and the
    # drop's implicit DELETE would cascade to observations, treatments and alerts. The column
    # (with its named CHECK) is added in place instead.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE lesions ADD COLUMN current_resolution VARCHAR(12) CONSTRAINT"
                   " ck_lesions_current_resolution CHECK (current_resolution IS NULL OR"
                   f" current_resolution IN ({RESOLUTIONS}))")
    else:
        op.add_column('lesions', sa.Column('current_resolution', sa.String(length=12),
                                           nullable=True))
        op.create_check_constraint(
            op.f('ck_lesions_current_resolution'), 'lesions',
            f"current_resolution IS NULL OR current_resolution IN ({RESOLUTIONS})")

def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE lesions DROP COLUMN current_resolution")
    else:
        op.drop_constraint(op.f('ck_lesions_current_resolution'), 'lesions', type_='check')
        op.drop_column('lesions', 'current_resolution')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_assessments_resolution'), type_='check')
        batch_op.drop_column('resolution')
