"""A lesion's site corrected (validated, audited before -> after, re-assessed: the site decides
which classifications apply), and a split that takes one visit apart: one film measured two
deposits together, each lesion then has its own observation and size that day."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker.errors import InvalidInput, Problem, StaleVersion
from tracker.models import Assessment, AuditEvent, Lesion, Observation
from tracker.services.assessment.assess import assess_lesion
from tracker.services.identity import correct_site, split_lesion
from tracker.timeline.site import checked_site

D = date.fromisoformat
SHOULDER = {"compartment": "tendon", "region": "shoulder", "structure": "supraspinatus",
            "laterality": "right"}


def _shoulder_deposit(session: Session) -> Lesion:
    return make_lesion(session, patient=make_patient(session, "P-S"), external_id="L1",
                       entity="hadd", **SHOULDER,
                       observations=[obs("2024-01-10", 14), obs("2024-04-02", 12)])


def _gartner(session: Session, lesion_id: int) -> list[str | None]:
    rows = session.scalars(select(Assessment.classifications)
                           .where(Assessment.lesion_id == lesion_id)
                           .order_by(Assessment.observation_id))
    return [c.get("gartner") for c in rows]


def test_a_site_correction_is_audited_and_changes_what_applies(session: Session) -> None:
    lesion = _shoulder_deposit(session)
    assess_lesion(session, lesion.id, D("2024-06-01"))
    assert all(g is not None for g in _gartner(session, lesion.id))  # shoulder: graded
    version = session.scalar(select(Lesion.data_version).where(Lesion.id == lesion.id))
    assert version is not None
    correct_site(session, lesion.id, {**SHOULDER, "region": "hip", "structure": "gluteus medius",
                                      "laterality": "left"},
                 actor="dr.r", reason="the films are of the left hip", expected_version=version)
    row = session.get(Lesion, lesion.id)
    assert row is not None and (row.region, row.laterality, row.structure) == (
        "hip", "left", "gluteus medius")
    assert row.external_id == "L1" and row.assessment_due_at is not None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "lesion.site"))
    assert event is not None and event.reason == "the films are of the left hip"
    assert event.before == {"id": "L1", **SHOULDER}  # what an undo writes back
    assert event.after is not None and event.after["region"] == "hip"
    assess_lesion(session, lesion.id, D("2024-06-01"))
    assert _gartner(session, lesion.id) == [None, None]  # Gärtner is for the shoulder only


def test_a_bad_or_stale_site_correction_changes_nothing(session: Session) -> None:
    lesion = _shoulder_deposit(session)
    with pytest.raises(InvalidInput) as bad:
        correct_site(session, lesion.id, {**SHOULDER, "region": "knee", "laterality": "midline",
                                          "compartment": "elbow"},
                     actor="dr.r", reason="", expected_version=None)
    assert {p.path for p in bad.value.problems} == {"reason", "compartment", "laterality"}
    with pytest.raises(InvalidInput, match="spine compartment"):
        correct_site(session, lesion.id, {**SHOULDER, "region": "lumbar_spine"},
                     actor="dr.r", reason="x", expected_version=None)
    with pytest.raises(InvalidInput, match="belongs to the tendon"):  # a given HADD entity
        correct_site(session, lesion.id, {**SHOULDER, "compartment": "soft_tissue"},
                     actor="dr.r", reason="x", expected_version=None)
    with pytest.raises(StaleVersion):
        correct_site(session, lesion.id, {**SHOULDER, "laterality": "left"}, actor="dr.r",
                     reason="x", expected_version=99)
    row = session.get(Lesion, lesion.id)
    assert row is not None and (row.region, row.laterality) == ("shoulder", "right")
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "lesion.site")) \
        is None


def test_midline_is_for_the_axial_regions_only() -> None:
    site = checked_site({"compartment": "spine", "region": "cervical_spine",
                         "laterality": "midline"})
    assert site.laterality == "midline"
    with pytest.raises(InvalidInput, match="midline is only for the spine, neck, trunk"):
        checked_site({"compartment": "tendon", "region": "shoulder", "laterality": "midline"})


def test_split_divides_a_visit_and_takes_the_chosen_site(session: Session) -> None:
    lesion = _shoulder_deposit(session)
    first, second = session.scalars(select(Observation.id).where(
        Observation.lesion_id == lesion.id).order_by(Observation.date)).all()
    site = checked_site({**SHOULDER, "structure": "infraspinatus"}, entity="hadd")
    new = split_lesion(session, lesion.id, [], new_external_id="L2", actor="dr.r",
                       reason="two deposits on US", site=site, divide={second: ([5], [8, 6])})
    rows = session.execute(select(Observation.lesion_id, Observation.size1_mm)
                           .where(Observation.date == D("2024-04-02"))).all()
    sizes = {lesion_id: size for lesion_id, size in rows}
    assert sizes == {lesion.id: 8.0, new.id: 5.0}
    old_row = session.get(Observation, second)
    assert old_row is not None and (old_row.size2_mm, old_row.lesion_id) == (6.0, lesion.id)
    assert session.get(Observation, first) is not None  # not moved
    assert (new.structure, new.region) == ("infraspinatus", "shoulder")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "lesion.split"))
    assert event is not None and event.before is not None
    divided = event.before["divided"][0]
    assert (divided["size_mm_before"], divided["remaining_size_mm"],
            divided["new_size_mm"]) == ([12.0], [8.0, 6.0], [5.0])


def _dividing(session: Session, new: list[float], remaining: list[float]
              ) -> tuple[Lesion, int, list[Problem]]:
    """The shoulder deposit, its 12 mm visit of 2024-04-02, and the problems of dividing that
    visit into `new` and `remaining` (nothing written: checked after the rollback)."""
    lesion = _shoulder_deposit(session)
    second = session.scalar(select(Observation.id).where(
        Observation.lesion_id == lesion.id, Observation.date == D("2024-04-02")))
    assert second is not None
    with pytest.raises(InvalidInput) as bad:
        split_lesion(session, lesion.id, [], new_external_id="L2", actor="dr.r", reason="x",
                     divide={second: (new, remaining)})
    session.rollback()
    assert session.scalar(select(Lesion.id).where(Lesion.external_id == "L2")) is None
    assert session.scalar(select(Observation.size1_mm).where(Observation.id == second)) == 12.0
    return lesion, second, bad.value.problems


def test_a_division_with_bad_sizes_is_refused_whole(session: Session) -> None:
    _, _, problems = _dividing(session, [4, 6], [0])
    assert {p.path for p in problems} == {"divide.2024-04-02.new_size_mm",
                                          "divide.2024-04-02.remaining_size_mm[0]"}


def test_a_part_longer_than_the_whole_the_film_measured_is_refused(session: Session) -> None:
    """The film measured both deposits together as 12 mm: neither is longer than that."""
    lesion, second, problems = _dividing(session, [20], [5])
    assert [(p.path, p.message) for p in problems] == [(
        "divide.2024-04-02.new_size_mm[0]", "20 mm is longer than the 12 mm the film of "
        "2024-04-02 measured for both deposits together")]
    new = split_lesion(session, lesion.id, [], new_external_id="L2", actor="dr.r", reason="x",
                       divide={second: ([12], [5])})
    assert new.external_id == "L2"
