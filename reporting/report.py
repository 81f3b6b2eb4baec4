"""The printable patient report (HTML with a print stylesheet, and PDF through WeasyPrint).

One function renders it for the web page, the PDF route and `tracker report`: the patient, each
lesion's chart, current stage with its evidence, open alerts with reasons, next follow-up, and
the timepoint table. Charts are embedded as SVG, so the PDF stays sharp and self-contained.

Why a package of its own, beside `web/` and `workers/` rather than inside either or inside
`tracker/`: the report has two edges, the web pages and the installed `tracker` command, and the
command must not import the web layer (nor build a Flask app) to write a file. So the renderer
has its own Jinja2 environment over its own template (no app, no `url_for`: the page passes its
links in), and imports only `tracker`; `web` and `workers` import it, never the reverse. It stays
out of `tracker/`, the domain, because templates, matplotlib drawing and WeasyPrint are
presentation: the domain's import stays cheap for the CLI and the workers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from reporting import charts
from reporting.words import (
    alert_reason,
    code_label,
    evidence,
    field_value,
    lesion_caption,
    stage_label,
)
from tracker.models import Lesion
from tracker.pacs.client import PacsRefused, PacsUnavailable
from tracker.pacs.thumbnails import Thumbnails
from tracker.queries.key_images import visit_key_images
from tracker.queries.patient_timeline import patient_with_everything
from tracker.queries.stages import open_alerts_of
from tracker.queries.timeline_page import patient_visits
from tracker.timepoints import Table, Visit, timepoint_table


@dataclass(frozen=True)
class PageLinks:
    """Where the web page's icon, script, PDF and way back are: the print page has a toolbar
    with them; the PDF (and `tracker report`) has none."""

    favicon: str
    script: str
    pdf: str
    timeline: str


@cache
def templates() -> Environment:
    """The report's own templates: autoescaped like the web pages', with the same filters."""
    env = Environment(loader=PackageLoader("reporting", "templates"),
                      autoescape=select_autoescape())
    env.filters["label"] = code_label
    env.filters["stage_label"] = stage_label
    env.filters["alert_reason"] = alert_reason
    env.filters["evidence"] = evidence
    env.filters["treatment"] = lambda kind: field_value(kind, "kind")
    return env


def _svg_data_uri(data: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii")


# Visits per chunk of the printed timepoint table (A4 landscape): the lesion column repeats in
# every chunk, newest visits first, so no visit is ever cut off the page's edge.
VISITS_PER_CHUNK = 7


def visit_chunks(table: Table) -> list[list[Visit]]:
    """The table's visits newest first, in chunks that fit a printed page's width."""
    newest_first = table.visits[::-1]
    return [newest_first[i:i + VISITS_PER_CHUNK]
            for i in range(0, len(newest_first), VISITS_PER_CHUNK)]


def _key_images(session: Session, lesions: list[Lesion],
                images: Thumbnails | None) -> dict[int, list[dict[str, Any]]]:
    """Per lesion, each visit's key image with its mark (a PNG data URI, or None when the PACS
    cannot give it: the report says "image unavailable"). Fetched here, by the server; after
    the first failure to reach the PACS the rest are not asked for (each would wait for its
    timeout)."""
    if images is None:
        return {}
    found = visit_key_images(session, [o.id for le in lesions for o in le.observations])
    out: dict[int, list[dict[str, Any]]] = {}
    reachable = True
    for lesion in lesions:
        for obs in lesion.observations:
            image = found.get(obs.id)
            if image is None:
                continue
            uri = None
            if reachable:
                try:
                    uri = "data:image/png;base64," + base64.b64encode(
                        images.png(image)).decode("ascii")
                except PacsUnavailable:
                    reachable = False
                except PacsRefused:
                    pass
            out.setdefault(lesion.id, []).append({
                "date": obs.date, "modality": obs.modality, "measured_mm": image.measured_mm,
                "uri": uri})
    return out


# A lesion's chart as SVG: drawn afresh by default; the web layer passes its chart cache, so
# the report reuses what the lesion pages drew (half a second of matplotlib per lesion).
LesionSvg = Callable[[Lesion, date], bytes]


def draw_lesion_svg(lesion: Lesion, today: date) -> bytes:
    return charts.render_lesion(lesion, "svg", today)


def report_html(session: Session, external_id: str, *, today: date,
                links: Callable[[str], PageLinks] | None = None,
                institution: str | None = None,
                images: Thumbnails | None = None,
                chart: LesionSvg = draw_lesion_svg) -> str:
    """The report as HTML: the print page with its toolbar when given the page's `links` (of
    the stored patient id), else the document the PDF is made of; with each visit's key image
    when given the PACS's `images`."""
    patient = patient_with_everything(session, external_id)
    # the table's rows read next to the graph, before the PACS and the charts take seconds
    table = timepoint_table(patient_visits(session, patient.external_id).lesions)
    key_images = _key_images(session, list(patient.lesions), images)
    lesions: list[dict[str, Any]] = []
    for lesion in patient.lesions:
        current = lesion.assessment_current
        latest = lesion.observations[-1] if lesion.observations else None
        assessment = latest.assessment if latest is not None and current else None
        lesions.append({
            "lesion": lesion,
            "caption": lesion_caption(lesion),
            "current": current,
            "stage": lesion.current_stage if current else None,
            "assessment": assessment,
            "alerts": open_alerts_of(lesion),
            "chart": _svg_data_uri(chart(lesion, today)),
            "key_images": key_images.get(lesion.id, []),
        })
    return templates().get_template("report.html").render(
        patient=patient, lesions=lesions, table=table, chunks=visit_chunks(table),
        institution=institution,
        caption=lesion_caption, today=today, generated=datetime.now().astimezone(),
        links=links(patient.external_id) if links is not None else None,
    )


def report_pdf(session: Session, external_id: str, *, today: date,
               institution: str | None = None, images: Thumbnails | None = None,
               chart: LesionSvg = draw_lesion_svg) -> bytes:
    from reporting.fetch import pdf_of_html  # WeasyPrint: a second to import, only for a PDF

    html = report_html(session, external_id, today=today, institution=institution, images=images,
                       chart=chart)
    return pdf_of_html(html)
