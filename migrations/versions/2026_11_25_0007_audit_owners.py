"""audit owners: file earlier audit events under their patient and lesion

Events written before 0005 added `patient_id`/`lesion_id` (and the scan's snooze-ended events
until now) carry neither, so the history pages did not show them. Filed here from the rows they
name, where those rows still exist; an event about a deleted row keeps what it has.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 19:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# target_type -> the table whose rows belong to a lesion (tracker.audit.OWNED_BY_A_LESION).
OWNED_BY_A_LESION = {"observation": "observations", "alert": "alerts", "treatment": "treatments"}


def upgrade() -> None:
    op.execute("UPDATE audit_events SET patient_id = target_id "
               "WHERE target_type = 'patient' AND patient_id IS NULL")
    op.execute("UPDATE audit_events SET lesion_id = target_id "
               "WHERE target_type = 'lesion' AND lesion_id IS NULL "
               "AND target_id IN (SELECT id FROM lesions)")
    for target_type, table in OWNED_BY_A_LESION.items():
        op.execute(f"UPDATE audit_events SET lesion_id = (SELECT t.lesion_id FROM {table} t "
                   f"WHERE t.id = audit_events.target_id) "
                   f"WHERE target_type = '{target_type}' AND lesion_id IS NULL")
    op.execute("UPDATE audit_events SET patient_id = (SELECT l.patient_id FROM lesions l "
               "WHERE l.id = audit_events.lesion_id) "
               "WHERE patient_id IS NULL AND lesion_id IS NOT NULL")


def downgrade() -> None:
    """Nothing to undo: the columns stay; which events were filed here is not recorded."""
