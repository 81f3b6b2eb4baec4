"""The patient list (page and API): patients, those needing attention first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from tracker.models import Alert, Lesion, Observation, Patient
from tracker.queries.paging import Page
from tracker.queries.worklist import needs_action
from tracker.vocabulary import Severity


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
        .where(needs_action(today))
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
