"""The pages: what a clinician sees, and what the forms change (audited, queued, validated)."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tests.web.conftest import Client
from tests.web.seed import assess, seed_patient
from tracker.models import Alert, AuditEvent, Observation, Patient

Login = Callable[[str | None], Client]


def test_worklist_sorted_by_severity_then_age_and_filtered(login: Login, session: Session) -> None:
    p = make_patient(session, "P-1")
    a = make_lesion(session, patient=p, external_id="A", observations=[obs("2024-01-10", 10)])
    b = make_lesion(session, patient=p, external_id="B", region="knee",
                    observations=[obs("2024-01-10", 10)])
    assess(session, a.id, ["formative"], alerts=[
        {"kind": "no_resolution", "severity": "warning", "since": date(2024, 1, 1)},
        {"kind": "follow_up_overdue", "severity": "info", "since": date(2023, 1, 1)},
    ])
    assess(session, b.id, ["formative"], alerts=[
        {"kind": "rapid_progression", "severity": "urgent", "since": date(2024, 6, 1)},
        {"kind": "no_resolution", "severity": "warning", "since": date(2023, 6, 1)},
    ])
    client = login("clinician")
    text = client.get("/alerts").text
    order = [text.index(s) for s in ("reason for rapid_progression",
                                     "reason for no_resolution", "reason for follow_up_overdue")]
    assert order == sorted(order)
    # within warning, the older one (B, 2023) first
    assert text.index("2023-06-01") < text.index("2024-01-01")
    knee = client.get("/alerts?region=knee").text
    assert "reason for rapid_progression" in knee and "reason for follow_up_overdue" not in knee
    urgent = client.get("/alerts?severity=urgent").text
    assert urgent.count('class="row-sev-') == 1
    kinds = client.get("/alerts?kind=no_resolution").text
    assert kinds.count('class="row-sev-') == 2
    bogus = client.get("/alerts?severity=bogus")  # one reader of query arguments, as the API's
    assert bogus.status_code == 400 and "<code>severity</code>: " in bogus.text


def test_acknowledge_and_snooze_are_audited(login: Login, session: Session) -> None:
    seed_patient(session)
    alert_id = session.scalar(select(Alert.id))
    client = login("clinician")
    r = client.post(f"/alerts/{alert_id}/acknowledge", {"reason": "seen", "next": "/alerts"})
    assert r.status_code == 302
    session.expire_all()
    alert = session.get(Alert, alert_id)
    assert alert is not None and alert.state == "acknowledged" and alert.state_by == "clinician"
    until = (date.today() + timedelta(days=30)).isoformat()
    r = client.post(f"/alerts/{alert_id}/snooze", {"until": until, "reason": "await MR"})
    session.expire_all()
    alert = session.get(Alert, alert_id)
    assert alert is not None and alert.state == "snoozed"
    assert alert.snoozed_until is not None and alert.snoozed_until.isoformat() == until
    actions = list(session.scalars(select(AuditEvent.action)
                                   .where(AuditEvent.target_type == "alert")))
    assert actions == ["alert.acknowledge", "alert.snooze"]
    # a snoozed alert leaves the default worklist but shows under "snoozed"
    assert "reason for no_resolution" not in client.get("/alerts").text
    assert "reason for no_resolution" in client.get("/alerts?state=snoozed").text
    # a snooze needs a future date and a reason
    r = client.post(f"/alerts/{alert_id}/snooze", {"until": "2001-01-01", "reason": ""},
                    follow_redirects=True)
    assert "not snoozed" in r.text and "is not after today" in r.text


def test_patient_list_search_order_and_pages(login: Login, session: Session) -> None:
    quiet = make_patient(session, "AAA-1")
    make_lesion(session, patient=quiet, observations=[obs("2024-02-01", 5)])
    seed_patient(session, "ZZZ-9")  # has a warning alert: listed first despite the name
    client = login("clinician")
    text = client.get("/patients").text
    assert text.index("ZZZ-9") < text.index("AAA-1")
    assert "1 warning" in text and "2024-09-15" in text
    found = client.get("/patients?q=aaa").text
    assert "AAA-1" in found and "ZZZ-9" not in found
    assert "No patient id contains" in client.get("/patients?q=%25").text  # % is literal
    past = client.get("/patients?q=aaa&page=2").text  # the one match is on page 1
    assert "No patient id contains" not in past
    assert "No more patients whose id contains “aaa” past this point" in past
    for i in range(30):
        make_patient(session, f"B-{i:02d}")
    session.commit()
    first = client.get("/patients").text
    assert "32 patients" in first and first.count('class="muted">') >= 25
    after = re.search(r'href="(/patients\?after=[^"]+)" rel="next"', first)
    assert after is not None
    second = client.get(html.unescape(after.group(1))).text
    shown = set(re.findall(r"<strong>([A-Z]+-\d+)</strong>", first)) | set(
        re.findall(r"<strong>([A-Z]+-\d+)</strong>", second))
    assert shown == {"AAA-1", "ZZZ-9", *(f"B-{i:02d}" for i in range(30))}
    assert 'rel="next"' not in second and "First page" in second


def test_a_search_naming_one_patient_exactly_opens_it(login: Login, session: Session) -> None:
    for pid in ("P-7", "P-70", "Qa-1", "qA-1"):
        make_patient(session, pid)
    session.commit()
    client = login("clinician")
    opened = client.get("/patients?q=p-7")  # its id, but for case: that patient
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/patients/P-7")
    listed = client.get("/patients?q=P-")  # part of several ids: the list
    assert listed.status_code == 200 and "P-70" in listed.text
    exact = client.get("/patients?q=Qa-1")  # exactly one of two ids differing in case
    assert exact.headers["Location"].endswith("/patients/Qa-1")
    ambiguous = client.get("/patients?q=qa-1")  # both, ignoring case: the list shows them
    assert ambiguous.status_code == 200 and "Qa-1" in ambiguous.text and "qA-1" in ambiguous.text


def test_timeline_and_lesion_pages_show_stage_entity_follow_up(login: Login,
                                                                session: Session) -> None:
    ids = seed_patient(session)
    client = login("clinician")
    text = client.get("/patients/P-0001").text
    assert "Resorptive" in text and "pending" in text  # L1 assessed, L2 not yet
    assert "Calcific tendinopathy (hydroxyapatite)" in text and "2025-03-01" in text
    assert "Needs attention" in text
    lesion = client.get(f"/lesions/{ids[0]}").text
    for expected in ("No resolution", "test.no_resolution", "reason for no_resolution",
                     "size -36%", "Gärtner", "≠ modality", "Morphology per visit",
                     "Ill defined", "chart.png", "chart.svg?download=1"):
        assert expected in lesion, expected
    # the ultrasound visit reads as a sonographer sees it; the radiographs keep their words
    assert "Density / echogenicity (US)" in lesion and "Margin / shadowing (US)" in lesion
    assert "Dense (hyperechoic)" in lesion and "Well defined (clean acoustic shadow)" in lesion
    assert ">Dense</" in lesion
    pending = client.get(f"/lesions/{ids[1]}").text
    assert "data-poll-url" in pending and "Assessment pending" in pending
    assert client.get("/patients/NOPE").status_code == 404
    assert client.get("/lesions/999999").status_code == 404


def test_suggested_entity_is_marked_suggested(login: Login, session: Session) -> None:
    lesion = make_lesion(session, entity=None, observations=[obs("2024-01-10", 10)])
    assess(session, lesion.id, ["formative"], entity="hadd",
           suggestions=[{"entity": "hadd", "score": 0.8, "why": ["tendon", "nodular"]}])
    text = login("clinician").get(f"/lesions/{lesion.id}").text
    assert "suggested" in text and "tendon, nodular" in text and "0.80" in text


def test_user_text_is_escaped(login: Login, session: Session) -> None:
    lesion = make_lesion(session, structure="<script>alert(1)</script>",
                         observations=[obs("2024-01-10", 10, note="<img src=x onerror=alert(1)>")])
    client = login("clinician")
    patient_page = f"/patients/{lesion_patient(session, lesion.id)}"
    for url in (f"/lesions/{lesion.id}", "/alerts", patient_page):
        text = client.get(url).text
        assert "<script>alert(1)" not in text and "<img src=x" not in text


def lesion_patient(session: Session, lesion_id: int) -> str:
    from tracker.models import Lesion

    lesion = session.get(Lesion, lesion_id)
    assert lesion is not None
    patient = session.get(Patient, lesion.patient_id)
    assert patient is not None
    return patient.external_id


def _form(**kw: str | list[str]) -> dict[str, str | list[str]]:
    base: dict[str, str | list[str]] = {
        "date": "2024-12-01", "modality": "XR", "visible": "yes", "size_mm": ["7", "", ""],
        "density": "faint", "margin": "ill_defined", "texture": "", "pattern": "cloud",
        "features": ["comet_tail"], "pain": "4", "note": "shrinking",
    }
    base.update(kw)
    return base


def test_record_observation_validates_like_the_cli(login: Login, session: Session,
                                                   queued: list[list[int]]) -> None:
    ids = seed_patient(session)
    client = login("radiologist")
    url = f"/lesions/{ids[0]}/observations/new"
    # each field's hint reads the last visit as the choices read, not as codes
    hints = dict(re.findall(r'data-was="(\w+)">last visit: ([^<]*)<', client.get(url).text))
    # the last visit was an ultrasound: its density and margin read as echogenicity, shadowing
    assert hints["density"] == "Dense (hyperechoic)", hints
    assert hints["margin"] == "Well defined (clean acoustic shadow)", hints
    bad = client.post(url, _form(size_mm=["0", "9", ""], pain="11", density="solid",
                                 date="2999-01-01", features=["comet_tail", "comet_tail"]))
    assert bad.status_code == 400
    for message in ("diameter 1: 0 must be above 0", "11 is above 10",
                    "is not a density code", "2999-01-01 is in the future",
                    "the first size must be the longest diameter",
                    "is listed more than once"):
        assert message in bad.text, message
    assert 'aria-invalid="true"' in bad.text
    invisible = client.post(url, _form(visible="no"))
    assert invisible.status_code == 400 and "must be absent when visible is false" in invisible.text
    before = client.post(url, _form(date="1950-01-01"))
    assert "before the patient&#39;s birth year 1968" in before.text
    assert queued == []
    assert session.scalar(select(func.count(Observation.id))) == 6

    ok = client.post(url, _form())
    assert ok.status_code == 302
    assert ok.headers["Location"].endswith(f"/lesions/{ids[0]}#observations")
    assert queued == [[ids[0]]]
    row = session.scalar(select(Observation).where(Observation.date == date(2024, 12, 1)))
    assert row is not None and row.size1_mm == 7 and row.pain == 4
    page = client.get(f"/lesions/{ids[0]}").text
    assert "Assessment pending" in page
    status = client.get(f"/lesions/{ids[0]}/status.json").json
    assert status is not None and status["status"] == "pending"

    again = client.post(url, _form())
    assert again.status_code == 409 and "already has an observation on 2024-12-01" in again.text


def test_edit_and_delete_observation(login: Login, session: Session,
                                     queued: list[list[int]]) -> None:
    ids = seed_patient(session)
    obs_id = session.scalar(select(Observation.id).where(Observation.lesion_id == ids[0])
                       .order_by(Observation.date))
    client = login("radiologist")
    form = client.get(f"/observations/{obs_id}/edit").text
    assert 'value="2024-01-10"' in form and 'value="14"' in form
    assert "Reason for the correction" in form
    assert '<input type="hidden" name="version" value="1">' in form
    clash = client.post(f"/observations/{obs_id}/edit",
                        _form(date="2024-03-02", reason="typo in the date", version="1"))
    assert clash.status_code == 409
    # a correction without a reason is refused with the other problems, nothing written
    no_reason = client.post(f"/observations/{obs_id}/edit",
                            _form(date="2024-01-11", pain="11", version="1"))
    assert no_reason.status_code == 400
    assert "say briefly why this observation is corrected" in no_reason.text
    assert "11 is above 10" in no_reason.text and queued == []
    r = client.post(f"/observations/{obs_id}/edit",
                    _form(date="2024-01-11", size_mm=["13,5"], reason="typo in the date",
                          version="1"))
    assert r.status_code == 302 and queued == [[ids[0]]]
    session.expire_all()
    assert session.get(Observation, obs_id).size1_mm == 13.5  # type: ignore[union-attr]
    refused = client.post(f"/observations/{obs_id}/delete", {"version": "2"},
                          follow_redirects=True)
    assert "Observation not removed: reason: say briefly why this observation is removed" \
        in refused.text
    assert session.get(Observation, obs_id) is not None
    r = client.post(f"/observations/{obs_id}/delete", {"reason": "entered on the wrong lesion",
                                                          "version": "2"})
    assert r.status_code == 302 and queued[-1] == [ids[0]]
    session.expire_all()
    assert session.get(Observation, obs_id) is None
    events = {e.action: e for e in session.scalars(
        select(AuditEvent).where(AuditEvent.actor == "radiologist",
                                 AuditEvent.target_type == "observation"))}
    assert events["observation.update"].reason == "typo in the date"
    assert events["observation.delete"].reason == "entered on the wrong lesion"
    # both are filed under the lesion and patient, so the history pages find them
    assert {(e.lesion_id, e.patient_id is not None) for e in events.values()} == {(ids[0], True)}


def _timeline(date_: str = "2024-05-01", size: float = 12) -> dict[str, object]:
    return {"format": "lesion-timeline/1", "patients": [{"id": "IMP-1", "lesions": [{
        "id": "L1", "site": {"compartment": "tendon", "region": "shoulder",
                             "laterality": "left"},
        "observations": [{"date": date_, "modality": "XR", "size_mm": [size],
                          "density": "dense", "margin": "well_defined"}]}]}]}


def test_import_upload(login: Login, session: Session, queued: list[list[int]]) -> None:
    client = login("radiologist")
    bad = _timeline(size=0)
    bad["patients"][0]["lesions"][0]["site"]["region"] = "elbw"  # type: ignore[index]
    r = client.post("/import", {"file": (io.BytesIO(json.dumps(bad).encode()), "t.json")},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    assert "patients[0].lesions[0].observations[0].size_mm[0]" in r.text
    assert "patients[0].lesions[0].site.region" in r.text
    assert session.scalar(select(func.count(Patient.id))) == 0 and queued == []
    r = client.post("/import", {"file": (io.BytesIO(b"{not json"), "t.json")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "not valid JSON" in r.text
    r = client.post("/import", {"file": (io.BytesIO(json.dumps(_timeline()).encode()), "t.json")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and "Patients created" in r.text
    assert session.scalar(select(func.count(Patient.id))) == 1 and len(queued) == 1


def test_admin_creates_users_and_tokens(login: Login, session: Session) -> None:
    client = login("admin")
    r = client.post("/admin/users", {"username": "nurse", "password": "short", "role": "clinician"})
    assert r.status_code == 400 and "at least 10 characters" in r.text
    r = client.post("/admin/users", {"username": "dr.who", "password": "long-enough-pw",
                                     "role": "radiologist"})
    assert r.status_code == 302
    r = client.post("/admin/users", {"username": "dr.who", "password": "long-enough-pw",
                                     "role": "radiologist"})
    assert r.status_code == 409
    r = client.post("/admin/users/dr.who/tokens", {"name": "ris"})
    assert r.status_code == 200 and "ct_" in r.text and "shown only once" in r.text
    assert r.headers["Cache-Control"] == "no-store"
    assert "ct_" not in client.get("/admin/users").text


def test_unstorable_input_on_pages_is_a_400_not_a_500(login: Login, session: Session,
                                                       queued: list[list[int]]) -> None:
    ids = seed_patient(session)
    client = login("radiologist")
    for url in ("/patients", "/alerts", f"/lesions/{ids[0]}/history"):
        r = client.get(f"{url}?page=99999999999999999999")
        assert r.status_code == 400 and "<code>page</code>: " in r.text, url
    assert client.get("/lesions/99999999999999999999").status_code == 404
    r = client.post(f"/lesions/{ids[0]}/observations/new", _form(note="pasted\x00text"))
    assert r.status_code == 400 and "<code>note</code>: contains a NUL character" in r.text
    r = client.get("/patients?q=P%00")
    assert r.status_code == 400 and "<code>q</code>: contains a NUL character" in r.text
    admin = login("admin")
    r = admin.post("/admin/users/radiologist/tokens", {"name": "pacs\x00"})
    assert r.status_code == 400 and "<code>name</code>: contains a NUL character" in r.text
    anon = login(None)
    token = anon.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = anon.client.post("/login", data={"username": "radiologist\x00", "password": "x",
                                         "csrf_token": token})
    assert r.status_code == 400
    assert queued == []
    assert session.scalar(select(func.count(Observation.id))) == 6


def test_an_unexpected_database_error_still_shows_the_error_page(
    app: Any, login: Login, session: Session, monkeypatch: Any
) -> None:
    """After a failed statement the request's session is unusable; the error page (whose
    banner reads the database) must still render, as a 500 page, not a bare crash."""
    from web.views import patients

    def broken(session: Session, **_kw: Any) -> Any:
        session.add(Observation(lesion_id=10**6))  # no such lesion, no date: refused
        session.flush()

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = login("clinician")
    monkeypatch.setattr(patients, "patient_list", broken)
    r = client.get("/patients")
    assert r.status_code == 500 and "Something went wrong" in r.text


def test_pages_read_their_query_arguments_like_the_api(login: Login, session: Session) -> None:
    """One reader of query arguments for pages and API: a bad or unknown argument is a 400
    naming it (a mistyped filter must not quietly show everything); an empty form field is
    absent."""
    ids = seed_patient(session)
    client = login("radiologist")
    lesion = f"/lesions/{ids[0]}"
    bad = [
        ("/alerts?kind=loud", "kind"), ("/alerts?overdue=maybe", "overdue"),
        ("/alerts?colour=red", "colour"), ("/alerts?rule=no+such+rule", "rule"),
        ("/alerts?rule=hadd.no_resolutoin", "rule"), ("/alerts?kind=a&kind=b", "kind"),
        ("/patients?page=0", "page"), ("/patients/P-0001/timepoints?sort=size", "sort"),
        (f"{lesion}/compare?a=first", "a"), (f"{lesion}/chart.svg?download=please", "download"),
        (f"{lesion}/merge?other=abc", "other"), (f"{lesion}/observations/new?same=2", "same"),
        ("/cohort?region=moon", "region"), ("/cohort/km.svg?by=shoe", "by"),
    ]
    for url, name in bad:
        r = client.get(url)
        assert r.status_code == 400 and f"<code>{name}</code>: " in r.text, url
    form = ("/alerts?patient=&severity=&kind=&rule=&entity=&stage=&region=&state=&overdue=1"
            "&unassessed=1")
    for url in (form, "/alerts?rule=hadd.no_resolution&per_page=10", "/patients?q=&page=1",
                "/patients/P-0001/timepoints?sort=stage", f"{lesion}/compare?a=1&b=2",
                "/cohort?entity=hadd&by=region&region=", f"{lesion}/observations/new?same=1",
                "/alerts?rule=ho.not_maturing", f"/alerts?patient={'P' * 80}",
                f"/patients?q={'P' * 80}"):
        assert client.get(url).status_code == 200, url
