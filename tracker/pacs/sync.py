"""Reading new measurement reports from the PACS: QIDO-RS for the TID 1500 SRs written since the
stored watermark (less an overlap window), each recorded as pending as soon as it is listed,
then retrieved (WADO-RS) and imported, held or rejected one by one, each in its own transaction
(`services.reports.import_pacs_report`): one bad report never blocks the others.

Nothing is skipped: a listed report stays pending (and is retried by every later sync) until it
is handled, and the watermark moves only up to the oldest report still pending. ContentDate is
day-granular and a report may reach the PACS days after it was written, so each sync asks again
for the watermark's day and the OVERLAP_DAYS before it; a report seen again changes nothing. A
PACS that cannot be reached stops the sync (PacsUnavailable: the CLI exits 3, the task retries
with back-off); what was handled before stays handled.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

from pydicom import dcmwrite
from pydicom.dataset import Dataset
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tracker.clock import now
from tracker.db import UNAVAILABLE, insert_of
from tracker.errors import InvalidInput, Problem
from tracker.interop.sr_file import one_line
from tracker.pacs.client import InstanceRef, PacsClient, PacsRefused, PacsUnavailable
from tracker.pacs.models import PacsSync, ReportState, SrReport
from tracker.services import reports
from tracker.tally import Tally

log = logging.getLogger(__name__)

OVERLAP_DAYS = 3      # late arrivals: the watermark's day and this many before are asked again
FIRST_SYNC_DAYS = 30  # the first sync reads reports written this many days back (or --since)
MAX_ATTEMPTS = 5      # retrievals the PACS refuses before a report is rejected
REFUSED_SETTINGS = (401, 403)  # every request would be refused: stop, as when unreachable
STATE_ID = 1
HINT = " (an SR has none outside the spine)"


@dataclass
class SyncReport(Tally):
    UNSAID: ClassVar[frozenset[str]] = frozenset({"changed_lesion_ids"})

    since: date
    found: int = 0
    imported: int = 0
    held: int = 0
    rejected: int = 0
    skipped: int = 0
    failed: int = 0
    backlog: int = 0
    changed_lesion_ids: list[int] = field(default_factory=list)


def require_pacs(client: PacsClient | None) -> PacsClient:
    if client is None:
        raise InvalidInput([Problem("DICOMWEB_URL", "is not set: there is no PACS to read from"
                                                    " (see the README, PACS)")])
    return client


def _state(session: Session) -> PacsSync:
    session.execute(insert_of(session, PacsSync).values(id=STATE_ID).on_conflict_do_nothing(
        index_elements=["id"]))
    found = session.get(PacsSync, STATE_ID, populate_existing=True)
    assert found is not None
    return found


def _note(session: Session, **values: Any) -> None:
    _state(session)
    session.execute(update(PacsSync).where(PacsSync.id == STATE_ID).values(**values))
    session.commit()


def _bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    dcmwrite(out, ds)
    return out.getvalue()


def _pending(session: Session) -> list[tuple[int, InstanceRef]]:
    rows = session.execute(select(SrReport.id, SrReport.study_uid, SrReport.series_uid,
                                  SrReport.sop_instance_uid, SrReport.sop_class_uid)
                           .where(SrReport.state == ReportState.PENDING.value)
                           .order_by(SrReport.content_date, SrReport.id)).all()
    session.rollback()
    return [(r.id, InstanceRef(r.study_uid, r.series_uid, r.sop_instance_uid, r.sop_class_uid))
            for r in rows]


def _handle(session: Session, client: PacsClient, report_id: int, ref: InstanceRef,
            today: date, out: SyncReport) -> None:
    """Retrieve and import one pending report, in its own transaction."""
    try:
        data = _bytes(client.retrieve(ref))
    except PacsRefused as exc:
        if exc.status in REFUSED_SETTINGS:
            raise
        reports.note_failed_retrieval(session, report_id, str(exc), MAX_ATTEMPTS)
        out.failed += 1
        return
    try:
        done = reports.import_pacs_report(session, report_id, data, today=today, hint=HINT)
    except (*UNAVAILABLE, PacsUnavailable):
        raise
    except Exception as exc:  # one report's failure never blocks the others
        log.warning("report %s could not be imported", ref.sop_instance_uid, exc_info=True)
        reports.note_failed_retrieval(session, report_id,
                                      f"could not be imported: {one_line(exc)}", MAX_ATTEMPTS)
        out.failed += 1
        return
    out.imported += len(done.imported)
    out.held += len(done.held)
    out.rejected += len(done.rejected)
    out.skipped += len(done.skipped)
    out.changed_lesion_ids += done.summary.changed_lesion_ids


def _new_watermark(session: Session, old: date | None, newest: date | None) -> date | None:
    """Up to the oldest report still pending; else the newest report seen."""
    oldest_pending = session.scalar(select(func.min(SrReport.content_date)).where(
        SrReport.state == ReportState.PENDING.value))
    if oldest_pending is not None:
        return oldest_pending  # pending reports are retried anyway; this re-reads their days
    return max((d for d in (old, newest) if d is not None), default=None)


def sync_reports(session: Session, client: PacsClient, *, today: date,
                 since: date | None = None) -> SyncReport:
    """List, record and handle the reports written since `since` (default: the watermark less
    OVERLAP_DAYS), then every report still pending. The caller queues the assessments of
    `changed_lesion_ids`."""
    old = _state(session).watermark
    start = since or (old - timedelta(days=OVERLAP_DAYS) if old else
                      today - timedelta(days=FIRST_SYNC_DAYS))
    session.commit()
    _note(session, last_attempt_at=now())
    out = SyncReport(since=start)
    try:
        refs = client.search_reports(start)
        out.found = len(refs)
        reports.record_found(session, [
            {"sop_instance_uid": r.sop_instance_uid, "study_uid": r.study_uid,
             "series_uid": r.series_uid, "sop_class_uid": r.sop_class_uid,
             "content_date": r.content_date} for r in refs])
        for report_id, ref in _pending(session):
            _handle(session, client, report_id, ref, today, out)
    except (PacsUnavailable, PacsRefused) as exc:
        session.rollback()
        _note(session, last_error=str(exc))
        raise
    newest = max((r.content_date for r in refs if r.content_date), default=None)
    out.backlog = len(_pending(session))
    _note(session, watermark=_new_watermark(session, old, newest), last_success_at=now(),
          last_error=None, last_found=out.found)
    out.changed_lesion_ids = sorted(set(out.changed_lesion_ids))
    return out
