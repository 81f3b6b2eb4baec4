"""pacs: measurement reports by SOP Instance UID, the observations they produced, key images,
the write-back outbox and the PACS sync state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A row about one observation as one report gave it goes with either (the models'
# OfReportedObservation): its parents, in the order their keys are created.
PARENTS = (('observation_id', 'observations'), ('report_id', 'sr_reports'))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f'{target}.id'],
                                   name=op.f(f'fk_{table}_{column}_{target}'), ondelete='CASCADE')


def _parent_keys(table: str) -> list[sa.ForeignKeyConstraint]:
    return [_fk(table, column, target) for column, target in PARENTS]


def _id_and_parents() -> list[sa.Column]:
    return [sa.Column('id', sa.Integer(), nullable=False),
            *(sa.Column(column, sa.Integer(), nullable=False) for column, _ in PARENTS)]


def _index_parents(table: str) -> None:
    for column, _ in PARENTS:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column])


def upgrade() -> None:
    op.create_table(
        'pacs_sync',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('watermark', sa.Date(), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_found', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pacs_sync')),
    )
    op.create_table(
        'sr_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sop_instance_uid', sa.String(length=64), nullable=False),
        sa.Column('study_uid', sa.String(length=64), nullable=False),
        sa.Column('series_uid', sa.String(length=64), nullable=False),
        sa.Column('sop_class_uid', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('patient', sa.String(length=64), nullable=True),
        sa.Column('content_date', sa.Date(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('problems', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('handled_by', sa.String(length=64), nullable=True),
        sa.CheckConstraint("source IN ('pacs', 'upload', 'file')",
                           name=op.f('ck_sr_reports_source')),
        sa.CheckConstraint("state IN ('pending', 'imported', 'held', 'rejected')",
                           name=op.f('ck_sr_reports_state')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sr_reports')),
        sa.UniqueConstraint('sop_instance_uid', name=op.f('uq_sr_reports_sop_instance_uid')),
    )
    op.create_index('ix_sr_reports_state', 'sr_reports', ['state', 'content_date'])
    op.create_table(
        'sr_report_observations',
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('observation_id', sa.Integer(), nullable=False),
        *_parent_keys('sr_report_observations'),
        sa.PrimaryKeyConstraint('report_id', 'observation_id',
                                name=op.f('pk_sr_report_observations')),
    )
    op.create_index(op.f('ix_sr_report_observations_observation_id'),
                    'sr_report_observations', ['observation_id'])
    op.create_table(
        'key_images',
        *_id_and_parents(),
        sa.Column('study_uid', sa.String(length=64), nullable=False),
        sa.Column('series_uid', sa.String(length=64), nullable=False),
        sa.Column('sop_instance_uid', sa.String(length=64), nullable=False),
        sa.Column('sop_class_uid', sa.String(length=64), nullable=False),
        sa.Column('frame', sa.Integer(), server_default='0', nullable=False),
        sa.Column('graphic_type', sa.String(length=16), nullable=True),
        sa.Column('graphic_data', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('measured_mm', sa.Float(), nullable=True),
        *_parent_keys('key_images'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_key_images')),
        sa.UniqueConstraint('observation_id', 'report_id', 'sop_instance_uid', 'frame',
                            name=op.f('uq_key_images_observation_id_report_id_sop_instance_uid_frame')),
    )
    _index_parents('key_images')
    op.create_table(
        'pacs_write_backs',
        *_id_and_parents(),
        sa.Column('sop_instance_uid', sa.String(length=64), nullable=True),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('next_follow_up', sa.Date(), nullable=True),
        sa.Column('engine_version', sa.String(length=32), nullable=False),
        sa.Column('data_version', sa.Integer(), nullable=False),
        sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'sent')", name=op.f('ck_pacs_write_backs_state')),
        *_parent_keys('pacs_write_backs'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pacs_write_backs')),
        sa.UniqueConstraint(
            'observation_id', 'data_version', 'engine_version', 'stage',
            name=op.f('uq_pacs_write_backs_version')),
    )
    op.create_index('ix_pacs_write_backs_due', 'pacs_write_backs', ['state', 'next_attempt_at'])
    _index_parents('pacs_write_backs')


def downgrade() -> None:
    for table in ('pacs_write_backs', 'key_images', 'sr_report_observations', 'sr_reports',
                  'pacs_sync'):
        op.drop_table(table)
