"""How the PACS link is doing: the last sync and its error, the backlog of reports listed but
not yet handled, the inbox, the reports that failed or were rejected, and the write-back outbox.
Read only (the admin page, `tracker pacs status`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.pacs.models import PacsSync, ReportState, SrReport, WriteBack, WriteBackState
from tracker.queries.columns import iso

RECENT_ERRORS = 20


def pacs_status(session: Session) -> dict[str, Any]:
    """The `calcitrack-pacs-status/1` document."""
    state = session.get(PacsSync, 1)
    counts = dict(session.execute(select(SrReport.state, func.count())
                                  .group_by(SrReport.state)).tuples().all())
    problems = session.execute(
        select(SrReport.id, SrReport.sop_instance_uid, SrReport.patient, SrReport.state,
               SrReport.attempts, SrReport.reason, SrReport.last_seen_at, SrReport.handled_at)
        .where((SrReport.state == ReportState.REJECTED.value)
               | ((SrReport.state == ReportState.PENDING.value) & (SrReport.attempts > 0)))
        .order_by(func.coalesce(SrReport.handled_at, SrReport.last_seen_at).desc())
        .limit(RECENT_ERRORS)).all()
    outbox = dict(session.execute(select(WriteBack.state, func.count())
                                  .group_by(WriteBack.state)).tuples().all())
    failing = session.execute(
        select(WriteBack.id, WriteBack.attempts, WriteBack.last_error, WriteBack.next_attempt_at)
        .where(WriteBack.state == WriteBackState.PENDING.value, WriteBack.attempts > 0)
        .order_by(WriteBack.next_attempt_at).limit(RECENT_ERRORS)).all()
    return {
        "format": "calcitrack-pacs-status/1",
        "last_attempt_at": iso(state.last_attempt_at) if state else None,
        "last_success_at": iso(state.last_success_at) if state else None,
        "last_error": state.last_error if state else None,
        "watermark": iso(state.watermark) if state else None,
        "last_found": state.last_found if state else None,
        "backlog": counts.get(ReportState.PENDING.value, 0),
        "reports": {s.value: counts.get(s.value, 0) for s in ReportState},
        "errors": [{"id": r.id, "sop_instance_uid": r.sop_instance_uid, "patient": r.patient,
                    "state": r.state, "attempts": r.attempts, "reason": r.reason,
                    "at": iso(r.handled_at or r.last_seen_at)} for r in problems],
        "write_back": {
            "pending": outbox.get(WriteBackState.PENDING.value, 0),
            "sent": outbox.get(WriteBackState.SENT.value, 0),
            "failing": [{"id": w.id, "attempts": w.attempts, "error": w.last_error,
                         "next_attempt_at": iso(w.next_attempt_at)} for w in failing],
        },
    }

