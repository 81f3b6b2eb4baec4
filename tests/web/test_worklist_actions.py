"""The worklist's filters combined, and what a clinician's action on an alert asks and says:
an urgent alert is acknowledged only with a reason, a snooze offers presets shown as ISO dates
(or takes a typed YYYY-MM-DD), and each confirmation names the patient and the lesion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tests.web.conftest import Client
from tests.web.seed import assess
from tracker.models import Alert
from web.clock import today

Login = Callable[[str | None], Client]


def _two_patients(session: Session) -> tuple[int, int]:
    """P-1 lesion A: overdue, an urgent `ho_atypical` and a warning; P-2 lesion B: not
    overdue, the same urgent kind and rule."""
    a = make_lesion(session, patient=make_patient(session, "P-1"), external_id="A",
                    observations=[obs("2024-01-10", 10)])
    b = make_lesion(session, patient=make_patient(session, "P-2"), external_id="B",
                    observations=[obs("2024-01-10", 10)])
    assess(session, a.id, ["resting"], next_follow_up=date(2020, 1, 1), alerts=[
        {"kind": "ho_atypical", "severity": "urgent", "since": date(2024, 6, 1)},
        {"kind": "no_resolution", "severity": "warning", "since": date(2024, 1, 1)}])
    assess(session, b.id, ["resting"], next_follow_up=date(2099, 1, 1), alerts=[
        {"kind": "ho_atypical", "severity": "urgent", "since": date(2024, 5, 1)}])
    return a.id, b.id


def _alert(session: Session, lesion_id: int, kind: str) -> int:
    alert_id = session.scalar(select(Alert.id).where(Alert.lesion_id == lesion_id,
                                                     Alert.kind == kind))
    assert alert_id is not None
    return alert_id


def test_filters_combine(login: Login, session: Session) -> None:
    _two_patients(session)
    client = login("clinician")
    both = client.get("/alerts?overdue=1&kind=ho_atypical&rule=test.ho_atypical").text
    assert both.count('id="alert-') == 1 and ">P-1</strong>" in both and "P-2" not in both
    assert "1 alerts in all" in both
    kind_only = client.get("/alerts?kind=ho_atypical&rule=test.ho_atypical").text
    assert kind_only.count('id="alert-') == 2
    none = client.get("/alerts?overdue=1&kind=ho_atypical&rule=test.no_resolution").text
    assert "No alerts match." in none


def test_an_urgent_alert_is_acknowledged_only_with_a_reason(login: Login,
                                                           session: Session) -> None:
    a, _ = _two_patients(session)
    urgent, warning = _alert(session, a, "ho_atypical"), _alert(session, a, "no_resolution")
    client = login("clinician")
    page = client.get("/alerts").text
    assert f'id="ack-reason-{urgent}" name="reason" placeholder="Reason (required)"' in page
    assert f'id="ack-reason-{warning}" name="reason" placeholder="Note (optional)"' in page
    refused = client.post(f"/alerts/{urgent}/acknowledge", {"next": "/alerts"},
                          follow_redirects=True).text
    assert "Alert not acknowledged" in refused and "urgent" in refused
    bulk = client.post("/alerts/bulk", {"alert": [urgent, warning], "action": "acknowledge",
                                        "next": "/alerts"}, follow_redirects=True).text
    assert "No alert changed" in bulk
    session.expire_all()
    assert {a.state for a in session.scalars(select(Alert))} == {"open"}
    assert "lesion A acknowledged" in client.post(
        f"/alerts/{warning}/acknowledge", {"next": "/alerts"}, follow_redirects=True).text
    done = client.post(f"/alerts/{urgent}/acknowledge",
                       {"reason": "called the patient", "next": "/alerts"},
                       follow_redirects=True).text
    assert "“HO atypical” of patient P-1, lesion A acknowledged." in done


def test_snooze_offers_presets_as_iso_dates_and_names_the_lesion(
        app: Any, login: Login, session: Session) -> None:
    a, b = _two_patients(session)
    client = login("clinician")
    page = client.get("/alerts").text
    with app.app_context():
        day = today()
    two_weeks = date.fromordinal(day.toordinal() + 14).isoformat()
    assert f'value="{two_weeks}" checked> 2 weeks <span class="muted">{two_weeks}</span>' in page
    for label in ("1 month", "3 months", "6 months"):
        assert f"> {label} <" in page
    assert 'type="date"' not in page  # no browser-rendered (mm/dd/yyyy) date field
    assert 'placeholder="YYYY-MM-DD"' in page
    alert_id = _alert(session, b, "ho_atypical")
    done = client.post(f"/alerts/{alert_id}/snooze", {
        "until": two_weeks, "reason": "MR booked", "next": "/alerts"}, follow_redirects=True)
    assert f"of patient P-2, lesion B snoozed until {two_weeks}." in done.text
    typed = date.fromordinal(day.toordinal() + 40).isoformat()
    other = _alert(session, a, "ho_atypical")
    done = client.post(f"/alerts/{other}/snooze", {
        "until": two_weeks, "until_date": typed, "reason": "MR booked", "next": "/alerts"},
        follow_redirects=True)
    assert f"of patient P-1, lesion A snoozed until {typed}." in done.text
    bad = client.post(f"/alerts/{_alert(session, a, 'no_resolution')}/snooze", {
        "until_date": "03/04/2030", "reason": "x", "next": "/alerts"}, follow_redirects=True)
    assert "is not a date (YYYY-MM-DD)" in bad.text
