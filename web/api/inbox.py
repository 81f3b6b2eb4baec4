"""`/api/v1/inbox`: measurement reports held for a person's input; accept one with the answers
(it is imported and its assessment queued) or reject it with a reason. Radiologists, audited."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tracker.queries.inbox import held_reports, report, report_json
from tracker.services import reports
from tracker.services.users import Permission
from tracker.vocabulary import Compartment
from web.api.blueprint import operation
from web.auth import actor
from web.clock import today
from web.db import get_session
from web.schemas import ImportOut, _Out
from workers import dispatch

STATE: Any = {404: "No such report", 409: "The report is no longer waiting in the inbox"}
ACCEPT_HINT = " (an SR has none outside the spine): give `compartment`, or `lesion`"


class NeedOut(_Out):
    path: str = Field(description="the file and measurement group")
    message: str
    kind: str = Field(description="compartment, lesion, site (a person can resolve them) or "
                                  "invalid")
    subject: str = Field(description="the report's name for the lesion (its tracking UID or "
                                     "identifier); what `lesions` keys name")
    resolved_by: str | None = None


class InboxReportOut(_Out):
    id: int
    state: str = Field(description="held (waiting), imported, rejected or pending")
    source: str = Field(description="pacs, upload or file")
    patient: str | None
    sop_instance_uid: str
    study_uid: str
    written: str | None = Field(description="the report's ContentDate")
    received_at: str
    handled_at: str | None
    handled_by: str | None
    reason: str | None
    needs: list[NeedOut]
    lesions: list[str] = Field(description="the report's lesions a person is asked about")


class InboxListOut(_Out):
    items: list[InboxReportOut]
    total: int


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compartment: Compartment | None = Field(
        default=None, description="compartment of the report's new lesions outside the spine")
    lesion: str | None = Field(default=None, max_length=64,
                               description="the stored lesion (id) the report's one asked-about "
                                           "lesion is")
    lesions: dict[str, str] = Field(default_factory=dict, max_length=100,
                                    description="report lesion -> stored lesion id, for each")


class AcceptOut(ImportOut):
    report: InboxReportOut


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=reports.MAX_REASON_CHARS)


@operation("GET", "/inbox", Permission.IMPORT,
           "inbox", "Reports held for input, oldest first",
           gives=InboxListOut)
def list_inbox() -> dict[str, Any]:
    items = [report_json(r) for r in held_reports(get_session())]
    return {"items": items, "total": len(items)}


@operation("GET", "/inbox/<int:report_id>", Permission.IMPORT,
           "inbox", "One report and what it needs", responses={404: "No such report"},
           gives=InboxReportOut)
def inbox_report(report_id: int) -> dict[str, Any]:
    return report_json(report(get_session(), report_id))


@operation("POST", "/inbox/<int:report_id>/accept", Permission.IMPORT,
           "inbox", "Import a held report with the answers it needs (audited)",
           "A report lesion not named in `lesion`/`lesions` is imported as a new lesion. What is "
           "still missing answers 400 and changes nothing.", STATE,
           takes=AcceptIn, arg="body", gives=AcceptOut)
def accept(report_id: int, body: AcceptIn) -> dict[str, Any]:
    done = reports.accept_report(get_session(), report_id, actor=actor(), today=today(),
                                 compartment=body.compartment.value if body.compartment
                                 else None, lesion=body.lesion, lesions=body.lesions,
                                 hint=ACCEPT_HINT)
    queued = dispatch.request_assessment(done.summary.changed_lesion_ids)
    return {**done.summary.as_dict(), "assessments_queued": queued,
            "report": report_json(report(get_session(), report_id))}


@operation("POST", "/inbox/<int:report_id>/reject", Permission.IMPORT,
           "inbox", "Reject a held report: it is not imported (audited)", responses=STATE,
           takes=RejectIn, arg="body", gives=InboxReportOut)
def reject(report_id: int, body: RejectIn) -> dict[str, Any]:
    reports.reject_report(get_session(), report_id, reason=body.reason, actor=actor())
    return report_json(report(get_session(), report_id))
