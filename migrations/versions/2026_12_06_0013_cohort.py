"""cohort: each lesion's time to resolution kept with its assessment (cohort_subjects) and
the counts the cohort page reads (cohort_counts, cohort_response_counts)

Revision ID: 0013_cohort
Revises: 0012_patient_summaries
Create Date: 2026-12-07 12:00:00

The backfill computes the rows of every currently assessed lesion with the product's own
function (`tracker.cohort.subject_rows`, streamed, inserted in batches), so the cohort page
shows the same lesions right after the upgrade as before it.
"""
from collections.abc import Sequence
from itertools import islice

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = '0013_cohort'
down_revision: str | None = '0012_patient_summaries'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    op.create_table(
        'cohort_subjects',
        sa.Column('lesion_id', sa.Integer(), nullable=False),
        sa.Column('baseline', sa.Date(), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('resolved', sa.Boolean(), nullable=False),
        sa.Column('entity', sa.String(length=40), nullable=False),
        sa.Column('gartner', sa.String(length=16), nullable=False),
        sa.Column('bosworth', sa.String(length=16), nullable=False),
        sa.Column('region', sa.String(length=20), nullable=False),
        sa.Column('compartment', sa.String(length=16), nullable=False),
        sa.Column('best_change_pct', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['lesion_id'], ['lesions.id'],
                                name=op.f('fk_cohort_subjects_lesion_id_lesions'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('lesion_id', name=op.f('pk_cohort_subjects')),
    )
    op.create_index('ix_cohort_subjects_entity', 'cohort_subjects', ['entity'], unique=False)
    op.create_table(
        'cohort_counts',
        sa.Column('entity', sa.String(length=40), nullable=False),
        sa.Column('gartner', sa.String(length=16), nullable=False),
        sa.Column('bosworth', sa.String(length=16), nullable=False),
        sa.Column('region', sa.String(length=20), nullable=False),
        sa.Column('compartment', sa.String(length=16), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('resolved', sa.Boolean(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('entity', 'gartner', 'bosworth', 'region', 'compartment', 'days',
                                'resolved', name=op.f('pk_cohort_counts')),
    )
    op.create_table(
        'cohort_response_counts',
        sa.Column('entity', sa.String(length=40), nullable=False),
        sa.Column('region', sa.String(length=20), nullable=False),
        sa.Column('compartment', sa.String(length=16), nullable=False),
        sa.Column('pct', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('entity', 'region', 'compartment', 'pct',
                                name=op.f('pk_cohort_response_counts')),
    )
    _backfill()


def _backfill() -> None:
    from collections import Counter

    from tracker.cohort import subject_rows
    from tracker.cohort_table import CohortCount, CohortResponseCount, CohortSubject
    from tracker.services.cohort_subjects import COUNT_KEYS, RESPONSE_KEYS, count_keys

    bind = op.get_bind()
    reader = Session(bind=bind)
    found = subject_rows(reader)
    counts: Counter[tuple[object, ...]] = Counter()
    responses: Counter[tuple[object, ...]] = Counter()
    while batch := [s.row() for s in islice(found, BATCH)]:
        bind.execute(sa.insert(CohortSubject.__table__), batch)
        more_counts, more_responses = count_keys(batch)
        counts.update(more_counts)
        responses.update(more_responses)
    for table, keys, found_counts in ((CohortCount, COUNT_KEYS, counts),
                                      (CohortResponseCount, RESPONSE_KEYS, responses)):
        rows = [{**dict(zip(keys, k, strict=True)), 'n': n} for k, n in found_counts.items()]
        if rows:
            bind.execute(sa.insert(table.__table__), rows)


def downgrade() -> None:
    op.drop_table('cohort_response_counts')
    op.drop_table('cohort_counts')
    op.drop_index('ix_cohort_subjects_entity', table_name='cohort_subjects')
    op.drop_table('cohort_subjects')
