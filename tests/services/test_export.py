"""The backup export, streamed patient by patient: the same text as the whole document."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy.orm import Session

from tracker import demo
from tracker.export import export_text, export_timeline, patient_documents
from tracker.services.imports import import_timeline
from tracker.timeline.reader import validate_timeline


def test_streamed_export_is_the_whole_document_byte_for_byte(session: Session) -> None:
    assert "".join(export_text(session)) == json.dumps(export_timeline(session), indent=2)
    doc = demo.document(date.today())
    import_timeline(session, validate_timeline(doc, today=date.today()), actor="t")
    whole = export_timeline(session)
    assert len(whole["patients"]) == len(doc["patients"]) > 3
    assert "".join(export_text(session)) == json.dumps(whole, indent=2, ensure_ascii=False)
    # loaded a few patients at a time, nothing lost or repeated at the chunk edges
    for chunk in (1, 2, 3, len(doc["patients"])):
        assert list(patient_documents(session, chunk=chunk)) == whole["patients"], chunk
