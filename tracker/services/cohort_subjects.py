"""Keeps `cohort_subjects` equal to what `tracker.cohort.subject_rows` computes from scratch.

Written in the transactions that change what a row depends on, never later: the assessment
chunk replaces its lesions' rows (after it stored their stages), and whatever marks a lesion
for assessment removes its row (its stages are pending until the next assessment, and a
pending lesion is left out of the cohort, as it was before rows were kept). A deleted lesion's
row goes with it (`ON DELETE CASCADE`). Replace = delete then insert of the chunk's rows: one
statement each, recomputed from what the transaction sees, so a row can never drift.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from tracker.cohort import subject_rows
from tracker.cohort_table import CohortSubject


def forget_cohort_subjects(session: Session, lesion_ids: Sequence[int]) -> None:
    """The lesions' data changed: their rows go until they are assessed again."""
    if lesion_ids:
        session.execute(delete(CohortSubject).where(CohortSubject.lesion_id.in_(lesion_ids)))


def refresh_cohort_subjects(session: Session, lesion_ids: Sequence[int]) -> None:
    """Recompute the lesions' rows from their stored stages (only the current ones get one)."""
    if not lesion_ids:
        return
    rows = [s.row() for s in subject_rows(session, sorted(lesion_ids))]
    forget_cohort_subjects(session, lesion_ids)
    if rows:
        session.execute(insert(CohortSubject), rows)
