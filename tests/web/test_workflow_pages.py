"""A clinician's daily pages: timepoint table, visit comparison, printable report, worklist
filters and bulk actions, and labels that read as words."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from html.parser import HTMLParser

from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reporting.words import stage_label
from testkit.factories import lesions_sharing_a_visit_day, make_lesion, make_patient, obs
from tests.web.conftest import Client
from tests.web.seed import assess, seed_patient
from tracker.cli.main import main
from tracker.models import Alert, Assessment, AuditEvent, Lesion, Observation, Patient
from tracker.services.assessment.assess import assess_lesions
from workers.cli import report_cmd

Login = Callable[[str | None], Client]


def test_timepoint_table_shows_changes_per_visit(login: Login, session: Session) -> None:
    seed_patient(session, "P-TP", lesions=2)
    page = login("clinician").get("/patients/P-TP/timepoints")
    assert page.status_code == 200
    text = page.text
    # visits 2024-01-10 XR 14 mm, 2024-03-02 XR 9 mm, 2024-09-15 US 9.5 mm
    assert "2024-01-10<div class=\"muted\">XR</div>" in text
    assert "2024-09-15<div class=\"muted\">US</div>" in text
    assert "Δ baseline -35.7 %" in text          # 9 vs 14 on XR
    assert "not comparable (XR→US)" in text       # the US visit is never compared to XR sizes
    assert "stable (" not in text
    # the second lesion is not assessed: its stages say pending, never a stale stage
    assert text.count("stage-pending") >= 3


class _Cells(HTMLParser):
    """The timepoint table as {lesion id: {column date: the cell's words}}."""

    def __init__(self) -> None:
        super().__init__()
        self.dates: list[str] = []
        self.rows: dict[str, dict[str, str]] = {}
        self.where: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("th", "td"):
            self.where, self.text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag != self.where:
            return
        words = " ".join(" ".join(self.text).split())
        if tag == "th" and words.startswith("2024-"):
            self.dates.append(words.split()[0])
        elif tag == "th" and " · " in words:
            self.rows[words.split(" · ")[0]] = {}
        elif tag == "td":
            row = list(self.rows.values())[-1]
            row[self.dates[len(row)]] = words
        self.where = None

    def handle_data(self, data: str) -> None:
        if self.where:
            self.text.append(data)


def timepoint_cells(text: str) -> dict[str, dict[str, str]]:
    parser = _Cells()
    parser.feed(text[text.index('<table class="timepoints">'):])
    return parser.rows


def test_timepoint_table_numbers(login: Login, session: Session) -> None:
    """Each cell's size, changes from baseline, nadir and previous, stage and response, against
    numbers worked out by hand."""
    patient = make_patient(session, "P-NUM")
    l1 = make_lesion(session, patient=patient, external_id="L1", observations=[
        obs("2024-01-10", 20), obs("2024-03-01", 15), obs("2024-05-01", 18),
        obs("2024-07-01", visible=False)])
    assess(session, l1.id, ["resorptive", "resorptive", "resorptive", "resolved"], responses=[
        None, {"category": "partial"}, {"category": "stable"}, {"category": "complete"}])
    session.execute(update(Assessment).where(Assessment.lesion_id == l1.id,
                                             Assessment.stage == "resolved")
                    .values(resolution="unconfirmed"))
    # never assessed (pending); followed on MR, with one US visit between two MR ones
    make_lesion(session, patient=patient, external_id="L2", observations=[
        obs("2024-01-10", 12, modality="MR"), obs("2024-03-01", 8, modality="MR"),
        obs("2024-05-01", 9, modality="MR"), obs("2024-07-01", 6, modality="US"),
        obs("2024-09-01", 10, modality="MR")])
    # assessed, then new data: every stage and response of it is pending until reassessed
    l3 = make_lesion(session, patient=patient, external_id="L3", observations=[
        obs("2024-03-01", 30), obs("2024-07-01", 31)])
    assess(session, l3.id, ["resting", "resting"],
           responses=[None, {"category": "progression"}])
    session.execute(update(Lesion).where(Lesion.id == l3.id)
                    .values(data_version=Lesion.data_version + 1))
    session.commit()

    cells = timepoint_cells(login("clinician").get("/patients/P-NUM/timepoints").text)

    assert cells["L1"] == {
        "2024-09-01": "—",
        "2024-07-01": "not seen XR Δ baseline -100.0 % Δ nadir -100.0 % Δ previous -100.0 % "
                      "Resolved (unconfirmed) Complete response",
        "2024-05-01": "18.0 mm XR Δ baseline -10.0 % Δ nadir +20.0 % Δ previous +20.0 % "
                      "Resorptive Stable",
        "2024-03-01": "15.0 mm XR Δ baseline -25.0 % Δ nadir -25.0 % Δ previous -25.0 % "
                      "Resorptive Partial response",
        "2024-01-10": "20.0 mm XR Resorptive",
    }
    assert cells["L2"] == {
        # 10 vs 12 = -16.7 %; the nadir is still the MR of 8 mm (the US of 6 never is one)
        "2024-09-01": "10.0 mm MR Δ baseline -16.7 % Δ nadir +25.0 % "
                      "Δ previous not comparable (US→MR) pending",
        # 6 US vs MR sizes: never compared; 8 vs 12 = -33.3 %, 9 vs the nadir 8 = +12.5 %
        "2024-07-01": "6.0 mm US Δ baseline not comparable (MR→US) "
                      "Δ nadir not comparable (MR→US) Δ previous not comparable (MR→US) pending",
        "2024-05-01": "9.0 mm MR Δ baseline -25.0 % Δ nadir +12.5 % Δ previous +12.5 % pending",
        "2024-03-01": "8.0 mm MR Δ baseline -33.3 % Δ nadir -33.3 % Δ previous -33.3 % pending",
        "2024-01-10": "12.0 mm MR pending",
    }
    assert cells["L3"] == {
        "2024-09-01": "—",
        "2024-07-01": "31.0 mm XR Δ baseline +3.3 % Δ nadir +3.3 % Δ previous +3.3 % pending",
        "2024-05-01": "—",
        "2024-03-01": "30.0 mm XR pending",
        "2024-01-10": "—",
    }


def test_timepoints_sort_and_unknown_patient(login: Login, session: Session) -> None:
    patient = make_patient(session, "P-S")
    make_lesion(session, patient=patient, external_id="Z1", region="hip",
                observations=[obs("2024-01-10", 10)])
    make_lesion(session, patient=patient, external_id="A9", region="knee",
                observations=[obs("2024-01-10", 10)])
    client = login("clinician")
    by_lesion = client.get("/patients/P-S/timepoints?sort=lesion").text
    assert by_lesion.index("A9 ·") < by_lesion.index("Z1 ·")
    by_site = client.get("/patients/P-S/timepoints?sort=site").text
    assert by_site.index("Z1 ·") < by_site.index("A9 ·")   # hip before knee
    assert client.get("/patients/NOPE/timepoints").status_code == 404


def test_compare_two_visits(login: Login, session: Session) -> None:
    (lesion_id, _) = seed_patient(session, "P-C", lesions=2)
    client = login("clinician")
    default = client.get(f"/lesions/{lesion_id}/compare")
    assert default.status_code == 200
    assert "2024-03-02 → 2024-09-15" in default.text    # the last two visits by default
    assert "not comparable (XR→US)" in default.text
    first = client.get(f"/lesions/{lesion_id}/compare?a=1&b=2").text
    assert "2024-01-10 → 2024-03-02" in first
    assert "-35.7 %" in first
    assert first.count('class="changed"') == 3        # size, density and margin changed


def test_report_html_and_pdf(login: Login, session: Session) -> None:
    seed_patient(session, "P-R", lesions=1)
    client = login("clinician")
    html = client.get("/patients/P-R/report")
    assert html.status_code == 200
    assert "Follow-up report · patient P-R" in html.text
    assert "No resolution: reason for no_resolution" in html.text
    assert "Timepoint table" in html.text and "data:image/svg+xml;base64," in html.text
    pdf = client.get("/patients/P-R/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data[:5] == b"%PDF-"
    assert client.get("/patients/NOPE/report.pdf").status_code == 404


def test_tracker_report_writes_a_pdf(session: Session, database_url: str, tmp_path: object,
                                     monkeypatch: object) -> None:
    import pathlib

    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch) and isinstance(tmp_path, pathlib.Path)
    seed_patient(session, "P-PDF", lesions=1)
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "r.pdf"
    result = CliRunner().invoke(report_cmd, ["p-pdf", "-o", str(out)])  # case-insensitive id
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:5] == b"%PDF-"
    missing = CliRunner().invoke(report_cmd, ["NOPE", "-o", str(out)])
    assert missing.exit_code == 1 and "patient NOPE does not exist" in missing.output


def test_worklist_filters_order_and_labels(login: Login, session: Session) -> None:
    p = make_patient(session, "DEMO-7")
    q = make_patient(session, "OTHER-1")
    a = make_lesion(session, patient=p, external_id="A", observations=[obs("2024-01-10", 10)])
    b = make_lesion(session, patient=q, external_id="B", entity="ho",
                    observations=[obs("2024-01-10", 10)])
    assess(session, a.id, ["resting"], next_follow_up=date(2020, 1, 1), alerts=[
        {"kind": "no_resolution", "severity": "warning", "since": date(2024, 1, 1),
         "state": "acknowledged"},
        {"kind": "follow_up_overdue", "severity": "info", "since": date(2024, 2, 1)}])
    assess(session, b.id, ["ho_early"], alerts=[
        {"kind": "ho_atypical", "severity": "urgent", "since": date(2024, 6, 1)}])
    client = login("clinician")
    text = client.get("/alerts").text
    assert ">HO atypical<" in text and ">No resolution<" in text and "Ho atypical" not in text
    # open alerts before acknowledged ones, whatever their severity
    assert text.index("reason for follow_up_overdue") < text.index("reason for no_resolution")
    only = client.get("/alerts?patient=demo-7").text
    assert "reason for ho_atypical" not in only and "reason for no_resolution" in only
    assert "reason for ho_atypical" in client.get("/alerts?entity=ho").text
    assert "reason for no_resolution" not in client.get("/alerts?entity=ho").text
    by_rule = client.get("/alerts?rule=test.ho_atypical").text
    assert "reason for ho_atypical" in by_rule and "reason for follow_up" not in by_rule
    overdue = client.get("/alerts?overdue=1").text
    assert "reason for ho_atypical" not in overdue and "reason for follow_up_overdue" in overdue
    staged = client.get("/alerts?stage=ho_early").text
    assert "reason for ho_atypical" in staged and "reason for no_resolution" not in staged
    assert "Keyboard shortcuts" in text and "<kbd>j</kbd>" in text
    # a measurement-only visit (no density or margin) flags its lesion for completion
    session.execute(update(Observation).where(Observation.lesion_id == b.id)
                    .values(density=None, margin=None))
    session.commit()
    unassessed = client.get("/alerts?unassessed=1").text
    assert "reason for ho_atypical" in unassessed and "reason for no_resolution" not in unassessed


def test_bulk_acknowledge_and_snooze_with_one_reason(login: Login, session: Session) -> None:
    lesion = make_lesion(session, observations=[obs("2024-01-10", 10)])
    assess(session, lesion.id, ["resting"], alerts=[
        {"kind": "no_resolution", "severity": "warning", "since": date(2024, 1, 1)},
        {"kind": "follow_up_overdue", "severity": "info", "since": date(2024, 2, 1)}])
    ids = list(session.scalars(select(Alert.id).order_by(Alert.id)))
    client = login("clinician")
    bad = client.post("/alerts/bulk", {"alert": ids, "action": "snooze", "until": "2000-01-01",
                                       "reason": ""}, follow_redirects=True)
    assert "No alert changed" in bad.text and "until" in bad.text and "reason" in bad.text
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.target_type == "alert")) == 0
    ok = client.post("/alerts/bulk", {"alert": ids, "action": "acknowledge",
                                      "reason": "seen in clinic"}, follow_redirects=True)
    patient = session.get(Patient, lesion.patient_id)
    assert patient is not None
    assert (f"2 alert(s) acknowledged: patient {patient.external_id}, lesion "
            f"{lesion.external_id}; patient {patient.external_id}" in ok.text)
    session.expire_all()
    states = {(a.state, a.state_reason, a.state_by) for a in session.scalars(select(Alert))}
    assert states == {("acknowledged", "seen in clinic", "clinician")}
    events = session.scalars(select(AuditEvent).where(AuditEvent.target_type == "alert")).all()
    assert sorted(e.target_id for e in events) == ids
    # signed out (no session, no CSRF token): refused before anything is read
    assert login(None).post("/alerts/bulk", {"alert": ids}).status_code in (302, 400, 401)


def test_history_pages_show_who_changed_what(login: Login, session: Session) -> None:
    ids = seed_patient(session, "P-H", lesions=1)
    client = login("radiologist")
    obs_id = session.scalar(select(Observation.id).where(Observation.lesion_id == ids[0])
                       .order_by(Observation.date))
    r = client.post(f"/observations/{obs_id}/edit", {
        "date": "2024-01-10", "modality": "XR", "visible": "yes", "size_mm": ["12,5"],
        "density": "dense", "margin": "well_defined", "reason": "re-measured on PACS",
        "version": "1"})
    assert r.status_code == 302, r.text
    for url in (f"/lesions/{ids[0]}/history", "/patients/P-H/history"):
        text = login("clinician").get(url).text
        assert "Observation corrected" in text and "radiologist" in text
        assert "re-measured on PACS" in text
        assert "<strong>size mm</strong>: 14 mm → 12.5 mm" in text


def test_merge_page_asks_about_same_date_visits(login: Login, session: Session,
                                                queued: list[list[int]]) -> None:
    a, b = lesions_sharing_a_visit_day(session, "P-MS")
    patient = session.scalar(select(Patient).where(Patient.external_id == "P-MS"))
    knee = make_lesion(session, patient=patient, external_id="K", region="knee", structure=None,
                       observations=[obs("2024-02-01", 5)])
    client = login("radiologist")
    page = client.get(f"/lesions/{a}/merge?other={b}").text
    assert "Both records have a visit on these dates" in page and "2024-03-01" in page
    # only a record at the same site is offered; another site is refused by the service
    assert f'<option value="{b}"' in page and f'<option value="{knee.id}"' not in page
    assert "no other lesion at the right knee to merge" in client.get(
        f"/lesions/{knee.id}/merge").text
    undecided = client.post(f"/lesions/{a}/merge", {"other": str(b), "reason": "same"})
    assert undecided.status_code == 409 and "choose which observation to keep" in undecided.text
    no_reason = client.post(f"/lesions/{a}/merge", {"other": str(b),
                                                    "prefer.2024-03-01": "kept"})
    assert no_reason.status_code == 400 and "say briefly why" in no_reason.text
    assert queued == []
    ok = client.post(f"/lesions/{a}/merge", {"other": str(b), "prefer.2024-03-01": "merged",
                                             "reason": "same deposit"})
    assert ok.status_code == 302 and queued == [[a]]
    shown = client.get(f"/lesions/{a}").text
    assert "2024-06-01" in shown
    assert client.get(f"/lesions/{b}").status_code == 404
    assert "Lesions merged" in client.get(f"/lesions/{a}/history").text
    assert login("clinician").get(f"/lesions/{a}/merge").status_code == 403


def test_split_page_and_api(login: Login, session: Session) -> None:
    a, b = lesions_sharing_a_visit_day(session, "P-MS")
    client = login("radiologist")
    obs_ids = list(session.scalars(select(Observation.id).where(Observation.lesion_id == a)
                              .order_by(Observation.date)))
    bad = client.post(f"/lesions/{a}/split", {"observation": [str(i) for i in obs_ids],
                                              "new_lesion": "A 2", "reason": ""})
    assert bad.status_code == 400
    for message in ("leave at least one observation", "is not a lesion id", "say briefly why"):
        assert message in bad.text, message
    ok = client.post(f"/lesions/{a}/split", {"observation": [str(obs_ids[1])],
                                             "new_lesion": "A2", "reason": "two deposits"})
    assert ok.status_code == 302
    api = client.api("POST", f"/api/v1/lesions/{b}/split",
                     json={"observations": [999999], "new_lesion": "B2", "reason": "x"})
    assert api.status_code == 400 and "not observations of this lesion" in api.text
    unknown = client.api("POST", f"/api/v1/lesions/{b}/merge",
                         json={"other": a, "reason": "x", "colour": "red"})
    assert unknown.status_code == 400 and "colour" in unknown.text
    merged = client.api("POST", f"/api/v1/lesions/{a}/merge",
                        json={"other": b, "prefer": {"2024-03-01": "kept"}, "reason": "same"})
    assert merged.status_code == 200, merged.text
    assert [o["date"] for o in merged.json["observations"]] == ["2024-01-10", "2024-03-01",
                                                                "2024-06-01"]


def test_cli_lesion_merge_and_split(session: Session, database_url: str,
                                    monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    a, _ = lesions_sharing_a_visit_day(session, "P-MS")
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    split = runner.invoke(main, ["lesion", "split", "p-ms", "A", "--date", "2024-03-01",
                                 "--new-id", "A2", "--reason", "two deposits"])
    assert split.exit_code == 0, split.output
    assert "1 observation(s) moved and 0 visit(s) divided from A to the new lesion A2" \
        in split.output
    missing = runner.invoke(main, ["lesion", "split", "P-MS", "A", "--date", "2023-01-01",
                                   "--new-id", "A3", "--reason", "r"])
    assert missing.exit_code == 2 and "no observation on 2023-01-01" in missing.output
    conflict = runner.invoke(main, ["lesion", "merge", "P-MS", "A2", "B", "--reason", "same"])
    assert conflict.exit_code == 1 and "both lesions have a visit on 2024-03-01" in conflict.output
    merged = runner.invoke(main, ["lesion", "merge", "P-MS", "A2", "B", "--reason", "same",
                                  "--prefer", "2024-03-01=merged"])
    assert merged.exit_code == 0, merged.output
    session.expire_all()
    assert session.get(Observation, session.scalar(select(Observation.id).where(
        Observation.lesion_id == a))) is not None


def test_the_compare_page_says_a_seen_deposit_was_visible(login: Login, session: Session) -> None:
    """The timeline format leaves `visible` out when it is true: the page still says yes."""
    ids = seed_patient(session, "P-CMP")
    visits = list(session.scalars(select(Observation.id).where(Observation.lesion_id == ids[0])
                                  .order_by(Observation.date)))
    page = login("clinician").get(f"/lesions/{ids[0]}/compare?a={visits[0]}&b={visits[1]}").text
    row = re.search(r'<th scope="row">Visible</th>\s*<td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>',
                    page)
    assert row is not None and row.groups() == ("yes", "yes", "")


def test_a_transition_to_resolved_reads_as_its_visits_stage(login: Login,
                                                             session: Session) -> None:
    """The visit's badge says how sure the resolution is; its transition says the same."""
    lesion = make_lesion(session, patient=make_patient(session, "P-RES"),
                         observations=[obs("2024-01-10", 12.0),
                                       obs("2024-06-10", visible=False, size=None)])
    assess_lesions(session, [lesion.id], date(2024, 6, 20))
    resolution = session.scalar(select(Assessment.resolution).join(Observation).where(
        Observation.lesion_id == lesion.id, Observation.date == date(2024, 6, 10)))
    assert resolution is not None
    page = login("clinician").get(f"/lesions/{lesion.id}").text
    moves = page.split('id="transitions-h"')[1].split("</section>")[0]
    assert f">{stage_label('resolved', resolution)}</span>" in moves
