"""The printable patient report (HTML with a print stylesheet, and PDF through WeasyPrint).

One function renders it for the page, the PDF route and `tracker report`: the patient, each
lesion's chart, current stage with its evidence, open alerts with reasons, next follow-up, and
the timepoint table. Charts are embedded as SVG, so the PDF stays sharp and self-contained.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

from flask import render_template
from sqlalchemy.orm import Session

from tracker.queries.patient_timeline import patient_with_everything
from tracker.queries.stages import open_alerts_of
from tracker.timepoints import timepoint_table
from web import charts


def _svg_data_uri(data: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii")


def report_html(session: Session, external_id: str, *, today: date, for_pdf: bool) -> str:
    """The report page (needs an app context for the templates)."""
    patient = patient_with_everything(session, external_id)
    lesions: list[dict[str, Any]] = []
    for lesion in patient.lesions:
        current = lesion.assessment_current
        latest = lesion.observations[-1] if lesion.observations else None
        assessment = latest.assessment if latest is not None and current else None
        lesions.append({
            "lesion": lesion,
            "caption": charts.lesion_caption(lesion),
            "current": current,
            "stage": lesion.current_stage if current else None,
            "assessment": assessment,
            "alerts": open_alerts_of(lesion),
            "chart": _svg_data_uri(charts.render_lesion(lesion, "svg", today)),
        })
    return render_template(
        "patients/report.html", patient=patient, lesions=lesions,
        table=timepoint_table(patient), caption=charts.lesion_caption, today=today,
        generated=datetime.now().astimezone(), for_pdf=for_pdf,
    )


def report_pdf(session: Session, external_id: str, *, today: date) -> bytes:
    from weasyprint import HTML

    html = report_html(session, external_id, today=today, for_pdf=True)
    return bytes(HTML(string=html).write_pdf())
