"""patient summaries: one row per patient for the patient list (open alerts by severity,
lesions, pending assessments, last visit, next follow-up), its keyset order index, and the
trigram index of patient search (PostgreSQL: creates the pg_trgm extension)

`CREATE EXTENSION pg_trgm` needs CREATE on the database: the database's owner has it (pg_trgm
is a trusted extension), a role without it gets "permission denied". The backfill aggregates
every patient once: about a minute per million lesions.

Revision ID: 0012_patient_summaries
Revises: 0011_worklist
Create Date: 2026-12-06 07:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_patient_summaries'
down_revision: str | None = '0011_worklist'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same aggregate as tracker.summaries (kept here as it was at this revision).
_BACKFILL = """
INSERT INTO patient_summaries (patient_id, external_id, urgent, warning, info, lesions, pending,
                               last_visit, next_follow_up)
SELECT p.id, p.external_id,
       coalesce(a.urgent, 0), coalesce(a.warning, 0), coalesce(a.info, 0),
       coalesce(l.lesions, 0), coalesce(l.pending, 0), v.last_visit, l.next_follow_up
FROM patients p
LEFT JOIN (SELECT patient_id, count(*) AS lesions,
                  sum(CASE WHEN assessed_version IS NOT NULL AND assessed_version = data_version
                           THEN 0 ELSE 1 END) AS pending,
                  min(next_follow_up) AS next_follow_up
           FROM lesions GROUP BY patient_id) l ON l.patient_id = p.id
LEFT JOIN (SELECT le.patient_id,
                  sum(CASE WHEN al.severity = 'urgent' THEN 1 ELSE 0 END) AS urgent,
                  sum(CASE WHEN al.severity = 'warning' THEN 1 ELSE 0 END) AS warning,
                  sum(CASE WHEN al.severity = 'info' THEN 1 ELSE 0 END) AS info
           FROM alerts al JOIN lesions le ON le.id = al.lesion_id
           WHERE al.state = 'open' GROUP BY le.patient_id) a ON a.patient_id = p.id
LEFT JOIN (SELECT le.patient_id, max(o.date) AS last_visit
           FROM observations o JOIN lesions le ON le.id = o.lesion_id
           GROUP BY le.patient_id) v ON v.patient_id = p.id
"""


def upgrade() -> None:
    op.create_table(
        'patient_summaries',
        sa.Column('patient_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('external_id', sa.String(length=64), nullable=False),
        sa.Column('urgent', sa.Integer(), server_default='0', nullable=False),
        sa.Column('warning', sa.Integer(), server_default='0', nullable=False),
        sa.Column('info', sa.Integer(), server_default='0', nullable=False),
        sa.Column('lesions', sa.Integer(), server_default='0', nullable=False),
        sa.Column('pending', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_visit', sa.Date(), nullable=True),
        sa.Column('next_follow_up', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                                name=op.f('fk_patient_summaries_patient_id_patients'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_patient_summaries')),
    )
    op.execute(_BACKFILL)
    op.create_index('ix_patient_summaries_order', 'patient_summaries',
                    [sa.text('(-urgent)'), sa.text('(-warning)'), sa.text('(-info)'),
                     sa.text('external_id')])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index('ix_patients_external_id_trgm', 'patients',
                        [sa.text('lower(external_id) gin_trgm_ops')], postgresql_using='gin')
        op.execute('ANALYZE patient_summaries')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_patients_external_id_trgm', table_name='patients')
    op.drop_index('ix_patient_summaries_order', table_name='patient_summaries')
    op.drop_table('patient_summaries')
