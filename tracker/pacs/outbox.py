"""Sending the write-back outbox (`services.write_back` fills it in the assessment's
transaction): each due row becomes the TID 1500 SR of `writeback.write_back_report`, in the
study of the report the visit was read from, referencing that report and the key images, and is
stored in the PACS (STOW-RS). Each row is its own transaction, under its row lock.

A row the PACS does not take waits longer before each new attempt (doubling from
RETRY_SECONDS up to MAX_RETRY_SECONDS) and is never dropped; beat's periodic send picks up what
is due. The PACS unreachable stops the round (PacsUnavailable) after noting the attempt. The
SR's UIDs are derived from the assessment version, so a row sent twice is one SR in the PACS.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import timedelta

from pydicom import dcmread
from pydicom.dataset import Dataset
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload, undefer

from tracker.clock import now
from tracker.interop.sr_file import one_line
from tracker.models import Lesion, Observation
from tracker.pacs.client import InstanceRef, PacsClient, PacsRefused, PacsUnavailable
from tracker.pacs.models import KeyImage, SrReport, WriteBack, WriteBackState
from tracker.pacs.writeback import Mark, Reading, write_back_report
from tracker.tally import Tally
from tracker.vocabulary import Laterality, Region, Stage

log = logging.getLogger(__name__)

RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 6 * 3600
ROUND = 200  # rows sent per run; the next run takes the rest


@dataclass
class SendReport(Tally):
    sent: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_RETRY_SECONDS, RETRY_SECONDS * 2 ** max(0, attempts - 1)))


def _claim(session: Session, row_id: int) -> WriteBack | None:
    """The row if it is still due, locked (a concurrent sender skips it)."""
    query = (select(WriteBack).where(WriteBack.id == row_id,
                                     WriteBack.state == WriteBackState.PENDING.value,
                                     WriteBack.next_attempt_at <= now())
             .execution_options(populate_existing=True))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def build(session: Session, row: WriteBack) -> tuple[Dataset, str]:
    """The SR of an outbox row (pydicom Dataset) and its SOP Instance UID."""
    observation = session.scalar(select(Observation).where(
        Observation.id == row.observation_id).options(
        selectinload(Observation.lesion).selectinload(Lesion.patient)))
    source = session.scalar(select(SrReport).where(SrReport.id == row.report_id)
                            .options(undefer(SrReport.content)))
    if observation is None or source is None or not source.content:
        raise ValueError("the visit or the report it was read from is gone")
    lesion = observation.lesion
    images = list(session.scalars(select(KeyImage).where(
        KeyImage.observation_id == row.observation_id, KeyImage.report_id == row.report_id)
        .order_by(KeyImage.graphic_type.is_(None), KeyImage.id)))
    refs = [InstanceRef(k.study_uid, k.series_uid, k.sop_instance_uid, k.sop_class_uid)
            for k in images]
    marked = next((k for k in images if k.graphic_type and k.points), None)
    mark = None if marked is None else Mark(refs[images.index(marked)], marked.graphic_type or "",
                                             marked.points, marked.frame or None)
    reading = Reading(
        patient_id=lesion.patient.external_id, lesion_id=lesion.external_id,
        region=Region(lesion.region), laterality=Laterality(lesion.laterality),
        visit=observation.date, stage=Stage(row.stage), confidence=row.confidence,
        next_follow_up=row.next_follow_up, engine_version=row.engine_version,
        version=row.data_version, assessed_at=row.assessed_at)
    ds = write_back_report(dcmread(io.BytesIO(source.content)), reading,
                           list(dict.fromkeys(refs)), mark)
    return ds, str(ds.SOPInstanceUID)


def _failed(session: Session, row: WriteBack, error: str) -> None:
    row.attempts += 1
    row.last_error = error
    row.next_attempt_at = now() + retry_delay(row.attempts)
    session.commit()


def send_write_backs(session: Session, client: PacsClient, *, limit: int = ROUND) -> SendReport:
    """Send every due outbox row (at most `limit`), oldest first."""
    out = SendReport()
    due = list(session.scalars(select(WriteBack.id).where(
        WriteBack.state == WriteBackState.PENDING.value, WriteBack.next_attempt_at <= now())
        .order_by(WriteBack.next_attempt_at, WriteBack.id).limit(limit)))
    session.rollback()
    for row_id in due:
        row = _claim(session, row_id)
        if row is None:
            session.rollback()
            continue
        try:
            ds, uid = build(session, row)
            stored = client.store([ds])
        except PacsUnavailable as exc:
            _failed(session, row, str(exc))
            raise
        except (PacsRefused, ValueError, KeyError) as exc:
            log.warning("write-back %s not sent", row_id, exc_info=True)
            _failed(session, row, one_line(exc))
            out.failed += 1
            continue
        if uid not in stored.stored:
            reason = "; ".join(r for u, r in stored.failed if u == uid) or "not stored"
            _failed(session, row, f"the PACS did not store the SR: {reason}")
            out.failed += 1
            continue
        session.execute(update(WriteBack).where(WriteBack.id == row.id).values(
            state=WriteBackState.SENT.value, sent_at=now(), sop_instance_uid=uid,
            last_error=None))
        session.commit()
        out.sent += 1
    return out
