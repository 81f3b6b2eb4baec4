"""`event_kind` is stored, changed and cleared together with the lesion's `event_date`."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import AuditEvent, Lesion
from tracker.services.imports import import_timeline
from tracker.timeline.reader import validate_timeline

TODAY = date(2026, 11, 25)


def doc(**lesion: Any) -> dict[str, Any]:
    return {"format": "lesion-timeline/1", "patients": [{"id": "P-1", "lesions": [{
        "id": "L1", "site": {"compartment": "soft_tissue", "region": "thigh",
                             "laterality": "left"},
        "entity": "ho", **lesion,
        "observations": [{"date": "2024-03-01", "modality": "XR", "size_mm": [30]}]}]}]}


def lesion_of(session: Session) -> tuple[date | None, str | None]:
    session.expire_all()
    row = session.scalar(select(Lesion))
    assert row is not None
    return row.event_date, row.event_kind


def test_event_kind_follows_event_date_through_import(session: Session) -> None:
    first = validate_timeline(doc(event_date="2024-01-15", event_kind="arthroplasty"),
                              today=TODAY)
    import_timeline(session, first, actor="t")
    assert lesion_of(session) == (date(2024, 1, 15), "arthroplasty")
    again = import_timeline(session, first, actor="t")
    assert again.lesions_updated == 0 and again.changed_lesion_ids == []

    import_timeline(session, validate_timeline(doc(event_date="2024-01-15",
                                                   event_kind="trauma"), today=TODAY), actor="t")
    assert lesion_of(session) == (date(2024, 1, 15), "trauma")
    update = session.scalars(select(AuditEvent).where(AuditEvent.action == "lesion.update")).one()
    assert (update.before or {})["event_kind"] == "arthroplasty"
    assert (update.after or {})["event_kind"] == "trauma"

    import_timeline(session, validate_timeline(doc(), today=TODAY), actor="t")
    assert lesion_of(session) == (None, None)
