"""Store what the engine says about lesions: stages, transitions, lesion-level results, alerts.

Owns the write side of assessment. One code path serves a single lesion (`assess_lesion`, the
task run after every change) and thousands (`scan_alerts`, `assess_lesions`): a chunk of lesions
is locked, loaded with a fixed number of statements, run through the pure engine, compared with
what is stored, and only the differences are written with bulk statements, then committed. So a
rerun writes nothing (idempotent, safe with `acks_late`), two workers on one lesion serialise on
the lesion row and the second finds nothing to change, and a scan's statement count grows with
the number of chunks, not of lesions. Each assessment also stores `recheck_on` (pure,
`tracker.recheck`): the daily scan re-assesses only lesions due by it (`due_lesions`).

Imports SQLAlchemy, the models and the engine; never Celery or `workers/` (the callers queue).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    String,
    Table,
    bindparam,
    case,
    cast,
    delete,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import BindParameter

from tracker.audit import SYSTEM_ACTOR, audit_rows
from tracker.clock import now
from tracker.engine import (
    RULES_REVISION,
    AlertCall,
    LesionAssessment,
    infer,
    response_to_json,
    suggestions_to_json,
)
from tracker.errors import NotFound
from tracker.facts import facts_of_row
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
from tracker.queries.to_assess import stale_condition
from tracker.recheck import recheck_on
from tracker.vocabulary import AlertState, Severity

log = logging.getLogger(__name__)


DEFAULT_CHUNK = 500

LESIONS: Table = Lesion.__table__  # type: ignore[assignment]
ASSESSMENTS: Table = Assessment.__table__  # type: ignore[assignment]
TRANSITIONS: Table = Transition.__table__  # type: ignore[assignment]
ALERTS: Table = Alert.__table__  # type: ignore[assignment]
OBSERVATIONS: Table = Observation.__table__  # type: ignore[assignment]
FEATURES: Table = ObservationFeature.__table__  # type: ignore[assignment]
TREATMENTS: Table = Treatment.__table__  # type: ignore[assignment]

# A lesion's columns (not its relationships), expired in a caller's identity map after an
# assessment: it writes the results, and the load no longer refreshes the caller's objects.
_LESION_COLUMN_KEYS = [c.key for c in Lesion.__mapper__.column_attrs]


@dataclass(frozen=True)
class AssessOutcome:
    """What one lesion's assessment changed. `current` is False when the lesion's data changed
    while it was being assessed (its outbox mark then stays, and the next task or sweep runs)."""

    lesion_id: int
    assessed_version: int
    changed: bool
    current: bool
    opened: int
    cleared: int
    kept: int
    reopened: int
    urgent_alert_ids: tuple[int, ...] = ()


@dataclass
class ScanReport:
    """Counts over every chunk of a scan (or of a batch assessment)."""

    opened: int = 0
    cleared: int = 0
    kept: int = 0
    lesions: int = 0
    changed: int = 0
    reopened: int = 0
    failed: list[int] = field(default_factory=list)
    urgent_alert_ids: list[int] = field(default_factory=list)
    chunks: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "lesions": self.lesions,
            "changed": self.changed,
            "opened": self.opened,
            "cleared": self.cleared,
            "kept": self.kept,
            "reopened": self.reopened,
            "failed": list(self.failed),
            "chunks": self.chunks,
        }


# --------------------------------------------------------------------------- the plan


@dataclass
class _Plan:
    """Every write of one chunk, gathered before any is sent, so each kind is one statement."""

    assessment_inserts: list[dict[str, Any]] = field(default_factory=list)
    assessment_updates: list[dict[str, Any]] = field(default_factory=list)
    assessment_deletes: list[int] = field(default_factory=list)
    transition_inserts: list[dict[str, Any]] = field(default_factory=list)
    transition_updates: list[dict[str, Any]] = field(default_factory=list)
    transition_deletes: list[int] = field(default_factory=list)
    alert_clears: list[int] = field(default_factory=list)
    alert_refreshes: list[dict[str, Any]] = field(default_factory=list)
    alert_reopens: list[int] = field(default_factory=list)
    reopen_events: list[dict[str, Any]] = field(default_factory=list)  # their audit rows
    alert_inserts: list[dict[str, Any]] = field(default_factory=list)
    lesion_updates: list[dict[str, Any]] = field(default_factory=list)
    kept: int = 0
    changed_lesions: set[int] = field(default_factory=set)


def _plan_stages(lesion: _Loaded, a: LesionAssessment, at: datetime, plan: _Plan) -> bool:
    """Assessment rows: one per observation, updated in place so ids stay stable."""
    by_date = {o.date: o for o in lesion.observations}
    changed = False
    seen: set[int] = set()
    for call in a.stages:
        obs = by_date[call.date]
        seen.add(obs.id)
        want = {
            "stage": call.stage.value,
            "confidence": call.confidence,
            "evidence": list(call.evidence),
            "classifications": dict(call.classifications),
            "response": response_to_json(call.response),
            "engine_version": a.engine_version,
            "rules_revision": RULES_REVISION,
        }
        have = obs.assessment
        if have is None:
            plan.assessment_inserts.append(
                {"observation_id": obs.id, "lesion_id": lesion.id, "assessed_at": at, **want}
            )
            changed = True
        elif any(getattr(have, k) != v for k, v in want.items()):
            plan.assessment_updates.append({"b_id": have.id, "assessed_at": at, **want})
            changed = True
    for obs in lesion.observations:
        if obs.assessment is not None and obs.id not in seen:
            plan.assessment_deletes.append(obs.assessment.id)
            changed = True
    return changed


def _plan_transitions(lesion: _Loaded, a: LesionAssessment, plan: _Plan) -> bool:
    have = {t.date: t for t in lesion.transitions}
    changed = False
    for call in a.transitions:
        want = {
            "from_stage": call.from_stage.value,
            "to_stage": call.to_stage.value,
            "evidence": list(call.evidence),
            "unexpected": call.unexpected,
        }
        row = have.pop(call.date, None)
        if row is None:
            plan.transition_inserts.append({"lesion_id": lesion.id, "date": call.date, **want})
            changed = True
        elif any(getattr(row, k) != v for k, v in want.items()):
            plan.transition_updates.append({"b_id": row.id, **want})
            changed = True
    for row in have.values():
        plan.transition_deletes.append(row.id)
        changed = True
    return changed


def _plan_alerts(
    lesion: _Loaded, calls: Sequence[AlertCall], as_of: date, at: datetime, plan: _Plan
) -> bool:
    """Reconcile the lesion's uncleared alerts with the engine's.

    Same kind and the episode did not restart: keep the row (and so the clinician's
    acknowledgement or snooze), refresh what the engine owns. The engine no longer reports it:
    clear. A `since` later than the stored one is a new episode (the old one ended between two
    assessments): the old row is cleared and a new one opened, so an acknowledgement of the old
    episode cannot silence the new one. A snooze that ended before `as_of` returns to open.
    """
    alive = {al.kind: al for al in lesion.alerts}  # loaded uncleared
    changed = False
    for call in calls:
        row = alive.pop(call.kind.value, None)
        if row is not None and call.since > row.since:
            plan.alert_clears.append(row.id)
            row = None
        if row is None:
            plan.alert_inserts.append(
                {
                    "lesion_id": lesion.id,
                    "kind": call.kind.value,
                    "severity": call.severity.value,
                    "rule": call.rule,
                    "since": call.since,
                    "reason": call.reason,
                    "state": AlertState.OPEN.value,
                    "opened_at": at,
                }
            )
            changed = True
            continue
        plan.kept += 1
        want = {
            "severity": call.severity.value,
            "rule": call.rule,
            "since": call.since,
            "reason": call.reason,
        }
        if any(getattr(row, k) != v for k, v in want.items()):
            plan.alert_refreshes.append({"b_id": row.id, **want})
            changed = True
        if (
            row.state == AlertState.SNOOZED.value
            and row.snoozed_until is not None
            and row.snoozed_until < as_of
        ):
            plan.alert_reopens.append(row.id)
            plan.reopen_events.append({
                "actor": SYSTEM_ACTOR, "action": "alert.snooze_ended", "target_type": "alert",
                "target_id": row.id, "after": {"state": AlertState.OPEN.value}, "at": at,
                "patient_id": lesion.row.patient_id, "lesion_id": lesion.id,
            })
            changed = True
    for row in alive.values():
        plan.alert_clears.append(row.id)
        changed = True
    return changed


def _plan_lesion(lesion: _Loaded, a: LesionAssessment, at: datetime, plan: _Plan,
                 rows_changed: bool, recheck: date | None) -> None:
    row = lesion.row
    want: dict[str, Any] = {
        "recheck_on": recheck,
        "current_stage": a.stages[-1].stage.value if a.stages else None,
        "assessed_entity": a.entity.value,
        "entity_source": a.entity_source,
        "suggestions": suggestions_to_json(a),
        "next_follow_up": a.next_follow_up,
        "engine_version": a.engine_version,
        "rules_revision": RULES_REVISION,
        "assessed_version": row.data_version,
    }
    differs = any(getattr(row, k) != v for k, v in want.items())
    if not (differs or rows_changed or row.assessment_due_at is not None):
        return
    plan.changed_lesions.add(lesion.id)
    plan.lesion_updates.append(
        {"b_id": lesion.id, "b_seen": row.data_version, "assessed_at": at, **want}
    )


# --------------------------------------------------------------------------- load, lock, write

# Every statement of a chunk is built once, here, with its ids as an expanding parameter: its
# cache key is then computed once per process, not per execution (1.5 ms of a one-lesion task).
_IDS: BindParameter[list[int]] = bindparam("b_ids", expanding=True)

# What the engine and the diff read of a lesion (not the bookkeeping columns nobody compares).
_READ_LESION_COLUMNS = (
    "id", "patient_id", "compartment", "region", "entity", "event_date", "event_kind",
    "data_version", "assessment_due_at", "recheck_on", "current_stage", "assessed_entity",
    "entity_source", "suggestions", "next_follow_up", "engine_version", "rules_revision",
    "assessed_version",
)
_READ_LESIONS = (
    select(*(LESIONS.c[k] for k in _READ_LESION_COLUMNS))
    .where(LESIONS.c.id.in_(_IDS))
    .order_by(LESIONS.c.id)
)
# PostgreSQL locks the rows it reads: FOR NO KEY UPDATE still lets observations be inserted.
_LOCK_AND_READ_LESIONS = _READ_LESIONS.with_for_update(key_share=True, of=LESIONS)
# SQLite: a no-op UPDATE as the transaction's first statement takes the write lock.
_SQLITE_LOCK = (
    update(LESIONS).where(LESIONS.c.id.in_(_IDS)).values(data_version=LESIONS.c.data_version)
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
        ASSESSMENTS.c.engine_version, ASSESSMENTS.c.rules_revision,
    )
    .select_from(
        OBSERVATIONS.outerjoin(FEATURES, FEATURES.c.observation_id == OBSERVATIONS.c.id)
        .outerjoin(ASSESSMENTS, ASSESSMENTS.c.observation_id == OBSERVATIONS.c.id)
    )
    .where(OBSERVATIONS.c.lesion_id.in_(_IDS))
    .order_by(OBSERVATIONS.c.lesion_id, OBSERVATIONS.c.date, FEATURES.c.feature)
)
_READ_TREATMENTS = (
    select(TREATMENTS.c.lesion_id, TREATMENTS.c.date, TREATMENTS.c.kind, TREATMENTS.c.note)
    .where(TREATMENTS.c.lesion_id.in_(_IDS))
    .order_by(TREATMENTS.c.lesion_id, TREATMENTS.c.date, TREATMENTS.c.id)
)
_READ_TRANSITIONS = (
    select(TRANSITIONS.c.id, TRANSITIONS.c.lesion_id, TRANSITIONS.c.date,
           TRANSITIONS.c.from_stage, TRANSITIONS.c.to_stage, TRANSITIONS.c.evidence,
           TRANSITIONS.c.unexpected)
    .where(TRANSITIONS.c.lesion_id.in_(_IDS))
    .order_by(TRANSITIONS.c.lesion_id, TRANSITIONS.c.date)
)
_READ_UNCLEARED_ALERTS = (
    select(ALERTS.c.id, ALERTS.c.lesion_id, ALERTS.c.kind, ALERTS.c.severity, ALERTS.c.rule,
           ALERTS.c.since, ALERTS.c.reason, ALERTS.c.state, ALERTS.c.snoozed_until)
    .where(ALERTS.c.lesion_id.in_(_IDS), ALERTS.c.state != AlertState.CLEARED.value)
    .order_by(ALERTS.c.lesion_id, ALERTS.c.since, ALERTS.c.id)
)


@dataclass(frozen=True, slots=True)
class _StoredStage:
    """An observation's stored assessment row, as `_plan_stages` compares it."""

    id: int
    stage: str
    confidence: float
    evidence: list[str]
    classifications: dict[str, str]
    response: dict[str, Any] | None
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
class _Loaded:
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


def _lock(conn: Connection, ids: Sequence[int]) -> None:
    """Serialise with other writers of these lesions before reading them.

    SQLite has one writer at a time: a no-op UPDATE as the transaction's first statement takes
    the write lock (BEGIN IMMEDIATE semantics; the busy timeout waits for it), so what we read
    next is what we overwrite. PostgreSQL locks just the rows (FOR NO KEY UPDATE in `_load`'s
    first statement, so no extra round trip), which still lets observations be inserted
    meanwhile; their lesion update then waits for us.
    """
    if conn.dialect.name == "sqlite":
        conn.execute(_SQLITE_LOCK, {"b_ids": list(ids)})


def _load(conn: Connection, ids: Sequence[int]) -> list[_Loaded]:
    """The chunk's lesions with observations (features and stored stages joined), treatments,
    transitions and uncleared alerts: five statements whatever the chunk size.

    The lesion rows come first and alone: on PostgreSQL that statement takes the row locks, and
    only statements started after it (READ COMMITTED) see what a writer we waited for
    committed. Core rows, not ORM objects: the caller's identity map is left alone (see
    `_forget`)."""
    params = {"b_ids": list(ids)}
    query = _LOCK_AND_READ_LESIONS if conn.dialect.name == "postgresql" else _READ_LESIONS
    lesions = {row.id: _Loaded(row) for row in conn.execute(query, params)}
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
                                  r.classifications, r.response, r.engine_version,
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
    for r in conn.execute(_READ_UNCLEARED_ALERTS, params):
        lesions[r.lesion_id].alerts.append(r)
    return list(lesions.values())


@cache
def _by_id(table: Table, keys: tuple[str, ...]) -> Update:
    """An executemany UPDATE keyed by `b_id`, setting each other key's column from its
    parameter (every row of one plan list has the same keys). Built once per table and keys."""
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({k: bindparam(k) for k in keys if not k.startswith("b_")})
    )


@cache
def _update_lesions(keys: tuple[str, ...]) -> Update:
    """The lesions' results by `b_id`; the outbox mark goes only if no change arrived after
    the version we read (`b_seen`)."""
    return (
        update(LESIONS)
        .where(LESIONS.c.id == bindparam("b_id"))
        .values({
            **{k: bindparam(k) for k in keys if not k.startswith("b_")},
            "assessment_due_at": case(
                (LESIONS.c.data_version == bindparam("b_seen"), None),
                else_=LESIONS.c.assessment_due_at,
            ),
        })
    )


_DELETE_ASSESSMENTS: Delete = delete(ASSESSMENTS).where(ASSESSMENTS.c.id.in_(_IDS))
_INSERT_ASSESSMENTS: Insert = insert(ASSESSMENTS)
_DELETE_TRANSITIONS: Delete = delete(TRANSITIONS).where(TRANSITIONS.c.id.in_(_IDS))
_INSERT_TRANSITIONS: Insert = insert(TRANSITIONS)
_CLEAR_ALERTS: Update = (
    update(ALERTS)
    .where(ALERTS.c.id.in_(_IDS))
    .values(state=AlertState.CLEARED.value, cleared_at=bindparam("b_at"))
)
_REOPEN_ALERTS: Update = (
    update(ALERTS)
    .where(
        ALERTS.c.id.in_(_IDS),
        ALERTS.c.state == AlertState.SNOOZED.value,
        ALERTS.c.snoozed_until < bindparam("b_as_of"),
    )
    .values(
        state=AlertState.OPEN.value,
        state_by=SYSTEM_ACTOR,
        state_at=bindparam("b_at"),
        state_reason=literal("snooze ended ") + cast(ALERTS.c.snoozed_until, String),
        snoozed_until=None,
    )
)
_INSERT_ALERTS: Insert = insert(ALERTS).returning(ALERTS.c.id, ALERTS.c.severity)


def _write(
    session: Session, conn: Connection, plan: _Plan, as_of: date, at: datetime
) -> list[int]:
    """Send the plan: one statement (or one executemany) per kind of change, none for a kind
    with nothing to change. Returns the ids of newly opened urgent alerts."""
    if plan.assessment_deletes:
        conn.execute(_DELETE_ASSESSMENTS, {"b_ids": plan.assessment_deletes})
    if plan.assessment_updates:
        conn.execute(_by_id(ASSESSMENTS, tuple(plan.assessment_updates[0])),
                     plan.assessment_updates)
    if plan.assessment_inserts:
        conn.execute(_INSERT_ASSESSMENTS, plan.assessment_inserts)
    if plan.transition_deletes:
        conn.execute(_DELETE_TRANSITIONS, {"b_ids": plan.transition_deletes})
    if plan.transition_updates:
        conn.execute(_by_id(TRANSITIONS, tuple(plan.transition_updates[0])),
                     plan.transition_updates)
    if plan.transition_inserts:
        conn.execute(_INSERT_TRANSITIONS, plan.transition_inserts)
    # Clears first: the partial unique index allows one uncleared alert per lesion and kind.
    if plan.alert_clears:
        conn.execute(_CLEAR_ALERTS, {"b_ids": plan.alert_clears, "b_at": at})
    if plan.alert_refreshes:
        # Engine-owned columns only: a clinician's concurrent acknowledgement is never undone.
        conn.execute(_by_id(ALERTS, tuple(plan.alert_refreshes[0])), plan.alert_refreshes)
    if plan.alert_reopens:
        conn.execute(_REOPEN_ALERTS, {"b_ids": plan.alert_reopens, "b_as_of": as_of, "b_at": at})
    urgent: list[int] = []
    if plan.alert_inserts:
        rows = conn.execute(_INSERT_ALERTS, plan.alert_inserts)
        urgent = sorted(r.id for r in rows if r.severity == Severity.URGENT.value)
    audit_rows(session, plan.reopen_events)
    if plan.lesion_updates:
        conn.execute(_update_lesions(tuple(plan.lesion_updates[0])), plan.lesion_updates)
    return urgent


@dataclass(frozen=True)
class _ChunkResult:
    report: ScanReport
    per_lesion: dict[int, tuple[int, bool]]  # id -> (version seen, changed)


def _assess_chunk(
    session: Session,
    ids: Sequence[int],
    as_of: date,
    after_lock: Callable[[], None] | None = None,
) -> _ChunkResult:
    """Lock, load, infer, diff, write and commit one chunk: one transaction."""
    report = ScanReport(chunks=1)
    session.flush()  # what the caller has pending is part of what we read (as autoflush did)
    conn = session.connection()
    _lock(conn, ids)
    lesions = _load(conn, ids)
    if after_lock is not None:
        after_lock()
    at = now()
    plan = _Plan()
    per_lesion: dict[int, tuple[int, bool]] = {}
    for lesion in lesions:
        try:
            facts = facts_of_row(lesion.row, lesion.observations, lesion.treatments)
            result = infer(facts, as_of)
            recheck = recheck_on(facts, as_of, result)
        except ValueError:  # input the rules cannot read; the rest of the chunk goes on
            log.exception("lesion %s could not be assessed", lesion.id)
            report.failed.append(lesion.id)
            continue
        clears, inserts = len(plan.alert_clears), len(plan.alert_inserts)
        reopens = len(plan.alert_reopens)
        rows_changed = _plan_stages(lesion, result, at, plan)
        rows_changed = _plan_transitions(lesion, result, plan) or rows_changed
        rows_changed = _plan_alerts(lesion, result.alerts, as_of, at, plan) or rows_changed
        _plan_lesion(lesion, result, at, plan, rows_changed, recheck)
        report.cleared += len(plan.alert_clears) - clears
        report.opened += len(plan.alert_inserts) - inserts
        report.reopened += len(plan.alert_reopens) - reopens
        per_lesion[lesion.id] = (lesion.row.data_version, lesion.id in plan.changed_lesions)
    report.kept = plan.kept
    report.lesions = len(lesions)
    report.changed = len(plan.changed_lesions)
    report.urgent_alert_ids = _write(session, conn, plan, as_of, at)
    session.commit()
    _forget(session, lesions)
    return _ChunkResult(report, per_lesion)


def _forget(session: Session, lesions: Sequence[_Loaded]) -> None:
    """Core writes bypass the identity map: expire what the caller's session holds of the rows
    they may have changed, so reading through it gives the stored result, not an older one.
    A fresh session (a worker's) holds nothing, and this costs nothing."""
    held = session.identity_map
    if not len(held):
        return
    for lesion in lesions:
        keys = [
            *(identity_key(Alert, (r.id,)) for r in lesion.alerts),
            *(identity_key(Transition, (r.id,)) for r in lesion.transitions),
            *(identity_key(Assessment, (o.assessment.id,))
              for o in lesion.observations if o.assessment is not None),
        ]
        row = held.get(identity_key(Lesion, (lesion.id,)))
        if row is not None:
            session.expire(row, _LESION_COLUMN_KEYS)
        for key in keys:
            obj = held.get(key)
            if obj is not None:
                session.expire(obj)


# --------------------------------------------------------------------------- use cases


def assess_lesion(
    session: Session,
    lesion_id: int,
    as_of: date,
    *,
    after_lock: Callable[[], None] | None = None,
) -> AssessOutcome:
    """Assess one lesion as of a date and store the result in one transaction.

    Idempotent: a rerun finds nothing to change and writes nothing. `after_lock` runs once the
    lesion is locked and loaded (a test hook: it lets a test kill a worker mid-assessment).
    """
    result = _assess_chunk(session, [lesion_id], as_of, after_lock)
    if lesion_id not in result.per_lesion:
        if lesion_id in result.report.failed:
            raise ValueError(f"lesion {lesion_id}: the engine could not read its observations")
        raise NotFound(f"lesion {lesion_id} does not exist")
    seen, changed = result.per_lesion[lesion_id]
    data_version = session.scalar(select(Lesion.data_version).where(Lesion.id == lesion_id))
    session.rollback()  # end the read transaction this check opened
    r = result.report
    return AssessOutcome(
        lesion_id=lesion_id,
        assessed_version=seen,
        changed=changed,
        current=data_version == seen,
        opened=r.opened,
        cleared=r.cleared,
        kept=r.kept,
        reopened=r.reopened,
        urgent_alert_ids=tuple(r.urgent_alert_ids),
    )


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _merge(total: ScanReport, part: ScanReport) -> None:
    total.opened += part.opened
    total.cleared += part.cleared
    total.kept += part.kept
    total.lesions += part.lesions
    total.changed += part.changed
    total.reopened += part.reopened
    total.failed += part.failed
    total.urgent_alert_ids += part.urgent_alert_ids
    total.chunks += part.chunks


def assess_lesions(
    session: Session,
    lesion_ids: Sequence[int],
    as_of: date,
    chunk_size: int = DEFAULT_CHUNK,
    *,
    after_lock: Callable[[], None] | None = None,
) -> ScanReport:
    """Assess many lesions (a task's batch, the CLI, stale reassessment): one transaction per
    chunk. Lesions that no longer exist are skipped. `after_lock` as in `assess_lesion`."""
    total = ScanReport()
    ordered = sorted(set(lesion_ids))
    for chunk in _chunks(ordered, chunk_size):
        _merge(total, _assess_chunk(session, chunk, as_of, after_lock).report)
    return total


def batches(lesion_ids: Sequence[int], size: int) -> list[list[int]]:
    """Distinct ids in order, cut into the batches one assessment task each carries."""
    ordered = sorted(set(lesion_ids))
    return [list(chunk) for chunk in _chunks(ordered, size)]


def due_lesions(session: Session, as_of: date) -> list[int]:
    """What the daily scan must re-assess on `as_of`: lesions whose stored assessment can have
    changed with time (`recheck_on <= as_of`, an index range), whose snooze has ended, or that
    are stale (a change not yet assessed, or `stale_lesions`: never assessed, another engine
    version or rules revision, older data).
    Every other lesion would get exactly its stored result again, so the scan costs what is
    due, not the size of the database."""
    snooze_ended = select(Alert.lesion_id).where(
        Alert.state == AlertState.SNOOZED.value, Alert.snoozed_until < as_of
    )
    ids = list(
        session.scalars(
            select(Lesion.id)
            .where(
                or_(
                    Lesion.recheck_on <= as_of,
                    Lesion.assessment_due_at.is_not(None),
                    stale_condition(),
                    Lesion.id.in_(snooze_ended),
                )
            )
            .order_by(Lesion.id)
        )
    )
    session.rollback()  # no snapshot held while the chunks run
    return ids


def scan_alerts(session: Session, as_of: date, chunk_size: int = DEFAULT_CHUNK) -> ScanReport:
    """The daily scan in this process (CLI, tests): re-assess what is due on `as_of`
    (`due_lesions`): time-dependent alerts (`hadd.no_resolution`, `ho.not_maturing`,
    `any.follow_up_overdue`, ...), ended snoozes, `next_follow_up`, and any lesion whose change
    was never assessed (a lost task). Each chunk is one transaction with a constant number of
    statements. The workers fan the same ids out as batch tasks instead."""
    return assess_lesions(session, due_lesions(session, as_of), as_of, chunk_size)


def reassess_all(session: Session, as_of: date, chunk_size: int = DEFAULT_CHUNK) -> ScanReport:
    """Re-evaluate every lesion, keyset-paginated by id: what the scan did before it had an
    index, kept as the reference the due index is tested against."""
    total = ScanReport()
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(Lesion.id).where(Lesion.id > last).order_by(Lesion.id).limit(chunk_size)
            )
        )
        session.rollback()  # no snapshot held between chunks
        if not ids:
            return total
        _merge(total, _assess_chunk(session, ids, as_of).report)
        last = ids[-1]


def sweep_pending(
    session: Session, grace_seconds: int, resend_after_seconds: int | None = None
) -> list[int]:
    """Lesions whose assessment task is really lost: changed more than `grace_seconds` ago,
    still not assessed, and either never handed to a broker since that change
    (`dispatched_at` missing or older than the change: the broker was down) or handed over
    more than `resend_after_seconds` ago (a message a broker lost). A lesion whose task is
    still queued behind a backlog is not re-sent. The caller sends them (which stamps
    `dispatched_at`, see `mark_dispatched`). Read-only."""
    at = now()
    cutoff = at - timedelta(seconds=grace_seconds)
    lost = [Lesion.dispatched_at.is_(None), Lesion.dispatched_at < Lesion.assessment_due_at]
    if resend_after_seconds is not None:
        lost.append(Lesion.dispatched_at <= at - timedelta(seconds=resend_after_seconds))
    ids = list(
        session.scalars(
            select(Lesion.id)
            .where(
                Lesion.assessment_due_at.is_not(None),
                Lesion.assessment_due_at <= cutoff,
                or_(*lost),
            )
            .order_by(Lesion.id)
        )
    )
    session.rollback()
    return ids


_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit TO OFF")


def mark_dispatched(session: Session, lesion_ids: Sequence[int]) -> None:
    """Stamp lesions whose assessment task a broker accepted just now (one statement per
    chunk of ids), so the sweep leaves them alone while their task waits in the queue.

    On PostgreSQL, in a transaction of its own, the commit does not wait for the WAL flush: the
    stamp is a hint (lost in a crash, it costs an early re-send, like a failed stamp), and the
    worker assessing the lesion waits for this row lock (1-3 ms of each task's latency)."""
    at = now()
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.execute(_NO_FLUSH_WAIT)
    for chunk in _chunks(sorted(set(lesion_ids)), DEFAULT_CHUNK):
        session.execute(
            update(LESIONS).where(LESIONS.c.id.in_(chunk)).values(dispatched_at=at)
        )
    session.commit()
