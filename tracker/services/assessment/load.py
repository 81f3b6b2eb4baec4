"""Assessment, step one: lock a chunk of lesions and read what their assessment needs (the
engine's input and the stored results it is compared with), as plain rows in a fixed number of
statements, whatever the chunk size. Every statement is built once, here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import BindParameter

from tracker.models import (
    Alert,
    Assessment,
    Lesion,
    Observation,
    ObservationFeature,
    Transition,
    Treatment,
    features_in_order,
)
from tracker.vocabulary import AlertState

LESIONS: Table = Lesion.__table__  # type: ignore[assignment]
ASSESSMENTS: Table = Assessment.__table__  # type: ignore[assignment]
TRANSITIONS: Table = Transition.__table__  # type: ignore[assignment]
ALERTS: Table = Alert.__table__  # type: ignore[assignment]
OBSERVATIONS: Table = Observation.__table__  # type: ignore[assignment]
FEATURES: Table = ObservationFeature.__table__  # type: ignore[assignment]
TREATMENTS: Table = Treatment.__table__  # type: ignore[assignment]

# Every statement of a chunk is built once, here, with its ids as an expanding parameter: its
# cache key is then computed once per process, not per execution (1.5 ms of a one-lesion task).
IDS: BindParameter[list[int]] = bindparam("b_ids", expanding=True)

# What the engine and the diff read of a lesion (not the bookkeeping columns nobody compares).
_READ_LESION_COLUMNS = (
    "id", "patient_id", "compartment", "region", "entity", "event_date", "event_kind",
    "data_version", "assessment_due_at", "recheck_on", "current_stage", "current_resolution",
    "assessed_entity", "entity_source", "suggestions", "next_follow_up", "engine_version",
    "rules_revision", "assessed_version",
)
_READ_LESIONS = (
    select(*(LESIONS.c[k] for k in _READ_LESION_COLUMNS))
    .where(LESIONS.c.id.in_(IDS))
    .order_by(LESIONS.c.id)
)
# PostgreSQL locks the rows it reads: FOR NO KEY UPDATE still lets observations be inserted.
_LOCK_AND_READ_LESIONS = _READ_LESIONS.with_for_update(key_share=True, of=LESIONS)
# SQLite: a no-op UPDATE as the transaction's first statement takes the write lock.
_SQLITE_LOCK = (
    update(LESIONS).where(LESIONS.c.id.in_(IDS)).values(data_version=LESIONS.c.data_version)
)
# Observations with their features and stored stage in one statement (a row per feature).
_READ_OBSERVATIONS = (
    select(
        OBSERVATIONS.c.lesion_id, OBSERVATIONS.c.id, OBSERVATIONS.c.date, OBSERVATIONS.c.modality,
        OBSERVATIONS.c.visible, OBSERVATIONS.c.size1_mm, OBSERVATIONS.c.size2_mm,
        OBSERVATIONS.c.size3_mm, OBSERVATIONS.c.density, OBSERVATIONS.c.margin,
        OBSERVATIONS.c.texture, OBSERVATIONS.c.pattern, OBSERVATIONS.c.pain, FEATURES.c.feature,
        ASSESSMENTS.c.id.label("stage_id"), ASSESSMENTS.c.stage, ASSESSMENTS.c.confidence,
        ASSESSMENTS.c.evidence, ASSESSMENTS.c.classifications, ASSESSMENTS.c.response,
        ASSESSMENTS.c.resolution, ASSESSMENTS.c.engine_version, ASSESSMENTS.c.rules_revision,
    )
    .select_from(
        OBSERVATIONS.outerjoin(FEATURES, FEATURES.c.observation_id == OBSERVATIONS.c.id)
        .outerjoin(ASSESSMENTS, ASSESSMENTS.c.observation_id == OBSERVATIONS.c.id)
    )
    .where(OBSERVATIONS.c.lesion_id.in_(IDS))
    .order_by(OBSERVATIONS.c.lesion_id, OBSERVATIONS.c.date, FEATURES.c.feature)
)
_READ_TREATMENTS = (
    select(TREATMENTS.c.lesion_id, TREATMENTS.c.date, TREATMENTS.c.kind, TREATMENTS.c.note)
    .where(TREATMENTS.c.lesion_id.in_(IDS))
    .order_by(TREATMENTS.c.lesion_id, TREATMENTS.c.date, TREATMENTS.c.id)
)
_READ_TRANSITIONS = (
    select(TRANSITIONS.c.id, TRANSITIONS.c.lesion_id, TRANSITIONS.c.date,
           TRANSITIONS.c.from_stage, TRANSITIONS.c.to_stage, TRANSITIONS.c.evidence,
           TRANSITIONS.c.unexpected)
    .where(TRANSITIONS.c.lesion_id.in_(IDS))
    .order_by(TRANSITIONS.c.lesion_id, TRANSITIONS.c.date)
)
_READ_UNCLEARED_ALERTS = (
    select(ALERTS.c.id, ALERTS.c.lesion_id, ALERTS.c.kind, ALERTS.c.severity, ALERTS.c.rule,
           ALERTS.c.since, ALERTS.c.reason, ALERTS.c.state, ALERTS.c.snoozed_until)
    .where(ALERTS.c.lesion_id.in_(IDS), ALERTS.c.state != AlertState.CLEARED.value)
    .order_by(ALERTS.c.id)
)
# PostgreSQL: the alerts are locked too, in id order as a clinician's bulk action locks them,
# so the state each change is counted from (`alert_counts`) is the one it overwrites.
_LOCK_AND_READ_UNCLEARED_ALERTS = _READ_UNCLEARED_ALERTS.with_for_update(of=ALERTS)


@dataclass(frozen=True, slots=True)
class _StoredStage:
    """An observation's stored assessment row, as `_plan_stages` compares it."""

    id: int
    stage: str
    confidence: float
    evidence: list[str]
    classifications: dict[str, str]
    response: dict[str, Any] | None
    resolution: str | None
    engine_version: str
    rules_revision: int | None


@dataclass(slots=True)
class _Obs:
    """An observation as the engine reads it (`facts.ObservationColumns`), with its stored
    stage for the diff."""

    id: int
    date: date
    modality: str
    visible: bool
    size_mm: list[float]
    density: str | None
    margin: str | None
    texture: str | None
    pattern: str | None
    pain: int | None
    features: list[str]
    assessment: _StoredStage | None


@dataclass(slots=True)
class Loaded:
    """One locked lesion and what its assessment reads, as plain rows: building and tracking
    ORM objects was most of a one-lesion task, and nothing here needs an identity map."""

    row: Row[Any]  # _READ_LESION_COLUMNS
    observations: list[_Obs] = field(default_factory=list)
    treatments: list[Row[Any]] = field(default_factory=list)
    transitions: list[Row[Any]] = field(default_factory=list)
    alerts: list[Row[Any]] = field(default_factory=list)  # uncleared

    @property
    def id(self) -> int:
        return int(self.row.id)


def lock_lesions(conn: Connection, ids: Sequence[int]) -> None:
    """Serialise with other writers of these lesions before reading them.

    SQLite has one writer at a time: a no-op UPDATE as the transaction's first statement takes
    the write lock (BEGIN IMMEDIATE semantics; the busy timeout waits for it), so what we read
    next is what we overwrite. PostgreSQL locks just the rows (FOR NO KEY UPDATE in `load_lesions`'s
    first statement, so no extra round trip), which still lets observations be inserted
    meanwhile; their lesion update then waits for us.
    """
    if conn.dialect.name == "sqlite":
        conn.execute(_SQLITE_LOCK, {"b_ids": list(ids)})


def load_lesions(conn: Connection, ids: Sequence[int]) -> list[Loaded]:
    """The chunk's lesions with observations (features and stored stages joined), treatments,
    transitions and uncleared alerts: five statements whatever the chunk size.

    The lesion rows come first and alone: on PostgreSQL that statement takes the row locks, and
    only statements started after it (READ COMMITTED) see what a writer we waited for
    committed. Core rows, not ORM objects: the caller's identity map is left alone (see
    `forget`)."""
    params = {"b_ids": list(ids)}
    query = _LOCK_AND_READ_LESIONS if conn.dialect.name == "postgresql" else _READ_LESIONS
    lesions = {row.id: Loaded(row) for row in conn.execute(query, params)}
    if not lesions:
        return []
    last: _Obs | None = None
    for r in conn.execute(_READ_OBSERVATIONS, params):
        if last is not None and last.id == r.id:  # another feature of the same observation
            last.features.append(r.feature)
            continue
        if last is not None:
            last.features = features_in_order(last.features)
        stored = None
        if r.stage_id is not None:
            stored = _StoredStage(r.stage_id, r.stage, r.confidence, r.evidence,
                                  r.classifications, r.response, r.resolution, r.engine_version,
                                  r.rules_revision)
        last = _Obs(
            r.id, r.date, r.modality, r.visible,
            [x for x in (r.size1_mm, r.size2_mm, r.size3_mm) if x is not None],
            r.density, r.margin, r.texture, r.pattern, r.pain,
            [] if r.feature is None else [r.feature], stored,
        )
        lesions[r.lesion_id].observations.append(last)
    if last is not None:
        last.features = features_in_order(last.features)
    for r in conn.execute(_READ_TREATMENTS, params):
        lesions[r.lesion_id].treatments.append(r)
    for r in conn.execute(_READ_TRANSITIONS, params):
        lesions[r.lesion_id].transitions.append(r)
    alerts = (_LOCK_AND_READ_UNCLEARED_ALERTS if conn.dialect.name == "postgresql"
              else _READ_UNCLEARED_ALERTS)
    for r in conn.execute(alerts, params):
        lesions[r.lesion_id].alerts.append(r)
    return list(lesions.values())
