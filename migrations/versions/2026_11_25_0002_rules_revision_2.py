"""rules revision 2 and timeline fields (event_kind, treatments, rules_revision, optional morphology, study_uid, accession)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:40:00

Codes are spelled out here, not read from `tracker.vocabulary`: a migration records the schema
as it was when written, and a later vocabulary change needs its own migration.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALERT_KINDS_1 = ("'no_resolution', 'ho_not_maturing', 'ho_atypical', 'rapid_progression', "
                 "'unexpected_regrowth', 'resorptive_bone_involvement', 'follow_up_overdue'")
ALERT_KINDS_2 = ALERT_KINDS_1 + ", 'no_treatment_response', 'unexplained_mass', 'model_changed'"
EVENT_KINDS = "'trauma', 'surgery', 'arthroplasty', 'neurologic', 'burn', 'injection'"
TREATMENT_KINDS = "'lavage', 'eswt', 'injection', 'surgery', 'radiotherapy', 'nsaid'"
VISIBLE_1 = ("(visible AND size1_mm IS NOT NULL AND density IS NOT NULL AND margin IS NOT NULL)"
             " OR (NOT visible AND size1_mm IS NULL AND density IS NULL AND margin IS NULL"
             " AND texture IS NULL AND pattern IS NULL)")
VISIBLE_2 = ("(visible AND size1_mm IS NOT NULL)"
             " OR (NOT visible AND size1_mm IS NULL AND density IS NULL AND margin IS NULL"
             " AND texture IS NULL AND pattern IS NULL)")


def upgrade() -> None:
    op.create_table(
        'treatments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lesion_id', sa.Integer(), nullable=False),
        sa.Column('date', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IS NULL OR kind IN ({TREATMENT_KINDS})",
                           name=op.f('ck_treatments_kind')),
        sa.CheckConstraint('note IS NULL OR length(note) <= 2000',
                           name=op.f('ck_treatments_note_length')),
        sa.ForeignKeyConstraint(['lesion_id'], ['lesions.id'],
                                name=op.f('fk_treatments_lesion_id_lesions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_treatments')),
        sa.UniqueConstraint('lesion_id', 'date', 'kind',
                            name=op.f('uq_treatments_lesion_id_date_kind')),
    )
    with op.batch_alter_table('lesions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('rules_revision', sa.SmallInteger(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_lesions_event_kind'), f"event_kind IS NULL OR event_kind IN ({EVENT_KINDS})")
        batch_op.create_check_constraint(
            op.f('ck_lesions_event_kind_needs_date'), 'event_kind IS NULL OR event_date IS NOT NULL')
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('study_uid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('accession', sa.String(length=16), nullable=True))
        batch_op.drop_constraint(op.f('ck_observations_visible_fields'), type_='check')
        batch_op.create_check_constraint(op.f('ck_observations_visible_fields'), VISIBLE_2)
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response', sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column('rules_revision', sa.SmallInteger(), nullable=True))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_alerts_kind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_alerts_kind'), f"kind IS NULL OR kind IN ({ALERT_KINDS_2})")


def downgrade() -> None:
    # Rows that only revision 2 allows cannot go back: the alerts of the new kinds, visible
    # observations without density or margin. Fail loudly rather than lose them silently.
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_alerts_kind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_alerts_kind'), f"kind IS NULL OR kind IN ({ALERT_KINDS_1})")
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_column('rules_revision')
        batch_op.drop_column('response')
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_observations_visible_fields'), type_='check')
        batch_op.create_check_constraint(op.f('ck_observations_visible_fields'), VISIBLE_1)
        batch_op.drop_column('accession')
        batch_op.drop_column('study_uid')
    with op.batch_alter_table('lesions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_lesions_event_kind_needs_date'), type_='check')
        batch_op.drop_constraint(op.f('ck_lesions_event_kind'), type_='check')
        batch_op.drop_column('rules_revision')
        batch_op.drop_column('event_kind')
    op.drop_table('treatments')
