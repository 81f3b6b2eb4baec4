"""The prognosis on the pages and in the API: numbers (with their intervals and support) only
from a stored fit the data support; the demo says "not enough follow-up data" everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.prognosis.stored_fit import imported, usable_fit
from tests.web.conftest import Client
from tracker import demo
from tracker.models import Alert, Lesion
from tracker.prognosis.model import NOT_ENOUGH
from tracker.queries.to_assess import all_lesions
from tracker.services.assessment.assess import assess_lesions
from tracker.services.imports import import_timeline
from tracker.services.prognosis import refit, store_fit

Login = Callable[[str | None], Client]


def _alerted_lesion(session: Session) -> int:
    found = session.scalar(select(Lesion.id).join(Alert).where(
        Alert.kind == "no_resolution", Alert.state == "open").limit(1))
    assert found is not None
    return found


def test_a_used_model_gives_numbers_with_intervals(login: Login, session: Session) -> None:
    fit = usable_fit()
    store_fit(session, fit)
    imported(session, 20, seed=41)
    lesion_id = _alerted_lesion(session)
    client = login("clinician")

    body: dict[str, Any] = client.get(f"/api/v1/lesions/{lesion_id}").json
    p = body["prognosis"]
    assert p["status"] == "available" and p["model"]["version"] == 1
    assert [b["months"] for b in p["by_month"]] == [6, 12, 24]
    assert p["standing"]["text"].startswith(f"{p['standing']['percent']:.0f} % of similar deposits")

    alerts = client.get("/api/v1/alerts?kind=no_resolution&per_page=100").json["items"]
    row = next(a for a in alerts if a["lesion_id"] == lesion_id)
    assert row["standing"]["text"] == p["standing"]["text"]
    assert row["standing"]["model"]["version"] == 1
    # the worklist page gives the same context under the alert's reason
    worklist = client.get("/alerts?kind=no_resolution&per_page=100").text
    start = worklist.index(f'id="alert-{row["id"]}"')
    assert f"Context: {p['standing']['text']}" in worklist[start:worklist.index("</tr>", start)]

    page = client.get(f"/lesions/{lesion_id}").text
    twelve = p["by_month"][1]
    assert ("<th scope=\"row\">12 months</th><td class=\"num\">"
            f"{100 * twelve['probability']:.0f} %</td>") in page
    assert f"{100 * twelve['ci_lower']:.0f}–{100 * twelve['ci_upper']:.0f} %" in page
    assert f"Context: {p['standing']['text']}" in page
    assert f"on {fit.n} lesions with {fit.events} resolutions" in page

    cohort = client.get("/cohort").text
    assert "Prognosis models: time to resolution" in cohort
    assert f"Cross-validated C-index {fit.c_index:.2f}" in cohort
    assert "Gärtner type III (vs I)" in cohort and "Calibration at 12 months" in cohort
    for figure in ("forest", "calibration"):
        svg = client.get(f"/cohort/prognosis/hadd/{figure}.svg")
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert client.get("/cohort/prognosis/ho/forest.svg").status_code == 404

    spec = client.get("/api/v1/openapi.json").json
    lesion_schema = spec["components"]["schemas"]["LesionOut"]
    assert "prognosis" in lesion_schema["required"]
    assert "by_month" in spec["components"]["schemas"]["LesionOut.PrognosisOut"]["properties"]


def test_the_demo_says_not_enough_follow_up_data(login: Login, session: Session) -> None:
    today = date.today()
    import_timeline(session, demo.timeline(today), actor="demo")
    assess_lesions(session, all_lesions(session), today)
    session.commit()
    client = login("clinician")
    some = session.scalar(select(Lesion.id).order_by(Lesion.id).limit(1))
    before = client.get(f"/lesions/{some}").text
    assert "No model fitted yet." in before
    cohort = client.get("/cohort").text  # the command is named in words a page can show
    assert "No model fitted yet (the nightly refit fits one, or now: tracker cohort prognosis " \
        "fit)." in cohort and "`" not in cohort

    results = refit(session)
    assert not any(r.usable for r in results)
    for lesion_id in session.scalars(select(Lesion.id).order_by(Lesion.id).limit(5)):
        p = client.get(f"/api/v1/lesions/{lesion_id}").json["prognosis"]
        assert p["status"] == "unavailable" and p.get("by_month") is None
    hadd = session.scalar(select(Lesion.id).where(Lesion.assessed_entity == "hadd").limit(1))
    page = client.get(f"/lesions/{hadd}").text
    assert "Not enough follow-up data in this clinic: " in page
    assert "months</th>" not in page  # no probability table
    cohort = client.get("/cohort").text
    assert cohort.count("Not enough follow-up data in this clinic") >= 3
    assert "forest.svg" not in cohort and "calibration.svg" not in cohort
    assert NOT_ENOUGH in client.get(f"/api/v1/lesions/{hadd}").json["prognosis"]["text"]
