"""The stored side of measurement reports and the PACS: each SR report received (from the PACS
or uploaded) by SOP Instance UID with what became of it, the observations it produced, the
key images of those observations, the write-back outbox and the PACS sync state.

Only SQLAlchemy and `tracker.db`: `tracker.models` imports this module so that every table is on
`Base.metadata`, and this one refers to its tables by name.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column

from tracker.clock import now
from tracker.db import NEVER_REUSED_IDS, Base

UID_CHARS = 64


class ReportState(StrEnum):
    PENDING = "pending"      # found in the PACS, not yet fully handled (retried)
    IMPORTED = "imported"
    HELD = "held"            # needs a person's input: in the inbox
    REJECTED = "rejected"    # invalid, or rejected from the inbox


class ReportSource(StrEnum):
    PACS = "pacs"
    UPLOAD = "upload"        # the import page or the API
    FILE = "file"            # `tracker import-sr`


class WriteBackState(StrEnum):
    PENDING = "pending"
    SENT = "sent"


def _one_of(column: str, codes: type[StrEnum]) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(c.value) for c in codes)})",
                              name=column)


class SrReport(Base):
    """One DICOM SR measurement report, recorded once by its SOP Instance UID, so that a
    second sync or upload of it never imports it twice. `content` is the report as received:
    what an inbox decision imports, and the source a write-back SR refers to."""

    __tablename__ = "sr_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    sop_instance_uid: Mapped[str] = mapped_column(sa.String(UID_CHARS), unique=True)
    study_uid: Mapped[str] = mapped_column(sa.String(UID_CHARS))
    series_uid: Mapped[str] = mapped_column(sa.String(UID_CHARS))
    sop_class_uid: Mapped[str] = mapped_column(sa.String(UID_CHARS))
    source: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[str] = mapped_column(sa.String(10), default=ReportState.PENDING.value)
    patient: Mapped[str | None] = mapped_column(sa.String(64))  # PatientID as the report says
    content_date: Mapped[date | None] = mapped_column(sa.Date)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # [{"path", "message", "kind", "subject"}]: why it is held or rejected
    problems: Mapped[list[dict[str, str]] | None] = mapped_column(sa.JSON(none_as_null=True))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    content: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary))
    first_seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=now)
    last_seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=now)
    handled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    handled_by: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (
        _one_of("state", ReportState),
        _one_of("source", ReportSource),
        sa.Index("ix_sr_reports_state", "state", "content_date"),
        NEVER_REUSED_IDS,
    )


class ReportObservation(Base):
    """An observation a report produced (or updated)."""

    __tablename__ = "sr_report_observations"

    report_id: Mapped[int] = mapped_column(sa.ForeignKey("sr_reports.id", ondelete="CASCADE"),
                                           primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True, index=True)


class OfReportedObservation:
    """Columns of a row about one observation as one report gave it (a key image, a write-back):
    its own id, and both parents, with which it goes. First in the table, as created."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)
    observation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("observations.id", ondelete="CASCADE"), index=True, sort_order=-1)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("sr_reports.id", ondelete="CASCADE"),
                                           index=True, sort_order=-1)


class KeyImage(OfReportedObservation, Base):
    """An image an observation was measured on (in the PACS), and the measurement's mark:
    SCOORD graphic type and [[column, row], ...] in the image's pixels; `frame` 0 for a
    single-frame image."""

    __tablename__ = "key_images"

    study_uid: Mapped[str] = mapped_column(sa.String(UID_CHARS))
    series_uid: Mapped[str] = mapped_column(sa.String(UID_CHARS))
    sop_instance_uid: Mapped[str] = mapped_column(sa.String(UID_CHARS))
    sop_class_uid: Mapped[str] = mapped_column(sa.String(UID_CHARS))
    frame: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    graphic_type: Mapped[str | None] = mapped_column(sa.String(16))
    graphic_data: Mapped[list[list[float]] | None] = mapped_column(sa.JSON(none_as_null=True))
    measured_mm: Mapped[float | None] = mapped_column(sa.Float)

    __table_args__ = (
        sa.UniqueConstraint("observation_id", "report_id", "sop_instance_uid", "frame"),
        NEVER_REUSED_IDS,
    )

    @property
    def points(self) -> tuple[tuple[float, float], ...]:
        return tuple((float(c), float(r)) for c, r in (self.graphic_data or []))


class WriteBack(OfReportedObservation, Base):
    """The write-back outbox: one row per SR to store in the PACS (one per assessment version
    of a visit read from a report), written in the assessment's transaction and sent by a task
    with back-off, so that a PACS outage never blocks an assessment."""

    __tablename__ = "pacs_write_backs"

    sop_instance_uid: Mapped[str | None] = mapped_column(sa.String(UID_CHARS))  # once built
    stage: Mapped[str] = mapped_column(sa.String(20))
    confidence: Mapped[float] = mapped_column(sa.Float)
    next_follow_up: Mapped[date | None] = mapped_column(sa.Date)
    engine_version: Mapped[str] = mapped_column(sa.String(32))
    data_version: Mapped[int] = mapped_column(sa.Integer)
    assessed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    state: Mapped[str] = mapped_column(sa.String(8), default=WriteBackState.PENDING.value)
    attempts: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=now)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=now)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        # one SR per assessment version of a visit
        sa.UniqueConstraint("observation_id", "data_version", "engine_version", "stage",
                            name="uq_pacs_write_backs_version"),
        _one_of("state", WriteBackState),
        sa.Index("ix_pacs_write_backs_due", "state", "next_attempt_at"),
        NEVER_REUSED_IDS,
    )


class PacsSync(Base):
    """The PACS sync's state (one row): reports written on or after `watermark` - the overlap
    window are asked for next; when it last succeeded, and the last error."""

    __tablename__ = "pacs_sync"

    id: Mapped[int] = mapped_column(primary_key=True)
    watermark: Mapped[date | None] = mapped_column(sa.Date)
    last_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_found: Mapped[int | None] = mapped_column(sa.Integer)

