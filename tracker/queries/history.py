"""The history pages: who changed what and when, with before -> after per field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.models import AuditEvent
from tracker.queries.paging import Page


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class HistoryEntry:
    event: AuditEvent
    changes: list[FieldChange]


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[FieldChange]:
    """The fields an event changed: every field of a creation or removal, else the differing."""
    a, b = before or {}, after or {}
    return [FieldChange(k, a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b])
            if a.get(k) != b.get(k)]


def history(session: Session, *, patient_id: int | None = None, lesion_id: int | None = None,
            page: int = 1, per_page: int = 50) -> Page[HistoryEntry]:
    """Who changed what and when, newest first, with before -> after per field."""
    where = (AuditEvent.lesion_id == lesion_id if lesion_id is not None
             else AuditEvent.patient_id == patient_id)
    total = session.scalar(select(func.count(AuditEvent.id)).where(where)) or 0
    events = session.scalars(
        select(AuditEvent).where(where).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(per_page).offset((max(1, page) - 1) * per_page)
    )
    items = [HistoryEntry(e, _changes(e.before, e.after)) for e in events]
    return Page(items, int(total), max(1, page), per_page, first=page <= 1)


# The audit actions that create an observation or a treatment: their actor recorded it.
RECORDING_ACTIONS = {"observation": "observation.record", "treatment": "treatment.record"}


def recorded_by(session: Session, target_type: str, target_ids: Sequence[int]) -> dict[int, str]:
    """Who recorded each of these observations (or treatments), from the audit: one statement.
    An entry that came in by an import has no recording event, and so no owner here."""
    if not target_ids:
        return {}
    rows = session.execute(
        select(AuditEvent.target_id, AuditEvent.actor)
        .where(AuditEvent.action == RECORDING_ACTIONS[target_type],
               AuditEvent.target_type == target_type,
               AuditEvent.target_id.in_(list(target_ids)))
        .order_by(AuditEvent.id)
    ).all()
    out: dict[int, str] = {}
    for target_id, actor in rows:
        if target_id is not None:
            out.setdefault(target_id, actor)
    return out
