"""worklist at scale: the alerts' sort key and copied lesion columns with an index per filter,
the maintained header counts (alert_counts), the alerts' lesion index

Revision ID: 0011_worklist
Revises: 0010
Create Date: 2026-12-06 06:30:00

The backfill copies each uncleared alert's lesion columns (`UPDATE ... FROM lesions`) and counts
the uncleared alerts per severity and state. At 1 M alerts on PostgreSQL this takes about
3 minutes on two cores (the generated column rewrites the table, then the backfill and eight
indexes); on SQLite the table is rebuilt (batch mode), seconds at 10,000 lesions.
Statements are spelled out here, not read from the models: a migration records the schema as
it was when written.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_worklist'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORT_RANK = ("(CASE WHEN state = 'acknowledged' THEN 3 ELSE 0 END) + (CASE severity "
             "WHEN 'urgent' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 2 END)")
UNCLEARED = "state <> 'cleared'"
UNDELIVERED = "severity = 'urgent' AND state = 'open' AND notified_at IS NULL"
WORKLIST_INDEXES: dict[str, tuple[str, ...]] = {
    "": (), "_kind": ("kind",), "_rule": ("rule",), "_region": ("region",),
    "_entity": ("entity",), "_stage": ("stage",), "_patient": ("patient_id",),
}
COPIED: dict[str, sa.types.TypeEngine[object]] = {
    'patient_id': sa.Integer(), 'region': sa.String(length=20), 'entity': sa.String(length=40),
    'stage': sa.String(length=20), 'next_follow_up': sa.Date(),
}


def _partial(where: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    sort_rank = sa.Column('sort_rank', sa.SmallInteger(),
                          sa.Computed(SORT_RANK, persisted=True), nullable=False)
    if op.get_bind().dialect.name == 'sqlite':
        # ADD COLUMN cannot add a stored generated column: the table is rebuilt.
        with op.batch_alter_table('alerts', schema=None, recreate='always') as batch_op:
            batch_op.add_column(sort_rank)
            for name, type_ in COPIED.items():
                batch_op.add_column(sa.Column(name, type_, nullable=True))
    else:
        op.add_column('alerts', sort_rank)
        for name, type_ in COPIED.items():
            op.add_column('alerts', sa.Column(name, type_, nullable=True))
    op.execute(
        "UPDATE alerts SET patient_id = lesions.patient_id, region = lesions.region,"
        " entity = coalesce(lesions.entity, lesions.assessed_entity),"
        " stage = lesions.current_stage, next_follow_up = lesions.next_follow_up"
        " FROM lesions WHERE lesions.id = alerts.lesion_id AND alerts.state <> 'cleared'")
    op.drop_index('ix_alerts_state_severity', table_name='alerts')
    op.create_index('ix_alerts_lesion', 'alerts', ['lesion_id'])
    for suffix, lead in WORKLIST_INDEXES.items():
        op.create_index(f'ix_alerts_worklist{suffix}', 'alerts',
                        [*lead, 'sort_rank', 'since', 'id'], **_partial(UNCLEARED))
    op.create_index('ix_alerts_snoozed', 'alerts', ['snoozed_until', 'severity'],
                    **_partial("state = 'snoozed'"))
    op.create_index('ix_alerts_undelivered', 'alerts', ['opened_at', 'id'],
                    **_partial(UNDELIVERED))
    op.create_table(
        'alert_counts',
        sa.Column('severity', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=14), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('severity', 'state', name=op.f('pk_alert_counts')),
    )
    op.execute("INSERT INTO alert_counts (severity, state, n) SELECT severity, state, count(*)"
               " FROM alerts WHERE state <> 'cleared' GROUP BY severity, state")


def downgrade() -> None:
    op.drop_table('alert_counts')
    op.drop_index('ix_alerts_undelivered', table_name='alerts')
    op.drop_index('ix_alerts_snoozed', table_name='alerts')
    for suffix in reversed(WORKLIST_INDEXES):
        op.drop_index(f'ix_alerts_worklist{suffix}', table_name='alerts')
    op.drop_index('ix_alerts_lesion', table_name='alerts')
    op.create_index('ix_alerts_state_severity', 'alerts', ['state', 'severity'])
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        for name in reversed(COPIED):
            batch_op.drop_column(name)
        batch_op.drop_column('sort_rank')
