"""The inbox: measurement reports held for a person's input, what each needs, and the stored
lesions a person may say a report's lesion is. Read only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.errors import NotFound
from tracker.interop.sr_problems import NEEDS_INPUT, RESOLVED_BY, problem_from_json
from tracker.models import Lesion, Patient
from tracker.pacs.models import ReportState, SrReport
from tracker.queries.columns import columns_json


def held_reports(session: Session) -> list[SrReport]:
    """Every held report, oldest first (the report bytes are not loaded)."""
    return list(session.scalars(select(SrReport).where(
        SrReport.state == ReportState.HELD.value).order_by(SrReport.first_seen_at,
                                                           SrReport.id)))


def inbox_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(SrReport).where(
        SrReport.state == ReportState.HELD.value)) or 0)


def report(session: Session, report_id: int) -> SrReport:
    row = session.get(SrReport, report_id)
    if row is None:
        raise NotFound(f"report {report_id} does not exist")
    return row


def lesion_choices(session: Session, patients: list[str]) -> dict[str, list[Lesion]]:
    """Per patient id, the stored lesions a report's lesion may be (one statement)."""
    out: dict[str, list[Lesion]] = {p: [] for p in patients}
    rows = session.execute(select(Patient.external_id, Lesion).join(
        Lesion, Lesion.patient_id == Patient.id).where(Patient.external_id.in_(patients))
        .order_by(Lesion.external_id)).all()
    for patient, lesion in rows:
        out[patient].append(lesion)
    return out


def needs(row: SrReport) -> list[dict[str, str]]:
    """What the report needs, each with how a person resolves it."""
    out = []
    for problem in (problem_from_json(p) for p in row.problems or []):
        item = problem.as_json()
        if problem.kind in NEEDS_INPUT:
            item["resolved_by"] = RESOLVED_BY[problem.kind]
        out.append(item)
    return out


def lesions_asked(row: SrReport) -> list[str]:
    """The report's lesions a person is asked about (by the report's name for each)."""
    subjects = [p.subject for p in (problem_from_json(i) for i in row.problems or [])
                if p.kind in NEEDS_INPUT and p.subject]
    return list(dict.fromkeys(subjects))


def report_json(row: SrReport) -> dict[str, Any]:
    """A report's record as the CLI and the API print it."""
    return {
        **columns_json(row, "id", "state", "source", "patient", "sop_instance_uid", "study_uid",
                       "written=content_date", "received_at=first_seen_at", "handled_at",
                       "handled_by", "reason"),
        "needs": needs(row),
        "lesions": lesions_asked(row),
    }
