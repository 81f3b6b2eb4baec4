"""Treatments on SQLite and PostgreSQL: recorded, corrected and removed in one audited
transaction each, checked against the stored lesion, re-assessed like an observation change,
and safe when two people edit one lesion at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker.db import session_factory
from tracker.errors import Conflict, InvalidInput, NotFound
from tracker.models import Alert, Assessment, AuditEvent, Lesion, Observation, Treatment
from tracker.queries.to_assess import stale_lesions
from tracker.services.assessment.assess import assess_lesion
from tracker.services.treatments import delete_treatment, record_treatment, update_treatment
from tracker.timeline.models import TreatmentIn

D = date.fromisoformat
VISITS = [obs("2024-01-10", 14), obs("2024-05-10", 9)]


def treatment(day: str, kind: str = "lavage", note: str | None = None) -> TreatmentIn:
    return TreatmentIn.model_validate({"date": day, "kind": kind, "note": note})


def audit_trail(session: Session) -> list[tuple[str, Any, Any]]:
    session.expire_all()
    return [(e.action, e.before, e.after)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def treatments_of(session: Session, lesion_id: int) -> list[tuple[str, str, str | None]]:
    session.expire_all()
    return [(t.date.isoformat(), t.kind, t.note) for t in session.scalars(
        select(Treatment).where(Treatment.lesion_id == lesion_id)
        .order_by(Treatment.date, Treatment.id))]


def versions(session: Session, lesion_id: int) -> tuple[int, bool]:
    session.expire_all()
    lesion = session.get(Lesion, lesion_id)
    assert lesion is not None
    return lesion.data_version, lesion.assessment_due_at is not None


@pytest.fixture
def assessed_lesion(session: Session) -> Lesion:
    lesion = make_lesion(session, observations=VISITS,
                         patient=make_patient(session, birth_year=1970))
    assess_lesion(session, lesion.id, D("2025-01-01"))
    assert stale_lesions(session) == []
    return lesion


def test_recorded_treatment_is_stored_audited_and_marks_the_lesion(
    session: Session, assessed_lesion: Lesion
) -> None:
    lid = assessed_lesion.id
    version, _ = versions(session, lid)
    row = record_treatment(session, lid, treatment("2024-01-22", note="US-guided, two needles"),
                           actor="dr.r")
    assert treatments_of(session, lid) == [("2024-01-22", "lavage", "US-guided, two needles")]
    assert audit_trail(session) == [("treatment.record", None, {
        "date": "2024-01-22", "kind": "lavage", "note": "US-guided, two needles"})]
    assert versions(session, lid) == (version + 1, True)
    assert stale_lesions(session) == [lid]  # so the sweep re-assesses it if no task comes
    assess_lesion(session, lid, D("2025-01-01"))
    assert versions(session, lid) == (version + 1, False)
    assert row.id is not None


def test_same_date_and_kind_is_a_conflict_and_writes_nothing(
    session: Session, assessed_lesion: Lesion
) -> None:
    lid = assessed_lesion.id
    record_treatment(session, lid, treatment("2024-01-22"), actor="dr.r")
    record_treatment(session, lid, treatment("2024-01-22", "eswt"), actor="dr.r")  # other kind
    before = (treatments_of(session, lid), audit_trail(session), versions(session, lid))
    with pytest.raises(Conflict, match="lavage on 2024-01-22 is also a treatment of lesion L1"):
        record_treatment(session, lid, treatment("2024-01-22", note="again"), actor="dr.r")
    assert (treatments_of(session, lid), audit_trail(session), versions(session, lid)) == before


@pytest.mark.parametrize(("event", "day", "message"), [
    (None, "1969-12-31", "1969-12-31 is before the patient's birth year 1970"),
    ("2024-01-01", "2023-12-01", "2023-12-01 is before the lesion's event_date 2024-01-01"),
])
def test_a_date_the_stored_lesion_forbids_is_refused_with_the_timeline_words(
    session: Session, event: str | None, day: str, message: str
) -> None:
    lesion = make_lesion(session, observations=VISITS, event_date=event and D(event),
                         event_kind=event and "trauma",
                         patient=make_patient(session, birth_year=1970))
    with pytest.raises(InvalidInput) as exc:
        record_treatment(session, lesion.id, treatment(day), actor="dr.r")
    assert [(p.path, p.message) for p in exc.value.problems] == [("date", message)]
    assert treatments_of(session, lesion.id) == [] and audit_trail(session) == []


def test_correction_is_audited_with_before_and_after_and_a_no_op_writes_nothing(
    session: Session, assessed_lesion: Lesion
) -> None:
    lid = assessed_lesion.id
    row = record_treatment(session, lid, treatment("2024-01-22"), actor="dr.r")
    version, _ = versions(session, lid)
    update_treatment(session, row.id, treatment("2024-01-23", "eswt", "3 sessions"),
                     actor="dr.s")
    assert treatments_of(session, lid) == [("2024-01-23", "eswt", "3 sessions")]
    assert audit_trail(session)[-1] == (
        "treatment.update", {"date": "2024-01-22", "kind": "lavage"},
        {"date": "2024-01-23", "kind": "eswt", "note": "3 sessions"})
    assert versions(session, lid) == (version + 1, True)

    trail = audit_trail(session)
    update_treatment(session, row.id, treatment("2024-01-23", "eswt", "3 sessions"),
                     actor="dr.s")
    assert audit_trail(session) == trail and versions(session, lid) == (version + 1, True)


def test_correction_onto_another_treatment_is_a_conflict(
    session: Session, assessed_lesion: Lesion
) -> None:
    lid = assessed_lesion.id
    record_treatment(session, lid, treatment("2024-01-22"), actor="dr.r")
    second = record_treatment(session, lid, treatment("2024-03-01"), actor="dr.r")
    with pytest.raises(Conflict):
        update_treatment(session, second.id, treatment("2024-01-22"), actor="dr.r")
    assert treatments_of(session, lid) == [("2024-01-22", "lavage", None),
                                           ("2024-03-01", "lavage", None)]


def test_removal_is_audited_and_marks_the_lesion(
    session: Session, assessed_lesion: Lesion
) -> None:
    lid = assessed_lesion.id
    row = record_treatment(session, lid, treatment("2024-01-22", "injection"), actor="dr.r")
    assess_lesion(session, lid, D("2025-01-01"))
    version, _ = versions(session, lid)
    for missing in (None, "", "   "):
        with pytest.raises(InvalidInput) as refused:
            delete_treatment(session, row.id, actor="dr.s", reason=missing)
        assert refused.value.problems[0].path == "reason"
    assert treatments_of(session, lid) == [("2024-01-22", "injection", None)]
    assert audit_trail(session)[-1][0] == "treatment.record"
    assert delete_treatment(session, row.id, actor="dr.s", reason="wrong patient") == lid
    assert treatments_of(session, lid) == []
    # every treatment event is filed under its lesion (the lesion's history shows it)
    assert set(session.scalars(select(AuditEvent.lesion_id).where(
        AuditEvent.target_type == "treatment"))) == {lid}
    assert audit_trail(session)[-1] == (
        "treatment.delete", {"date": "2024-01-22", "kind": "injection"}, None)
    assert versions(session, lid) == (version + 1, True)
    assert session.scalar(select(AuditEvent.reason).where(
        AuditEvent.action == "treatment.delete")) == "wrong patient"
    with pytest.raises(NotFound):
        delete_treatment(session, row.id, actor="dr.s", reason="again")
    with pytest.raises(NotFound):
        update_treatment(session, row.id, treatment("2024-01-22"), actor="dr.s")
    with pytest.raises(NotFound):
        record_treatment(session, 10**6, treatment("2024-01-22"), actor="dr.s")


def _race(database_url: str, *work: Callable[[Session], Any]) -> list[Any]:
    """Run each function in its own session and thread, released together."""
    sessions = session_factory(database_url)
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        with sessions() as s:
            barrier.wait()
            try:
                results[i] = work[i](s)
            except Exception as exc:  # compared below
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_corrections_at_once_lose_nothing_and_audit_true_befores(database_url: str) -> None:
    with session_factory(database_url)() as s:
        lid = make_lesion(s, observations=VISITS).id
        tid = record_treatment(s, lid, treatment("2024-01-22", note="first"), actor="a").id
    results = _race(
        database_url,
        lambda s: update_treatment(s, tid, treatment("2024-01-22", note="by b"), actor="b"),
        lambda s: update_treatment(s, tid, treatment("2024-01-22", note="by c"), actor="c"),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    with session_factory(database_url)() as s:
        updates = [e for e in audit_trail(s) if e[0] == "treatment.update"]
        final = treatments_of(s, lid)
        version = versions(s, lid)[0]
    assert len(updates) == 2
    first, second = updates
    assert first[1] == {"date": "2024-01-22", "kind": "lavage", "note": "first"}
    assert second[1] == first[2]  # the second writer saw the first one's result
    assert final == [("2024-01-22", "lavage", second[2]["note"])]
    assert version == 1 + 1 + 2  # created, treatment recorded, two corrections


def test_the_same_treatment_recorded_twice_at_once_is_stored_once(database_url: str) -> None:
    with session_factory(database_url)() as s:
        lid = make_lesion(s, observations=VISITS).id
    results = _race(
        database_url,
        lambda s: record_treatment(s, lid, treatment("2024-01-22"), actor="b").id,
        lambda s: record_treatment(s, lid, treatment("2024-01-22"), actor="c").id,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "int"], results
    with session_factory(database_url)() as s:
        assert s.scalar(select(func.count()).select_from(Treatment)) == 1
        assert [e[0] for e in audit_trail(s)] == ["treatment.record"]


def test_assessment_stores_the_engines_response_and_treatment_alert(session: Session) -> None:
    """§7a and §4 on a lavaged deposit 14 -> 12 mm at 3 months: the stored stage rows carry the
    response, the lesion the `hadd.no_treatment_response` alert; removing the treatment and
    re-assessing takes both away."""
    lesion = make_lesion(session, observations=[obs("2024-01-10", 14), obs("2024-04-29", 12)])
    row = record_treatment(session, lesion.id, treatment("2024-01-22"), actor="dr.r")
    assess_lesion(session, lesion.id, D("2025-01-01"))
    session.expire_all()
    stages = list(session.scalars(select(Assessment).where(Assessment.lesion_id == lesion.id)
                                  .join(Assessment.observation).order_by(Observation.date)))
    assert [a.response for a in stages] == [None, {
        "baseline": "2024-01-10", "change_pct": -14.3, "nadir_change_pct": -14.3,
        "category": "stable"}]
    assert any("after lavage" in e for e in stages[1].evidence)
    alerts = {a.kind: a for a in session.scalars(select(Alert).where(
        Alert.lesion_id == lesion.id, Alert.state != "cleared"))}
    assert alerts["no_treatment_response"].rule == "hadd.no_treatment_response"
    assert alerts["no_treatment_response"].reason.startswith("deposit 12.0 mm 3 months after "
                                                             "lavage (14.0 mm before)")

    delete_treatment(session, row.id, actor="dr.r", reason="recorded twice")
    assess_lesion(session, lesion.id, D("2025-01-01"))
    session.expire_all()
    assert [a.response for a in session.scalars(
        select(Assessment).where(Assessment.lesion_id == lesion.id))] == [None, None]
    assert session.scalar(select(Alert.state).where(
        Alert.kind == "no_treatment_response")) == "cleared"
