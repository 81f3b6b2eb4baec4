"""The cohort page: filters, the median table, the charts and the curve as CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tests.web.conftest import Client
from tracker.queries.to_assess import all_lesions
from tracker.services.assessment.assess import assess_lesions

Login = Callable[[str | None], Client]


def _cohort(session: Session) -> None:
    for n, (gone_on, region) in enumerate([("2024-01-31", "shoulder"), (None, "shoulder"),
                                           ("2024-04-10", "hip")]):
        follow = obs(gone_on, visible=False) if gone_on else obs("2024-03-01", 12.0)
        make_lesion(session, patient=make_patient(session, f"C-{n}"), region=region,
                    observations=[obs("2024-01-01", 12.0), follow])
    assess_lesions(session, all_lesions(session), date(2025, 1, 1))


def test_cohort_page_shows_medians_and_charts(login: Login, session: Session) -> None:
    _cohort(session)
    client = login("clinician")
    page = client.get("/cohort?by=region")
    assert page.status_code == 200
    text = page.text
    assert "Time to resolution" in text and "Best response per lesion" in text
    # hip: one lesion resolved at 100 days; shoulder: resolved at 30 of 2 -> median 30
    assert "<th scope=\"row\">Hip</th><td>1</td><td>1</td>\n        <td>100</td>" in text
    assert "<th scope=\"row\">Shoulder</th><td>2</td><td>1</td>\n        <td>30</td>" in text
    svg = client.get("/cohort/km.svg?by=region")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"At risk" in svg.data
    png = client.get("/cohort/waterfall.png")
    assert png.status_code == 200 and png.data[:4] == b"\x89PNG"
    csv_text = client.get("/cohort/km.csv?region=hip").text
    assert csv_text.splitlines()[1:] == ["all,0,1,0,0,1.0,1.0,1.0",
                                         "all,100,1,1,0,0.0,0.0,0.0"]


def test_cohort_rejects_unknown_codes_and_needs_sign_in(login: Login, session: Session) -> None:
    client = login("clinician")
    bad = client.get("/cohort?entity=unicorn")
    assert bad.status_code == 400 and "entity" in bad.text
    assert client.get("/cohort?by=shoe").status_code == 400
    assert "No assessed lesion" in client.get("/cohort").text
    assert login(None).get("/cohort").status_code == 302
