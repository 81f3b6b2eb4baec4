"""The cohort page: split by entity family by default, too-small groups said so, the charts
and the curve as CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tests.web.conftest import Client
from tracker.cohort import Tally
from tracker.cohort_figures import km_figure
from tracker.queries.to_assess import all_lesions
from tracker.services.assessment.assess import assess_lesions

Login = Callable[[str | None], Client]


def cohort(session: Session) -> None:
    """12 shoulder deposits (6 gone at 30-180 days, 6 still there at 200) and 2 phleboliths."""
    for n in range(12):
        follow = (obs(f"2024-0{2 + n}-01", visible=False, size=None) if n < 6
                  else obs("2024-07-19", 11.0))
        make_lesion(session, patient=make_patient(session, f"C-{n}"),
                    observations=[obs("2024-01-01", 12.0), follow])
    for n in range(2):
        make_lesion(session, patient=make_patient(session, f"V-{n}"), entity="phlebolith",
                    compartment="vascular", region="lower_leg", laterality="left", structure=None,
                    observations=[obs("2024-01-01", 4.0), obs("2024-09-01", 4.0)])
    assess_lesions(session, all_lesions(session), date(2025, 1, 1))


def test_cohort_page_splits_by_family_and_says_what_it_cannot_estimate(
        login: Login, session: Session) -> None:
    cohort(session)
    client = login("clinician")
    page = client.get("/cohort")
    assert page.status_code == 200
    text = page.text
    assert "Time to resolution" in text and "Best response per lesion" in text
    assert '<option value="family" selected>Entity family</option>' in text
    hadd = text.split("Hydroxyapatite (HADD)</th>")[1].split("</tr>")[0]
    # 12 lesions, 6 resolved at 31, 60, 91, 121, 152, 182 days: S reaches 0.5 at 182 (the
    # median); the band's upper edge never does: its bound is not estimable
    assert "<td>12</td><td>6</td>" in hadd
    assert "<td>182</td><td>60 to not estimable</td>" in hadd
    generic = text.split("Other (generic family)</th>")[1].split("</tr>")[0]
    assert '<td colspan="2">too few to estimate</td>' in generic
    assert 'class="too-few"' in text
    assert "drawn dashed in its own colour" in text and "fewer than 5 lesions are at risk" in text
    svg = client.get("/cohort/km.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"At risk" in svg.data and b"too few to estimate" in svg.data
    png = client.get("/cohort/waterfall.png")
    assert png.status_code == 200 and png.data[:4] == b"\x89PNG"
    csv_text = client.get("/cohort/km.csv?region=lower_leg&by=none").text
    assert csv_text.splitlines()[1:] == ["all,0,2,0,0,1.0,1.0,1.0", "all,244,2,0,2,1.0,1.0,1.0"]
    pooled = client.get("/cohort?by=none").text
    assert "All entity families are pooled" in pooled and "All lesions</th><td>14</td>" in pooled


def test_cohort_rejects_unknown_codes_and_needs_sign_in(login: Login, session: Session) -> None:
    client = login("clinician")
    bad = client.get("/cohort?entity=unicorn")
    assert bad.status_code == 400 and "entity" in bad.text
    assert client.get("/cohort?by=shoe").status_code == 400
    assert "No assessed lesion" in client.get("/cohort").text
    assert login(None).get("/cohort").status_code == 302


def test_every_km_curve_stops_where_fewer_than_five_are_at_risk() -> None:
    """Eight deposits resolving at 10, 20, ... 80 days (too few to estimate) are drawn to 40
    days, the last time 5 were at risk, not down to 0 at 80; three never had 5 at risk: only
    their legend entry is left."""
    eight = [Tally(("hadd", "I", "small", "shoulder", "tendon"), 10 * k, True, 1)
             for k in range(1, 9)]
    three = [Tally(("phlebolith", "not graded", "not graded", "lower_leg", "vascular"),
                   30 * k, True, 1) for k in range(1, 4)]
    fig = km_figure(eight + three, by="family")
    drawn = {line.get_label().split(" (n=")[0]: max(line.get_xdata())
             for line in fig.axes[0].get_lines() if " (n=" in str(line.get_label())}
    assert drawn == {"Hydroxyapatite (HADD)": 40, "Other (generic family)": 0}
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sorted(labels) == ["Hydroxyapatite (HADD) (n=8)", "Other (generic family) (n=3)"]
