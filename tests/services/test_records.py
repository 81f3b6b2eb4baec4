"""The writer service on SQLite and PostgreSQL: one transaction per use case, audited, marked
for assessment; and the database itself refuses what validation would have refused."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker.db import session_factory
from tracker.errors import Conflict, InvalidInput, NotFound
from tracker.models import AuditEvent, Lesion, Observation, ObservationFeature, Patient
from tracker.queries.lookup import load_lesion
from tracker.services import records
from tracker.timeline.models import ObservationIn
from tracker.timeline.reader import validate_observation

TODAY = date(2026, 11, 25)


def finding(**kw: object) -> ObservationIn:
    raw = {"date": "2025-03-02", "modality": "XR", "size_mm": [9.0], "density": "faint",
           "margin": "ill_defined", "pattern": "cloud", "features": ["comet_tail"]}
    raw.update(kw)
    return validate_observation(raw, today=TODAY)


def test_record_observation_is_stored_audited_and_marked(session: Session) -> None:
    lesion = make_lesion(session, observations=[obs("2025-01-10", 14)])
    version = lesion.data_version
    row = records.record_observation(session, lesion.id, finding(), actor="dr.who")
    session.expire_all()
    stored = session.get(Lesion, lesion.id)
    assert stored is not None and stored.data_version == version + 1
    assert stored.assessment_due_at is not None
    features = session.scalars(select(ObservationFeature.feature).where(
        ObservationFeature.observation_id == row.id)).all()
    assert features == ["comet_tail"]
    event = session.scalars(select(AuditEvent).where(AuditEvent.target_id == row.id)).one()
    assert (event.actor, event.action) == ("dr.who", "observation.record")
    assert event.after is not None and event.after["size_mm"] == [9.0]


def test_same_day_is_a_conflict_and_writes_nothing(session: Session) -> None:
    lesion = make_lesion(session, observations=[obs("2025-03-02", 14)])
    with pytest.raises(Conflict, match="2025-03-02"):
        records.record_observation(session, lesion.id, finding(), actor="x")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Observation)) == 1
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_observation_before_event_date_is_invalid(session: Session) -> None:
    lesion = make_lesion(session, entity="ho", compartment="soft_tissue", region="thigh",
                         event_date=date(2025, 4, 1), observations=[obs("2025-04-10", 20)])
    with pytest.raises(InvalidInput) as exc:
        records.record_observation(session, lesion.id, finding(), actor="x")
    assert exc.value.problems[0].path == "date"
    assert "event_date 2025-04-01" in exc.value.problems[0].message


def test_unknown_lesion_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        records.record_observation(session, 999_999, finding(), actor="x")


def test_update_audits_before_and_after_and_skips_no_change(session: Session) -> None:
    lesion = make_lesion(session, observations=[obs("2025-01-10", 14)])
    row = records.record_observation(session, lesion.id, finding(), actor="a")
    records.update_observation(session, row.id, finding(size_mm=[7.5]), actor="b")
    records.update_observation(session, row.id, finding(size_mm=[7.5]), actor="c")
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "observation.update")).all()
    assert len(events) == 1
    assert events[0].actor == "b"
    assert events[0].before and events[0].before["size_mm"] == [9.0]
    assert events[0].after and events[0].after["size_mm"] == [7.5]


def test_delete_removes_features_and_marks_lesion(session: Session) -> None:
    lesion = make_lesion(session, observations=[obs("2025-01-10", 14)])
    row = records.record_observation(session, lesion.id, finding(), actor="a")
    version = session.get(Lesion, lesion.id).data_version  # type: ignore[union-attr]
    assert records.delete_observation(session, row.id, actor="a") == lesion.id
    session.expire_all()
    assert session.get(Observation, row.id) is None
    assert session.scalar(select(func.count()).select_from(ObservationFeature)) == 0
    assert session.get(Lesion, lesion.id).data_version == version + 1  # type: ignore[union-attr]


def test_deleting_a_patient_cascades_in_the_database(session: Session) -> None:
    patient = make_patient(session)
    make_lesion(session, patient=patient, observations=[obs("2025-01-10", 14,
                                                             features=("comet_tail",))])
    session.execute(Patient.__table__.delete().where(Patient.id == patient.id))
    session.commit()
    for table in (Lesion, Observation, ObservationFeature):
        assert session.scalar(select(func.count()).select_from(table)) == 0


@pytest.mark.parametrize(
    ("column", "value"),
    [("size1_mm", 501.0), ("size1_mm", 0.0), ("density", "bright"), ("modality", "DX"),
     ("pain", 11), ("visible", False)],
)
def test_database_refuses_what_validation_refuses(
    session: Session, column: str, value: object
) -> None:
    lesion = make_lesion(session, observations=[obs("2025-01-10", 14)])
    with pytest.raises(IntegrityError):
        session.execute(update(Observation).where(Observation.lesion_id == lesion.id)
                        .values({column: value}))
        session.commit()
    session.rollback()


def test_database_refuses_two_observations_on_one_day(session: Session) -> None:
    lesion = make_lesion(session, observations=[obs("2025-01-10", 14)])
    session.add(Observation(lesion_id=lesion.id, date=date(2025, 1, 10), modality="XR",
                            visible=False))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_the_only_observation_of_a_lesion_cannot_be_deleted(session: Session) -> None:
    lesion = make_lesion(session, observations=[obs("2025-01-10", 14)])
    only = session.scalars(select(Observation.id).where(Observation.lesion_id == lesion.id)).one()
    with pytest.raises(Conflict, match="only one"):
        records.delete_observation(session, only, actor="a")
    session.rollback()
    assert session.get(Observation, only) is not None
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_two_writers_racing_for_one_day_get_a_conflict_not_a_crash(
    session: Session, database_url: str
) -> None:
    """Both pass the same-day check; the unique constraint stops the second, as a Conflict."""
    lesion = make_lesion(session, observations=[obs("2025-01-10", 14)])
    load_lesion(session, lesion.id)  # this writer has read the visits...
    session.commit()
    with session_factory(database_url)() as other:  # ...when another records the same day
        records.record_observation(other, lesion.id, finding(), actor="other")
    with pytest.raises(Conflict, match="2025-03-02"):
        records.record_observation(session, lesion.id, finding(size_mm=[5.0]), actor="late")
    count = session.scalar(select(func.count()).select_from(Observation).where(
        Observation.lesion_id == lesion.id))
    assert count == 2
