"""The printed report as a reader holds it: every visit of a long follow-up is in the PDF (the
timepoint table in chunks, newest first, the lesion column repeated), no table row is split
across two pages, and the header and the sign-off block are there."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from reporting.fetch import pdf_of_html
from reporting.report import report_html, report_pdf
from testkit.factories import make_lesion, make_patient, obs
from tracker.models import Lesion
from tracker.services.assessment.assess import assess_lesion

VISITS = 14
LESIONS = 5


def _seed(session: Session) -> list[date]:
    """A patient with five lesions imaged at the same 14 visits; each cell's size is unique
    (lesion i, visit j: 10 + i + j/100 mm), so its text identifies its row on a page."""
    patient = make_patient(session, "P-LONG", birth_year=1960, sex="F")
    days = [date(2022, 1, 10) + timedelta(days=60 * j) for j in range(VISITS)]
    regions = ["shoulder", "hip", "elbow", "knee", "wrist"]
    for i in range(LESIONS):
        make_lesion(session, patient=patient, external_id=f"L{i + 1}", region=regions[i],
                    observations=[obs(d.isoformat(), 10 + i + j / 100)
                                  for j, d in enumerate(days)])
    session.commit()
    return days


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_visit_is_printed_and_no_row_splits(session: Session) -> None:
    days = _seed(session)
    for lesion_id in session.scalars(select(Lesion.id)):
        assess_lesion(session, lesion_id, date(2024, 6, 1))
    # the document report_pdf prints (rendered once: its charts take seconds)
    html = report_html(session, "P-LONG", today=date(2024, 6, 1),
                       institution="Hôpital Saint-Exemple, radiologie")
    table = html[html.index("Timepoint table"):]
    first_header = re.search(r"<th>(\d{4}-\d{2}-\d{2})<br>", table)
    assert first_header is not None and first_header.group(1) == days[-1].isoformat()
    assert table.count('<th class="lesion-col">Lesion</th>') == 2  # 14 visits: two parts
    pdf = pdf_of_html(html)
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]
    text = "\n".join(pages)
    assert "Hôpital Saint-Exemple, radiologie" in pages[0]
    assert "Reviewed by" in pages[-1] and "Date" in pages[-1]
    for d in days:  # every visit's date is printed, the newest included
        assert d.isoformat() in text, d
    # each table row (a lesion in one chunk of 7 visits) lies on a single page
    where: dict[float, set[int]] = {}
    start_page = next(n for n, page in enumerate(pages) if "Timepoint table" in page)
    for number, page in enumerate(pages):
        if number < start_page:
            continue
        if number == start_page:  # the lesions' own sections (evidence) come before it
            page = page[page.index("Timepoint table"):]
        for size in re.findall(r"\b(\d{2}\.\d{1,2}) mm", page):
            where.setdefault(float(size), set()).add(number)
    newest_first = days[::-1]
    for i in range(LESIONS):
        for start in range(0, VISITS, 7):
            row = [10 + i + days.index(d) / 100 for d in newest_first[start:start + 7]]
            assert all(size in where for size in row), (i, start, row)
            assert len(set.union(*(where[size] for size in row))) == 1, (i, start, row)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_header_line_names_the_institution_only_when_one_is_configured(
        session: Session) -> None:
    patient = make_patient(session, "P-ONE", birth_year=1960, sex="F")
    make_lesion(session, patient=patient, external_id="L1", region="shoulder",
                observations=[obs("2024-01-10", 12)])
    session.commit()
    pages = [PdfReader(io.BytesIO(report_pdf(session, "P-ONE", today=date(2024, 6, 1),
                                             institution=institution))).pages[0].extract_text()
             for institution in (None, "Hôpital Saint-Exemple, radiologie")]
    assert "Hôpital" not in pages[0]
    assert "Hôpital Saint-Exemple, radiologie" in pages[1]


def test_each_lesion_says_how_it_was_treated(session: Session) -> None:
    """A signed follow-up report says the deposit was treated, when and how, as the lesion
    page lists it beside the visits; an untreated lesion says none was recorded."""
    patient = make_patient(session, "P-TR")
    make_lesion(session, patient=patient, observations=[obs("2024-01-10", 12)],
                treatments=[("2024-02-01", "lavage")])
    make_lesion(session, patient=patient, external_id="L2", laterality="left",
                observations=[obs("2024-01-10", 8)])
    html = report_html(session, "P-TR", today=date(2024, 6, 1))
    first, second = html.split("<h2>Lesion ")[1:3]
    assert "<dt>Treatments</dt><dd><div>2024-02-01 · US-guided needling / lavage (barbotage)" \
        in first
    assert "<dt>Treatments</dt><dd>none recorded</dd>" in second
