"""Read-side queries shared by the CLI, the API, the pages and the services. Nouns, no writes.

Every query loads what it shows in a fixed number of statements (selectinload), whatever the
number of lesions and observations. Nothing here commits or rolls back: the caller's session
scope ends the read transaction. Imports the models, never `tracker.services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from tracker.engine import ENGINE_VERSION, RULES_REVISION
from tracker.errors import Conflict, NotFound
from tracker.export import observation_snapshot, treatment_snapshot
from tracker.models import (
    Alert,
    Assessment,
    AuditEvent,
    Lesion,
    Observation,
    Patient,
    Treatment,
)
from tracker.vocabulary import SEVERITY_RANK, AlertState, Severity

PENDING = "pending"
R = TypeVar("R")


# --------------------------------------------------------------------------- loaders


def _one(session: Session, query: Select[tuple[R]], missing: str) -> R:
    """The one row a query finds, or NotFound saying what is missing."""
    row = session.scalar(query)
    if row is None:
        raise NotFound(missing)
    return row


def load_lesion(session: Session, lesion_id: int) -> Lesion:
    """A lesion with its patient and observations (and their features) loaded."""
    return _one(
        session,
        select(Lesion)
        .where(Lesion.id == lesion_id)
        .options(
            selectinload(Lesion.patient),
            selectinload(Lesion.observations).selectinload(Observation.feature_rows),
        ),
        f"lesion {lesion_id} does not exist",
    )


def load_observation(session: Session, observation_id: int) -> Observation:
    """An observation with its features, and its lesion with the patient."""
    return _one(
        session,
        select(Observation)
        .where(Observation.id == observation_id)
        .options(
            selectinload(Observation.feature_rows),
            selectinload(Observation.lesion).selectinload(Lesion.patient),
        ),
        f"observation {observation_id} does not exist",
    )


def load_treatment(session: Session, treatment_id: int) -> Treatment:
    """A treatment with its lesion and the lesion's patient (for forms)."""
    row = session.scalar(
        select(Treatment)
        .where(Treatment.id == treatment_id)
        .options(selectinload(Treatment.lesion).selectinload(Lesion.patient))
    )
    if row is None:
        raise NotFound(f"treatment {treatment_id} does not exist")
    return row


def patient_exists(session: Session, external_id: str) -> bool:
    return session.scalar(select(Patient.id).where(Patient.external_id == external_id)) is not None


def stored_patient_id(session: Session, external_id: str) -> str:
    """The stored id for what a person typed: the exact id, else the one id that equals it
    ignoring case (`demo-001` finds `DEMO-001`); ids differing only in case are ambiguous."""
    exact = session.scalar(select(Patient.external_id).where(Patient.external_id == external_id))
    if exact is not None:
        return exact
    matches = list(session.scalars(
        select(Patient.external_id)
        .where(func.lower(Patient.external_id) == external_id.lower())
        .order_by(Patient.external_id).limit(5)
    ))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise Conflict(f"patient {external_id} is ambiguous: {', '.join(matches)} differ only "
                       "in case; give the exact id")
    raise NotFound(f"patient {external_id} does not exist")


def find_patient(session: Session, external_id: str) -> Patient:
    return _one(session, select(Patient).where(Patient.external_id == external_id),
                f"patient {external_id} does not exist")


# --------------------------------------------------------------------------- lesion ids to assess


def stale_condition() -> ColumnElement[bool]:
    """A stale lesion: never assessed, assessed by another engine version or under another
    revision of the clinical rules, or whose stored assessment saw older data than it holds.
    One definition for the hourly job and the daily scan's due index."""
    return or_(
        Lesion.engine_version.is_(None),
        Lesion.engine_version != ENGINE_VERSION,
        Lesion.rules_revision.is_(None),
        Lesion.rules_revision != RULES_REVISION,
        ~Lesion.assessment_current,
    )


def stale_lesions(session: Session) -> list[int]:
    """Stale lesions (`stale_condition`): a safety net for anything the outbox mark missed."""
    return list(session.scalars(select(Lesion.id).where(stale_condition()).order_by(Lesion.id)))


def lesions_of_patient(session: Session, patient_external_id: str) -> list[int]:
    patient = find_patient(session, patient_external_id)
    return list(
        session.scalars(
            select(Lesion.id).where(Lesion.patient_id == patient.id).order_by(Lesion.id)
        )
    )


def all_lesions(session: Session) -> list[int]:
    return list(session.scalars(select(Lesion.id).order_by(Lesion.id)))


# --------------------------------------------------------------------------- stage or pending


def shown_assessment(obs: Observation, current: bool) -> Assessment | None:
    """An observation's stored assessment, if it saw the lesion's current data (else pending)."""
    return obs.assessment if current else None


def observation_stage(obs: Observation, current: bool) -> str:
    a = shown_assessment(obs, current)
    return a.stage if a is not None else PENDING


def lesion_stage(lesion: Lesion) -> str | None:
    """The lesion's stored stage, or `pending` until an assessment that saw its data is stored."""
    return lesion.current_stage if lesion.assessment_current else PENDING


def assessment_status(current: bool) -> str:
    return "current" if current else PENDING


def patient_with_everything(session: Session, external_id: str) -> Patient:
    """A patient with lesions, observations (features, assessment), treatments, transitions and
    alerts."""
    return _one(
        session,
        select(Patient)
        .where(Patient.external_id == stored_patient_id(session, external_id))
        .options(
            selectinload(Patient.lesions).options(
                selectinload(Lesion.observations).options(
                    selectinload(Observation.feature_rows),
                    selectinload(Observation.assessment),
                ),
                selectinload(Lesion.treatments),
                selectinload(Lesion.transitions),
                selectinload(Lesion.alerts),
            )
        ),
        f"patient {external_id} does not exist",
    )


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "rule": alert.rule,
        "since": alert.since.isoformat(),
        "reason": alert.reason,
        "state": alert.state,
        "state_by": alert.state_by,
        "state_at": alert.state_at.isoformat() if alert.state_at else None,
        "state_reason": alert.state_reason,
        "snoozed_until": alert.snoozed_until.isoformat() if alert.snoozed_until else None,
    }


def open_alerts_of(lesion: Lesion) -> list[Alert]:
    """Uncleared alerts (open, acknowledged or snoozed), most severe first."""
    alive = [a for a in lesion.alerts if a.state != AlertState.CLEARED.value]
    return sorted(alive, key=lambda a: (SEVERITY_RANK[Severity(a.severity)], a.since, a.rule))


def lesion_json(lesion: Lesion) -> dict[str, Any]:
    """One lesion as `tracker show --json` and the API print it.

    A stage is `pending` until an assessment that saw the current data is stored.
    """
    current = lesion.assessment_current
    observations = []
    for obs in lesion.observations:
        entry: dict[str, Any] = {"id": obs.id, "version": obs.version,
                                 **observation_snapshot(obs)}
        a = shown_assessment(obs, current)
        entry["stage"] = observation_stage(obs, current)
        if a is not None:
            entry["confidence"] = a.confidence
            entry["evidence"] = list(a.evidence)
            if a.classifications:
                entry["classifications"] = dict(a.classifications)
            entry["response"] = a.response
        observations.append(entry)
    return {
        "id": lesion.id,
        "lesion": lesion.external_id,
        "site": {
            "compartment": lesion.compartment,
            "region": lesion.region,
            "structure": lesion.structure,
            "laterality": lesion.laterality,
        },
        "entity": lesion.entity,
        "event_date": lesion.event_date.isoformat() if lesion.event_date else None,
        "event_kind": lesion.event_kind,
        "treatments": [{"id": t.id, **treatment_snapshot(t)} for t in lesion.treatments],
        "assessment": {
            "status": assessment_status(current),
            "stage": lesion_stage(lesion),
            "entity": lesion.assessed_entity,
            "entity_source": lesion.entity_source,
            "suggested_entities": lesion.suggestions or [],
            "next_follow_up": lesion.next_follow_up.isoformat() if lesion.next_follow_up else None,
            "engine_version": lesion.engine_version,
            "rules_revision": lesion.rules_revision,
            "assessed_at": lesion.assessed_at.isoformat() if lesion.assessed_at else None,
        },
        "observations": observations,
        "transitions": [
            {
                "date": t.date.isoformat(),
                "from": t.from_stage,
                "to": t.to_stage,
                "evidence": list(t.evidence),
                "unexpected": t.unexpected,
            }
            for t in lesion.transitions
        ],
        "alerts": [alert_json(a) for a in open_alerts_of(lesion)],
    }


def patient_record(session: Session, external_id: str) -> dict[str, Any]:
    """What is stored for a patient: the stable `tracker show --json` document."""
    patient = patient_with_everything(session, external_id)
    return {
        "format": "calcitrack-patient/1",
        "patient": patient.external_id,
        "birth_year": patient.birth_year,
        "sex": patient.sex,
        "lesions": [lesion_json(lesion) for lesion in patient.lesions],
    }


# --------------------------------------------------------------------------- web pages
# Patient list, alert worklist, one lesion, chart versions.


T = TypeVar("T")

WORKLIST_STATES: dict[str, tuple[str, ...]] = {
    # what a clinician still has to act on: open, acknowledged, and snoozes that ran out
    "active": (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value, AlertState.SNOOZED.value),
    "open": (AlertState.OPEN.value,),
    "acknowledged": (AlertState.ACKNOWLEDGED.value,),
    "snoozed": (AlertState.SNOOZED.value,),
    "uncleared": (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value, AlertState.SNOOZED.value),
}


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list: what needs attention, and when the patient was last seen."""

    external_id: str
    birth_year: int | None
    sex: str | None
    lesions: int
    urgent: int
    warning: int
    info: int
    pending: int
    last_visit: date | None
    next_follow_up: date | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _needs_action(today: date) -> ColumnElement[bool]:
    """Open, or snoozed until a date that has come."""
    return or_(
        Alert.state == AlertState.OPEN.value,
        and_(Alert.state == AlertState.SNOOZED.value, Alert.snoozed_until <= today),
    )


def _handled_last() -> ColumnElement[int]:
    """Open alerts (and snoozes that ran out) before the ones a clinician already acknowledged."""
    return case((Alert.state == AlertState.ACKNOWLEDGED.value, 1), else_=0)


def _severity_rank() -> ColumnElement[int]:
    return case(
        {s.value: rank for s, rank in SEVERITY_RANK.items()}, value=Alert.severity, else_=99
    )


def patient_list(
    session: Session, *, today: date, search: str = "", page: int = 1, per_page: int = 25
) -> Page[PatientRow]:
    """Patients, those with the most urgent open alerts first; two statements per page."""
    counts = (
        select(
            Lesion.patient_id.label("patient_id"),
            *(
                func.sum(case((Alert.severity == s.value, 1), else_=0)).label(s.value)
                for s in Severity
            ),
        )
        .join(Alert, Alert.lesion_id == Lesion.id)
        .where(_needs_action(today))
        .group_by(Lesion.patient_id)
        .subquery()
    )
    lesion_stats = (
        select(
            Lesion.patient_id.label("patient_id"),
            func.count(Lesion.id).label("lesions"),
            func.sum(case((~Lesion.assessment_current, 1), else_=0)).label("pending"),
            func.min(Lesion.next_follow_up).label("next_follow_up"),
        )
        .group_by(Lesion.patient_id)
        .subquery()
    )
    visits = (
        select(Lesion.patient_id.label("patient_id"), func.max(Observation.date).label("last"))
        .join(Observation, Observation.lesion_id == Lesion.id)
        .group_by(Lesion.patient_id)
        .subquery()
    )
    where = []
    if search.strip():
        where.append(Patient.external_id.icontains(search.strip(), autoescape=True))
    total = session.scalar(select(func.count(Patient.id)).where(*where)) or 0
    page = max(1, page)
    urgent = func.coalesce(counts.c.urgent, 0)
    warning = func.coalesce(counts.c.warning, 0)
    info = func.coalesce(counts.c.info, 0)
    rows = session.execute(
        select(
            Patient.external_id,
            Patient.birth_year,
            Patient.sex,
            func.coalesce(lesion_stats.c.lesions, 0),
            urgent,
            warning,
            info,
            func.coalesce(lesion_stats.c.pending, 0),
            visits.c.last,
            lesion_stats.c.next_follow_up,
        )
        .outerjoin(counts, counts.c.patient_id == Patient.id)
        .outerjoin(lesion_stats, lesion_stats.c.patient_id == Patient.id)
        .outerjoin(visits, visits.c.patient_id == Patient.id)
        .where(*where)
        .order_by(urgent.desc(), warning.desc(), info.desc(), Patient.external_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = [
        PatientRow(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]),
                   r[8], r[9])
        for r in rows
    ]
    return Page(items, int(total), page, per_page)


@dataclass(frozen=True)
class WorklistFilter:
    kind: str | None = None
    severity: str | None = None
    region: str | None = None
    state: str = "active"
    rule: str | None = None
    entity: str | None = None
    stage: str | None = None
    overdue: bool = False
    patient: str = ""
    unassessed_morphology: bool = False


def worklist(
    session: Session, flt: WorklistFilter, *, today: date, page: int = 1, per_page: int = 50
) -> Page[Alert]:
    """Uncleared alerts across patients, most severe first, then oldest first.

    `state="active"` (the default view) leaves out alerts snoozed until a date still to come.
    Each alert comes with its lesion and patient loaded; two statements per page.
    """
    where: list[ColumnElement[bool]] = [
        Alert.state.in_(WORKLIST_STATES.get(flt.state, WORKLIST_STATES["active"]))
    ]
    if flt.state == "active":
        where.append(
            or_(Alert.state != AlertState.SNOOZED.value, Alert.snoozed_until <= today)
        )
    if flt.kind:
        where.append(Alert.kind == flt.kind)
    if flt.severity:
        where.append(Alert.severity == flt.severity)
    if flt.region:
        where.append(Lesion.region == flt.region)
    if flt.rule:
        where.append(Alert.rule == flt.rule)
    if flt.entity:
        where.append(func.coalesce(Lesion.entity, Lesion.assessed_entity) == flt.entity)
    if flt.stage:
        where.append(Lesion.current_stage == flt.stage)
    if flt.overdue:
        where.append(Lesion.next_follow_up < today)
    if flt.unassessed_morphology:
        # a visible finding without density or margin (e.g. from a viewer's SR): to complete
        where.append(Lesion.id.in_(
            select(Observation.lesion_id).where(
                Observation.visible.is_(True),
                or_(Observation.density.is_(None), Observation.margin.is_(None)))))
    if flt.patient.strip():
        where.append(Lesion.patient_id.in_(
            select(Patient.id).where(
                Patient.external_id.icontains(flt.patient.strip(), autoescape=True))))
    base = select(Alert).join(Lesion, Alert.lesion_id == Lesion.id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    page = max(1, page)
    alerts = session.scalars(
        base.options(contains_eager(Alert.lesion).joinedload(Lesion.patient))
        .order_by(_handled_last(), _severity_rank(), Alert.since, Alert.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).unique()
    return Page(list(alerts), int(total), page, per_page)


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
    return Page(items, int(total), max(1, page), per_page)


def patient_lesions(session: Session, patient_id: int) -> list[Lesion]:
    """The patient's lesions (no observations), for choosing one."""
    return list(session.scalars(select(Lesion).where(Lesion.patient_id == patient_id)
                                .order_by(Lesion.external_id)))


def previous_visit(session: Session, lesion_id: int, before: date,
                   exclude: int | None = None) -> Observation | None:
    """The lesion's last observation dated before `before` (the follow-up form's reference)."""
    query = (
        select(Observation)
        .where(Observation.lesion_id == lesion_id, Observation.date < before)
        .options(selectinload(Observation.feature_rows))
        .order_by(Observation.date.desc())
        .limit(1)
    )
    if exclude is not None:
        query = query.where(Observation.id != exclude)
    return session.scalar(query)


def alert_rules(session: Session) -> list[str]:
    """The rule ids that alerts were raised under (the worklist's rule filter)."""
    return list(session.scalars(select(Alert.rule).distinct().order_by(Alert.rule)))


def attention_counts(session: Session, *, today: date) -> dict[str, int]:
    """Alerts needing action now, by severity (the banner every page shows)."""
    rows = session.execute(
        select(Alert.severity, func.count(Alert.id))
        .where(_needs_action(today))
        .group_by(Alert.severity)
    ).all()
    found = {sev: int(n) for sev, n in rows}
    return {s.value: found.get(s.value, 0) for s in Severity}


def lesion_with_everything(session: Session, lesion_id: int) -> Lesion:
    """A lesion with its patient, observations (features, assessment), treatments, transitions
    and alerts."""
    return _one(
        session,
        select(Lesion)
        .where(Lesion.id == lesion_id)
        .options(
            selectinload(Lesion.patient),
            selectinload(Lesion.observations).options(
                selectinload(Observation.feature_rows),
                selectinload(Observation.assessment),
            ),
            selectinload(Lesion.treatments),
            selectinload(Lesion.transitions),
            selectinload(Lesion.alerts),
        ),
        f"lesion {lesion_id} does not exist",
    )


def lesion_versions(session: Session, lesion_id: int) -> tuple[int, int | None]:
    """(data_version, assessed_version): what a cached chart of the lesion depends on."""
    row = session.execute(
        select(Lesion.data_version, Lesion.assessed_version).where(Lesion.id == lesion_id)
    ).first()
    if row is None:
        raise NotFound(f"lesion {lesion_id} does not exist")
    return int(row[0]), row[1]


def patient_versions(session: Session, external_id: str) -> tuple[tuple[object, ...], ...]:
    """What a cached timeline chart of the patient depends on, in two statements: each lesion's
    (id, data_version, assessed_version) and each uncleared alert's (id, severity, since)."""
    rows = session.execute(
        select(Patient.id, Lesion.id, Lesion.data_version, Lesion.assessed_version)
        .outerjoin(Lesion, Lesion.patient_id == Patient.id)
        .where(Patient.external_id == external_id)
        .order_by(Lesion.id)
    ).all()
    if not rows:
        raise NotFound(f"patient {external_id} does not exist")
    alerts = session.execute(
        select(Alert.id, Alert.severity, Alert.since)
        .join(Lesion, Alert.lesion_id == Lesion.id)
        .where(Lesion.patient_id == rows[0][0], Alert.state != AlertState.CLEARED.value)
        .order_by(Alert.id)
    ).all()
    lesions = tuple((r[1], r[2], r[3]) for r in rows if r[1] is not None)
    return (*lesions, ("alerts",), *((a[0], a[1], a[2].isoformat()) for a in alerts))


def alert_with_lesion(session: Session, alert_id: int) -> Alert:
    return _one(
        session,
        select(Alert)
        .where(Alert.id == alert_id)
        .options(selectinload(Alert.lesion).selectinload(Lesion.patient)),
        f"alert {alert_id} does not exist",
    )


def patient_ids(session: Session) -> list[str]:
    """Every patient's id, in id order (exports that go patient by patient)."""
    return list(session.scalars(select(Patient.external_id).order_by(Patient.external_id)))
