"""The stored record: patients, lesions, observations, and what the engine and clinicians said
about them.

Constraints live in the database too (codes, ranges, uniqueness, ON DELETE), so no writer can
store what the validation layer would have refused. Relationships are `lazy="raise"`: every
query says what it loads, so an N+1 fails loudly instead of slowly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker import cohort_table  # noqa: F401  (registers cohort_subjects)
from tracker.clock import now
from tracker.db import NEVER_REUSED_IDS, Base
from tracker.pacs import models as pacs_models  # noqa: F401  (registers the PACS tables)
from tracker.prognosis import table as prognosis_table  # noqa: F401  (registers prognosis_fits)
from tracker.timeline.models import MAX_ID_CHARS, MAX_NOTE_CHARS, MAX_SIZE_MM, MAX_STRUCTURE_CHARS
from tracker.vocabulary import (
    SEVERITY_RANK,
    TIMELINE_CODES,
    AlertKind,
    AlertState,
    Entity,
    Feature,
    Resolution,
    Role,
    Severity,
    Stage,
)


def code_check(column: str, codes: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """A column may hold only the vocabulary's codes (or NULL)."""
    values = ", ".join(f"'{c.value}'" for c in codes)
    return CheckConstraint(f"{column} IS NULL OR {column} IN ({values})", name=name or column)


def code_checks(*columns: str) -> tuple[CheckConstraint, ...]:
    """Columns named like a timeline field hold that field's codes (or NULL)."""
    return tuple(code_check(column, TIMELINE_CODES[column]) for column in columns)


def versions_current(data_version: int, assessed_version: int | None) -> bool:
    """An assessment is current when it saw the data version the lesion holds now."""
    return assessed_version is not None and assessed_version == data_version


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(MAX_ID_CHARS), unique=True)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    sex: Mapped[str | None] = mapped_column(String(1))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    lesions: Mapped[list[Lesion]] = relationship(
        back_populates="patient", lazy="raise", order_by="Lesion.external_id"
    )

    __table_args__ = (
        *code_checks("sex"),
        CheckConstraint("birth_year IS NULL OR birth_year >= 1900", name="birth_year_range"),
        # Patient search (`lower(external_id) LIKE '%part%'`) by trigrams on PostgreSQL
        # (pg_trgm, which the migration creates); the embedded SQLite default scans its rows.
        Index("ix_patients_external_id_trgm", text("lower(external_id) gin_trgm_ops"),
              postgresql_using="gin").ddl_if(dialect="postgresql"),
        # A search that names one patient's id, ignoring case, opens that patient: equality
        # on a btree (the trigram index answers it too, but reads every posting of its
        # trigrams: tens of milliseconds at 500,000 patients).
        Index("ix_patients_external_id_lower", text("lower(external_id)")),
    )


class Lesion(Base):
    """One calcification or ossification followed over time.

    `data_version` grows with every change to the lesion or its observations; the assessment
    records the version it saw, so a worker can tell a stale result from a current one and a
    chart can be cached by it. `assessment_due_at` is the outbox mark: set in the same
    transaction as the change, cleared by the assessment that saw that version. `dispatched_at`
    is when an assessment task for it was last handed to the broker, so the sweep re-sends
    only what was never sent or is really lost, not what waits in a backlog. `recheck_on` is
    the earliest date its assessment can change without new data (the daily scan's index).
    """

    __tablename__ = "lesions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(MAX_ID_CHARS))
    compartment: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(20))
    structure: Mapped[str | None] = mapped_column(String(MAX_STRUCTURE_CHARS))
    laterality: Mapped[str] = mapped_column(String(8))
    entity: Mapped[str | None] = mapped_column(String(40))
    event_date: Mapped[date | None] = mapped_column(Date)
    event_kind: Mapped[str | None] = mapped_column(String(16))

    data_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    assessment_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assessed_version: Mapped[int | None] = mapped_column(Integer)
    assessed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    engine_version: Mapped[str | None] = mapped_column(String(32))
    # The clinical-rules revision the engine implemented; with engine_version, what makes a
    # stored assessment stale when either changes.
    rules_revision: Mapped[int | None] = mapped_column(SmallInteger)
    # Lesion-level results of the latest assessment (per-observation stages are in Assessment).
    current_stage: Mapped[str | None] = mapped_column(String(20))
    # The latest observation's `assessments.resolution`: how sure a current `resolved` is.
    current_resolution: Mapped[str | None] = mapped_column(String(12))
    assessed_entity: Mapped[str | None] = mapped_column(String(40))
    entity_source: Mapped[str | None] = mapped_column(String(10))
    suggestions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    next_follow_up: Mapped[date | None] = mapped_column(Date)
    recheck_on: Mapped[date | None] = mapped_column(Date)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    patient: Mapped[Patient] = relationship(back_populates="lesions", lazy="raise")
    observations: Mapped[list[Observation]] = relationship(
        back_populates="lesion", lazy="raise", order_by="Observation.date"
    )
    transitions: Mapped[list[Transition]] = relationship(
        back_populates="lesion", lazy="raise", order_by="Transition.date"
    )
    treatments: Mapped[list[Treatment]] = relationship(
        back_populates="lesion",
        lazy="raise",
        passive_deletes=True,
        order_by="(Treatment.date, Treatment.id)",
    )
    alerts: Mapped[list[Alert]] = relationship(
        back_populates="lesion", lazy="raise", order_by="Alert.since"
    )

    @hybrid_property
    def assessment_current(self) -> bool:
        """The stored assessment saw the lesion's latest data (else its stage is pending)."""
        return versions_current(self.data_version, self.assessed_version)

    @assessment_current.inplace.expression
    @classmethod
    def _assessment_current_sql(cls) -> ColumnElement[bool]:
        return and_(cls.assessed_version.is_not(None), cls.assessed_version == cls.data_version)

    __table_args__ = (
        UniqueConstraint("patient_id", "external_id"),
        *code_checks("compartment", "region", "laterality", "entity", "event_kind"),
        CheckConstraint(
            "event_kind IS NULL OR event_date IS NOT NULL", name="event_kind_needs_date"
        ),
        code_check("assessed_entity", Entity),
        code_check("current_stage", Stage),
        code_check("current_resolution", Resolution),
        CheckConstraint(
            "entity_source IS NULL OR entity_source IN ('given', 'suggested')",
            name="entity_source",
        ),
        Index("ix_lesions_assessment_due", "assessment_due_at"),
        Index("ix_lesions_engine_version", "engine_version"),
        Index("ix_lesions_next_follow_up", "next_follow_up"),
        Index("ix_lesions_recheck_on", "recheck_on"),
        NEVER_REUSED_IDS,
    )


class Observation(Base):
    """One visit's finding. Sizes in separate columns so that scans can query them."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesion_id: Mapped[int] = mapped_column(ForeignKey("lesions.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    modality: Mapped[str] = mapped_column(String(2))
    visible: Mapped[bool] = mapped_column(Boolean, default=True)
    size1_mm: Mapped[float | None] = mapped_column(Float)
    size2_mm: Mapped[float | None] = mapped_column(Float)
    size3_mm: Mapped[float | None] = mapped_column(Float)
    density: Mapped[str | None] = mapped_column(String(10))
    margin: Mapped[str | None] = mapped_column(String(14))
    texture: Mapped[str | None] = mapped_column(String(14))
    pattern: Mapped[str | None] = mapped_column(String(16))
    pain: Mapped[int | None] = mapped_column(SmallInteger)
    study_uid: Mapped[str | None] = mapped_column(String(64))
    accession: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=now, onupdate=now
    )
    # Optimistic concurrency: every UPDATE says `WHERE version = <the version read>` and sets
    # the next one, so a writer that read an older row fails instead of overwriting (ETag).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    lesion: Mapped[Lesion] = relationship(back_populates="observations", lazy="raise")
    feature_rows: Mapped[list[ObservationFeature]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ObservationFeature.feature",
    )
    assessment: Mapped[Assessment | None] = relationship(
        back_populates="observation", lazy="raise", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("lesion_id", "date"),  # also the index scans read a lesion by
        *code_checks("modality", "density", "margin", "texture", "pattern"),
        *(
            CheckConstraint(
                f"{c} IS NULL OR ({c} > 0 AND {c} <= {MAX_SIZE_MM})", name=f"{c}_range"
            )
            for c in ("size1_mm", "size2_mm", "size3_mm")
        ),
        CheckConstraint("size2_mm IS NULL OR size2_mm <= size1_mm", name="size2_not_longest"),
        CheckConstraint("size3_mm IS NULL OR size3_mm <= size1_mm", name="size3_not_longest"),
        CheckConstraint("size3_mm IS NULL OR size2_mm IS NOT NULL", name="size3_needs_size2"),
        CheckConstraint(
            # density and margin may be NULL on a visible observation: "not assessed".
            "(visible AND size1_mm IS NOT NULL)"
            " OR (NOT visible AND size1_mm IS NULL AND density IS NULL AND margin IS NULL"
            " AND texture IS NULL AND pattern IS NULL)",
            name="visible_fields",
        ),
        CheckConstraint("pain IS NULL OR (pain >= 0 AND pain <= 10)", name="pain_range"),
        CheckConstraint(
            f"note IS NULL OR length(note) <= {MAX_NOTE_CHARS}", name="note_length"
        ),
        NEVER_REUSED_IDS,
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def size_mm(self) -> list[float]:
        return [s for s in (self.size1_mm, self.size2_mm, self.size3_mm) if s is not None]

    @property
    def features(self) -> list[str]:
        """Features in vocabulary order (the order evidence uses)."""
        return features_in_order(r.feature for r in self.feature_rows)


_FEATURE_ORDER = {f.value: i for i, f in enumerate(Feature)}


def features_in_order(codes: Iterable[str]) -> list[str]:
    """Feature codes in vocabulary order (the order evidence and the timeline format use)."""
    return sorted(codes, key=_FEATURE_ORDER.__getitem__)


class ObservationFeature(Base):
    """A feature seen at one visit: a row per code, so "every lesion with bone lysis" is a join."""

    __tablename__ = "observation_features"

    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True
    )
    feature: Mapped[str] = mapped_column(String(24), primary_key=True)

    __table_args__ = (
        code_check("feature", Feature),
        Index("ix_observation_features_feature", "feature"),
    )


class Treatment(Base):
    """A treatment of a lesion (lavage, ESWT, ...). The engine reads it as context and for the
    response of later observations; it never changes a stage."""

    __tablename__ = "treatments"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesion_id: Mapped[int] = mapped_column(ForeignKey("lesions.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=now, onupdate=now
    )

    lesion: Mapped[Lesion] = relationship(back_populates="treatments", lazy="raise")

    __table_args__ = (
        UniqueConstraint("lesion_id", "date", "kind"),  # also the index a lesion is read by
        *code_checks("kind"),
        CheckConstraint(
            f"note IS NULL OR length(note) <= {MAX_NOTE_CHARS}", name="note_length"
        ),
        NEVER_REUSED_IDS,
    )


class Assessment(Base):
    """The engine's stage for one observation, with the evidence behind it and, after a
    treatment, the response (clinical-rules §7a)."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), unique=True
    )
    lesion_id: Mapped[int] = mapped_column(
        ForeignKey("lesions.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    classifications: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # {"baseline": "YYYY-MM-DD", "change_pct": .., "nadir_change_pct": .., "category": ..}
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # How sure a `resolved` stage is (confirmed, expected, unconfirmed); NULL for other stages.
    resolution: Mapped[str | None] = mapped_column(String(12))
    engine_version: Mapped[str] = mapped_column(String(32))
    rules_revision: Mapped[int | None] = mapped_column(SmallInteger)
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    observation: Mapped[Observation] = relationship(back_populates="assessment", lazy="raise")

    __table_args__ = (
        code_check("stage", Stage),
        code_check("resolution", Resolution),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        NEVER_REUSED_IDS,
    )


class Transition(Base):
    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesion_id: Mapped[int] = mapped_column(
        ForeignKey("lesions.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[date] = mapped_column(Date)
    from_stage: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[list[str]] = mapped_column(JSON)
    unexpected: Mapped[bool] = mapped_column(Boolean, default=False)

    lesion: Mapped[Lesion] = relationship(back_populates="transitions", lazy="raise")

    __table_args__ = (
        UniqueConstraint("lesion_id", "date"),
        code_check("from_stage", Stage),
        code_check("to_stage", Stage),
        NEVER_REUSED_IDS,
    )


# Open alerts (and snoozes) before acknowledged ones, then by severity (`Severity` order).
SORT_RANK_SQL = (
    "(CASE WHEN state = 'acknowledged' THEN 3 ELSE 0 END) + (CASE severity "
    + " ".join(f"WHEN '{s.value}' THEN {rank}" for s, rank in SEVERITY_RANK.items())
    + " ELSE 2 END)"
)
ACKNOWLEDGED_RANK = 3

UNCLEARED = "state <> 'cleared'"
UNDELIVERED = "severity = 'urgent' AND state = 'open' AND notified_at IS NULL"
# Each worklist filter's index leads with its column, then the sort (one owner: the migration
# creates the same list).
WORKLIST_INDEXES: dict[str, tuple[str, ...]] = {
    "": (), "_kind": ("kind",), "_rule": ("rule",), "_region": ("region",),
    "_entity": ("entity",), "_stage": ("stage",), "_patient": ("patient_id",),
}


class Alert(Base):
    """An alert the engine raised. The engine owns kind/severity/since/reason and clearing; a
    clinician owns acknowledgement and snooze, which re-assessment never overwrites while the
    alert stays open. At most one uncleared alert per lesion and kind (a partial unique index),
    so overlapping scans cannot duplicate one."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesion_id: Mapped[int] = mapped_column(ForeignKey("lesions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str] = mapped_column(String(64))
    since: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(14), default=AlertState.OPEN.value)
    state_by: Mapped[str | None] = mapped_column(String(64))
    state_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state_reason: Mapped[str | None] = mapped_column(Text)
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The worklist's sort key as one column (handled last, then most severe): each keyset
    # page is then one range of one index.
    sort_rank: Mapped[int] = mapped_column(SmallInteger, Computed(SORT_RANK_SQL, persisted=True))
    # The lesion's filter columns, copied (`tracker.alert_columns`) so that every worklist
    # filter is an index on the alerts alone: no join to 1 M lesions per candidate alert.
    patient_id: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(20))
    entity: Mapped[str | None] = mapped_column(String(40))  # the lesion's, else assessed
    stage: Mapped[str | None] = mapped_column(String(20))
    next_follow_up: Mapped[date | None] = mapped_column(Date)

    lesion: Mapped[Lesion] = relationship(back_populates="alerts", lazy="raise")

    __table_args__ = (
        code_check("kind", AlertKind),
        code_check("severity", Severity),
        code_check("state", AlertState),
        CheckConstraint(
            "state <> 'snoozed' OR snoozed_until IS NOT NULL", name="snooze_needs_date"
        ),
        Index(
            "uq_alerts_lesion_kind_uncleared",
            "lesion_id",
            "kind",
            unique=True,
            postgresql_where=text("state <> 'cleared'"),
            sqlite_where=text("state <> 'cleared'"),
        ),
        Index("ix_alerts_lesion", "lesion_id"),
        *(
            Index(f"ix_alerts_worklist{suffix}", *lead, "sort_rank", "since", "id",
                  postgresql_where=text(UNCLEARED), sqlite_where=text(UNCLEARED))
            for suffix, lead in WORKLIST_INDEXES.items()
        ),
        # Snoozes that ran out but are not reopened yet (the header counts them as open).
        Index("ix_alerts_snoozed", "snoozed_until", "severity",
              postgresql_where=text("state = 'snoozed'"), sqlite_where=text("state = 'snoozed'")),
        # The e-mail digest's query (notifications): urgent, open, not yet sent.
        Index("ix_alerts_undelivered", "opened_at", "id",
              postgresql_where=text(UNDELIVERED), sqlite_where=text(UNDELIVERED)),
        NEVER_REUSED_IDS,
    )


class AlertCount(Base):
    """How many uncleared alerts there are per severity and state, maintained by every writer
    of alerts in its own transaction (`tracker.alert_counts`): the header's counts without a
    scan of the alerts on every page view."""

    __tablename__ = "alert_counts"

    severity: Mapped[str] = mapped_column(String(8), primary_key=True)
    state: Mapped[str] = mapped_column(String(14), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
class PatientSummary(Base):
    """What the patient list shows of a patient, kept by `tracker.summaries` in the
    transactions that change the patient's lesions, observations or alerts: the list and its
    search read one row per patient instead of aggregating every alert and visit per request.

    The order index holds the list's sort (most open urgent, warning, info alerts first, then
    the id) as ascending keys, so a page after a given row is one row comparison (keyset)."""

    __tablename__ = "patient_summaries"

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    external_id: Mapped[str] = mapped_column(String(MAX_ID_CHARS))
    urgent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    warning: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    info: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lesions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_visit: Mapped[date | None] = mapped_column(Date)
    next_follow_up: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_patient_summaries_order", text("(-urgent)"), text("(-warning)"),
              text("(-info)"), text("external_id")),
    )



class AuditEvent(Base):
    """Who changed what, when, with the before and after, written in the change's transaction."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=now, server_default=func.now()
    )
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The record the change belongs to, kept without a foreign key so the history of a deleted
    # observation or a merged-away lesion stays readable.
    patient_id: Mapped[int | None] = mapped_column(Integer)
    lesion_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_events_target", "target_type", "target_id"),
        Index("ix_audit_events_patient", "patient_id", "at"),
        Index("ix_audit_events_lesion", "lesion_id", "at"),
        NEVER_REUSED_IDS,
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    # Every signed-in session carries the generation it was issued under; raising it (sign-out,
    # password change, deactivation) revokes every session of this user at once.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (code_check("role", Role), NEVER_REUSED_IDS)


class ApiToken(Base):
    """A machine client's token; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = NEVER_REUSED_IDS


class CsvRejects(Base):
    """The bad rows of a person's last CSV upload on the web, as the CSV they download (what
    they typed, with each row's errors): one per user, replaced by their next upload."""

    __tablename__ = "csv_rejects"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
