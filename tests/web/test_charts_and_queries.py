"""Charts are cached by data_version + assessed_version and served with ETags; every page's
statement count is fixed whatever the number of lesions and observations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from testkit.statements import statements
from tests.prognosis.stored_fit import usable_fit
from tests.web.conftest import Client
from tests.web.seed import assess, seed_patient
from tracker.db import engine_for
from tracker.services.prognosis import store_fit
from web.charts import ChartCache

Login = Callable[[str | None], Client]


def _cache(app: Any) -> ChartCache:
    cache: ChartCache = app.extensions["calcitrack_charts"]
    return cache


def test_lesion_chart_etag_304_and_cache(app: Any, login: Login, session: Session) -> None:
    ids = seed_patient(session)
    client = login("clinician")
    url = f"/lesions/{ids[0]}/chart.png"
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert first.data.startswith(b"\x89PNG")
    etag = first.headers["ETag"]
    assert _cache(app).renders == 1
    again = client.get(url)
    assert again.data == first.data and _cache(app).renders == 1  # served from the cache
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not not_modified.data
    assert _cache(app).renders == 1
    svg = client.get(f"/lesions/{ids[0]}/chart.svg?download=1")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert svg.headers["ETag"] != etag
    assert 'attachment; filename="lesion-' in svg.headers["Content-Disposition"]
    assert _cache(app).renders == 2
    assert client.get(f"/lesions/{ids[0]}/chart.gif").status_code == 404

    # new data: a new version, so a new ETag and one new render
    saved = login("radiologist").post(f"/lesions/{ids[0]}/observations/new", {
        "date": "2024-12-01", "modality": "XR", "visible": "no"})
    assert saved.status_code == 302, saved.text
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert _cache(app).renders == 3
    # the assessment of that data: new assessed_version, new chart
    assess(session, ids[0], ["formative", "resorptive", "resorptive", "resolved"])
    assessed = client.get(url, headers={"If-None-Match": changed.headers["ETag"]})
    assert assessed.status_code == 200 and _cache(app).renders == 4



def test_the_report_shares_each_lesion_chart_with_the_lesion_pages(
        app: Any, login: Login, session: Session) -> None:
    """The print page and the PDF draw each lesion's chart once, and the lesion page's chart
    is that drawing; a lesion with a new visit is drawn again, the others are not."""
    ids = seed_patient(session, lesions=3)
    client = login("clinician")
    page = client.get("/patients/P-0001/report")
    assert page.status_code == 200 and page.text.count("data:image/svg+xml;base64,") == 3
    assert _cache(app).renders == 3
    assert client.get("/patients/P-0001/report.pdf").status_code == 200
    chart = client.get(f"/lesions/{ids[1]}/chart.svg")
    assert chart.status_code == 200 and _cache(app).renders == 3
    saved = login("radiologist").post(f"/lesions/{ids[0]}/observations/new", {
        "date": "2024-12-01", "modality": "XR", "visible": "no"})
    assert saved.status_code == 302, saved.text
    assert client.get("/patients/P-0001/report").status_code == 200
    assert _cache(app).renders == 4

def test_timeline_chart_cached_and_follows_alerts(app: Any, login: Login, session: Session) -> None:
    seed_patient(session)
    client = login("clinician")
    url = "/patients/P-0001/timeline.svg"
    first = client.get(url)
    assert first.status_code == 200 and b"<svg" in first.data
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert _cache(app).renders == 1
    assert client.get("/patients/NOPE/timeline.png").status_code == 404


def _patient_with(session: Session, external_id: str, lesions: int) -> tuple[int, list[int]]:
    patient = make_patient(session, external_id, birth_year=1960)
    ids = []
    for i in range(lesions):
        lesion = make_lesion(session, patient=patient, external_id=f"L{i:03d}", commit=False,
                             observations=[obs("2024-01-10", 14, features=("comet_tail",)),
                                           obs("2024-05-02", 10, modality="US"),
                                           obs("2024-09-02", 8)])
        ids.append(lesion.id)
    session.commit()
    for lesion_id in ids:
        assess(session, lesion_id, ["formative", "resorptive", "resorptive"],
               alerts=[{"kind": "no_resolution", "severity": "warning",
                        "since": date(2024, 9, 2)}],
               transitions=[{"date": date(2024, 5, 2), "from_stage": "formative",
                             "to_stage": "resorptive", "evidence": ["size -29%"]}])
    return patient.id, ids


def test_statement_count_does_not_grow_with_lesions(app: Any, login: Login, session: Session,
                                                    database_url: str) -> None:
    store_fit(session, usable_fit())  # a usable model: the pages read prognoses and standings
    _, few = _patient_with(session, "FEW", 5)
    _, many = _patient_with(session, "MANY", 20)
    client = login("clinician")
    pages = [
        ("/patients/{p}", "/patients/FEW", "/patients/MANY"),
        ("/patients/{p}/timepoints", "/patients/FEW/timepoints", "/patients/MANY/timepoints"),
        ("/patients/{p}/timeline.png", "/patients/FEW/timeline.png",
         "/patients/MANY/timeline.png"),
        ("/lesions/{l}", f"/lesions/{few[0]}", f"/lesions/{many[0]}"),
        ("/lesions/{l}/chart.png", f"/lesions/{few[1]}/chart.png",
         f"/lesions/{many[1]}/chart.png"),
        ("/api/v1/patients/{p}", "/api/v1/patients/FEW", "/api/v1/patients/MANY"),
        ("/api/v1/lesions/{l}", f"/api/v1/lesions/{few[0]}", f"/api/v1/lesions/{many[0]}"),
    ]
    for name, small, large in pages:
        with statements(engine_for(database_url)) as n_small:
            assert client.get(small).status_code == 200
        with statements(engine_for(database_url)) as n_large:
            assert client.get(large).status_code == 200
        assert len(n_small) == len(n_large), (name, len(n_small), len(n_large))
        assert len(n_small) <= 12, (name, len(n_small))
    # worklist and patient list: 25 alerts. At most 10: the user, the rule choices,
    # the page, the bounded count (on PostgreSQL in a savepoint under a time limit: four
    # statements), the latest prognosis fits and the records of the page's no_resolution
    # lesions (where each stands), and the header's counts
    for url in ("/alerts", "/patients", "/api/v1/alerts", "/api/v1/patients"):
        with statements(engine_for(database_url)) as n:
            assert client.get(url).status_code == 200
        assert len(n) <= 10, (url, len(n), [s[:70] for s in n])
    assert "Context: " in client.get("/alerts").text  # the standings were read
