"""Merging two lesion records of one deposit and splitting one record that was two."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from testkit.factories import lesions_sharing_a_visit_day, make_lesion, make_patient, obs
from tracker.errors import Conflict, InvalidInput
from tracker.export import export_timeline
from tracker.models import AuditEvent, Lesion, Observation, Treatment
from tracker.services.identity import merge_lesions, parse_prefer, split_lesion

D = date.fromisoformat


def _dates(session: Session, lesion_id: int) -> list[tuple[str, float | None]]:
    rows = session.execute(select(Observation.date, Observation.size1_mm)
                           .where(Observation.lesion_id == lesion_id)
                           .order_by(Observation.date)).all()
    return [(d.isoformat(), s) for d, s in rows]


def test_merge_asks_for_same_date_conflicts_then_combines(session: Session) -> None:
    a, b = lesions_sharing_a_visit_day(session, "P-M")
    with pytest.raises(Conflict, match="both lesions have a visit on 2024-03-01"):
        merge_lesions(session, a, b, prefer={}, actor="rad", reason="same deposit")
    session.rollback()
    assert _dates(session, b) == [("2024-03-01", 10.5), ("2024-06-01", 9.0)]  # nothing changed
    kept = merge_lesions(session, a, b, prefer={D("2024-03-01"): "merged"}, actor="rad",
                         reason="same deposit")
    assert kept.id == a
    assert _dates(session, a) == [("2024-01-10", 12.0), ("2024-03-01", 10.5),
                                  ("2024-06-01", 9.0)]
    assert session.get(Lesion, b) is None
    lesion = session.get(Lesion, a)
    assert lesion is not None and lesion.assessment_due_at is not None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "lesion.merge"))
    assert event is not None and event.reason == "same deposit" and event.lesion_id == a
    assert event.before is not None
    assert [d["date"] for d in event.before["discarded"]] == ["2024-03-01"]
    assert event.before["discarded"][0]["size_mm"] == [11.0]          # kept for an undo
    assert event.before["merged_lesion"]["id"] == "B"
    # the merged record still exports and re-imports (one lesion, three visits)
    doc = export_timeline(session, "P-M")
    assert [le["id"] for le in doc["patients"][0]["lesions"]] == ["A"]


def test_merge_refuses_other_patients_and_itself(session: Session) -> None:
    a, _ = lesions_sharing_a_visit_day(session, "P-M")
    other = make_lesion(session, patient=make_patient(session, "P-X"),
                        observations=[obs("2024-01-10", 5)])
    with pytest.raises(InvalidInput, match="belongs to another patient"):
        merge_lesions(session, a, other.id, prefer={}, actor="rad", reason="x")
    session.rollback()
    with pytest.raises(InvalidInput, match="choose another lesion"):
        merge_lesions(session, a, a, prefer={}, actor="rad", reason="x")
    with pytest.raises(InvalidInput, match="say briefly why"):
        merge_lesions(session, a, other.id, prefer={}, actor="rad", reason=" ")


def test_merge_refuses_lesions_at_two_sites_and_changes_nothing(session: Session) -> None:
    """A phlebolith of the right forearm is no record of a left-shoulder deposit: a merge
    would start the shoulder's series with the vein's film. Structure may differ."""
    patient = make_patient(session, "P-S")
    shoulder = make_lesion(session, patient=patient, laterality="left",
                           observations=[obs("2024-01-10", 12)])
    vein = make_lesion(session, patient=patient, external_id="L4", compartment="vascular",
                       region="forearm", laterality="right", structure="cephalic vein",
                       entity="phlebolith", observations=[obs("2024-02-10", 4)])
    other_side = make_lesion(session, patient=patient, external_id="L5",
                             observations=[obs("2024-03-10", 9)])
    for merged, where in ((vein.id, "right forearm"), (other_side.id, "right shoulder")):
        with pytest.raises(InvalidInput, match=f"is at the {where} and L1 at the left shoulder: "
                                               "a merge joins one lesion recorded twice"):
            merge_lesions(session, shoulder.id, merged, prefer={}, actor="rad", reason="same")
        session.rollback()
    assert _dates(session, shoulder.id) == [("2024-01-10", 12.0)]
    assert session.get(Lesion, vein.id) is not None and session.get(Lesion, other_side.id)
    assert session.scalar(select(func.count(AuditEvent.id))) == 0
    elsewhere = make_lesion(session, patient=patient, external_id="L6", laterality="left",
                            structure="infraspinatus", observations=[obs("2024-04-10", 11)])
    merge_lesions(session, shoulder.id, elsewhere.id, prefer={}, actor="rad", reason="same")
    assert _dates(session, shoulder.id) == [("2024-01-10", 12.0), ("2024-04-10", 11.0)]


def test_split_moves_chosen_observations_to_a_new_lesion(session: Session) -> None:
    a, _ = lesions_sharing_a_visit_day(session, "P-M")
    ids = [o for o, in session.execute(select(Observation.id)
                                       .where(Observation.lesion_id == a)
                                       .order_by(Observation.date))]
    new = split_lesion(session, a, [ids[1]], new_external_id="A2", actor="rad",
                       reason="two deposits")
    assert _dates(session, a) == [("2024-01-10", 12.0)]
    assert _dates(session, new.id) == [("2024-03-01", 11.0)]
    assert (new.region, new.laterality, new.entity) == ("shoulder", "right", "hadd")
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["lesion.split", "lesion.create"]


def test_split_validates_everything_at_once_and_writes_nothing(session: Session) -> None:
    a, b = lesions_sharing_a_visit_day(session, "P-M")
    ids = [o for o, in session.execute(select(Observation.id).where(Observation.lesion_id == a))]
    other = session.scalar(select(Observation.id).where(Observation.lesion_id == b))
    with pytest.raises(InvalidInput) as exc:
        split_lesion(session, a, [*ids, other or 0], new_external_id="bad id", actor="rad",
                     reason="r")
    text = str(exc.value)
    assert "is not a lesion id" in text and "not observations of this lesion" in text
    session.rollback()
    with pytest.raises(InvalidInput, match="leave at least one observation"):
        split_lesion(session, a, ids, new_external_id="A2", actor="rad", reason="r")
    session.rollback()
    with pytest.raises(Conflict, match="already has a lesion B"):
        split_lesion(session, a, ids[:1], new_external_id="B", actor="rad", reason="r")
    session.rollback()
    assert session.scalar(select(func.count(Lesion.id))) == 2
    assert session.scalar(select(func.count(AuditEvent.id))) == 0


def test_merge_then_split_round_trips_through_the_audit(session: Session) -> None:
    a, b = lesions_sharing_a_visit_day(session, "P-M")
    before = _dates(session, b)
    merge_lesions(session, a, b, prefer={D("2024-03-01"): "kept"}, actor="rad", reason="same")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "lesion.merge"))
    assert event is not None and event.before is not None
    moved = [m["id"] for m in event.before["moved"]]
    back = split_lesion(session, a, moved, new_external_id=event.before["merged_lesion"]["id"],
                        actor="rad", reason="undo merge")
    assert back.external_id == "B"
    assert _dates(session, back.id) == [d for d in before if d[0] != "2024-03-01"]


def test_parse_prefer_names_bad_entries() -> None:
    assert parse_prefer({"2024-03-01": "kept"}) == {D("2024-03-01"): "kept"}
    with pytest.raises(InvalidInput) as exc:
        parse_prefer({"March": "kept", "2024-03-01": "both"})
    assert "prefer.March: is not a date" in str(exc.value)
    assert "prefer.2024-03-01: 'both': say kept or merged" in str(exc.value)


def test_merge_brings_treatments_along_and_split_keeps_the_event_kind(session: Session) -> None:
    """Nothing is lost by a merge: the merged lesion's treatments move to the kept one (one
    recorded on both stays once) and the audit holds them for an undo."""
    patient = make_patient(session, "P-T")
    a = make_lesion(session, patient=patient, external_id="A",
                    event_date=D("2023-12-01"), event_kind="trauma",
                    observations=[obs("2024-01-10", 12), obs("2024-03-01", 11)],
                    treatments=[("2024-01-22", "lavage")])
    b = make_lesion(session, patient=patient, external_id="B",
                    observations=[obs("2024-06-01", 9)],
                    treatments=[("2024-01-22", "lavage"), ("2024-05-02", "eswt")])
    merge_lesions(session, a.id, b.id, prefer={}, actor="rad", reason="same deposit")
    session.expire_all()
    rows = session.execute(select(Treatment.date, Treatment.kind, Treatment.lesion_id)
                           .order_by(Treatment.date)).all()
    assert [(d.isoformat(), k, lid) for d, k, lid in rows] == [
        ("2024-01-22", "lavage", a.id), ("2024-05-02", "eswt", a.id)]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "lesion.merge"))
    assert event is not None and event.before is not None
    assert [t["kind"] for t in event.before["moved_treatments"]] == ["eswt"]
    assert [t["kind"] for t in event.before["discarded_treatments"]] == ["lavage"]

    lesion = session.get(Lesion, a.id)
    assert lesion is not None
    later = [o.id for o in session.scalars(select(Observation).where(
        Observation.lesion_id == a.id, Observation.date >= D("2024-03-01")))]
    new = split_lesion(session, a.id, later, new_external_id="C", actor="rad",
                       reason="two deposits")
    session.expire_all()
    split = session.get(Lesion, new.id)
    assert split is not None and (split.event_date, split.event_kind) == (D("2023-12-01"),
                                                                         "trauma")
