"""prognosis: stored, versioned fits of the time-to-resolution models

Revision ID: 0014_prognosis
Revises: 0013_cohort
Create Date: 2026-12-06 06:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_prognosis'
down_revision: str | None = '0013_cohort'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'prognosis_fits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('family', sa.String(length=10), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=32), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('engine_version', sa.String(length=32), nullable=False),
        sa.Column('rules_revision', sa.SmallInteger(), nullable=False),
        sa.Column('usable', sa.Boolean(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('fit', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prognosis_fits')),
        sa.UniqueConstraint('family', 'version', name=op.f('uq_prognosis_fits_family_version')),
    )


def downgrade() -> None:
    op.drop_table('prognosis_fits')
