"""The alert worklist (page and API): uncleared alerts across patients with their filters, the
rules to filter by, and the banner's count of what needs action now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from tracker.models import Alert, Lesion, Observation, Patient
from tracker.queries.paging import Page
from tracker.vocabulary import SEVERITY_RANK, AlertState, Severity

WORKLIST_STATES: dict[str, tuple[str, ...]] = {
    # what a clinician still has to act on: open, acknowledged, and snoozes that ran out
    "active": (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value, AlertState.SNOOZED.value),
    "open": (AlertState.OPEN.value,),
    "acknowledged": (AlertState.ACKNOWLEDGED.value,),
    "snoozed": (AlertState.SNOOZED.value,),
    "uncleared": (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value, AlertState.SNOOZED.value),
}


def needs_action(today: date) -> ColumnElement[bool]:
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


def alert_rules(session: Session) -> list[str]:
    """The rule ids that alerts were raised under (the worklist's rule filter)."""
    return list(session.scalars(select(Alert.rule).distinct().order_by(Alert.rule)))


def attention_counts(session: Session, *, today: date) -> dict[str, int]:
    """Alerts needing action now, by severity (the banner every page shows)."""
    rows = session.execute(
        select(Alert.severity, func.count(Alert.id))
        .where(needs_action(today))
        .group_by(Alert.severity)
    ).all()
    found = {sev: int(n) for sev, n in rows}
    return {s.value: found.get(s.value, 0) for s in Severity}
