"""patient id ignoring case: a btree on lower(external_id), for the exact-id lookup

Revision ID: 0015_patient_id_lower
Revises: 0014_prognosis
Create Date: 2026-12-06 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_patient_id_lower'
down_revision: str | None = '0014_prognosis'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_patients_external_id_lower', 'patients', [sa.text('lower(external_id)')])


def downgrade() -> None:
    op.drop_index('ix_patients_external_id_lower', table_name='patients')
