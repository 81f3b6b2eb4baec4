"""The stored `cohort_subjects` rows equal a recomputation from scratch after every kind of
change: assessment, a new visit (pending: left out), an import that changes a visit, a merge
(the merged lesion deleted), a deleted visit; and so do the counts the page reads."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker.cohort import Subject, response_bins, response_pct, subjects, tallies, tally
from tracker.cohort_table import CohortSubject
from tracker.models import Lesion, Observation
from tracker.queries.to_assess import all_lesions
from tracker.services.assessment.assess import assess_lesions
from tracker.services.identity import merge_lesions
from tracker.services.imports import import_timeline
from tracker.services.records import delete_observation, record_observation
from tracker.timeline.models import ObservationIn
from tracker.timeline.reader import validate_timeline

AS_OF = date(2025, 1, 1)


def _stored(session: Session) -> set[tuple[object, ...]]:
    session.expire_all()
    return {tuple(r) for r in session.execute(
        select(CohortSubject.lesion_id, CohortSubject.baseline, CohortSubject.days,
               CohortSubject.resolved, CohortSubject.entity, CohortSubject.gartner,
               CohortSubject.bosworth, CohortSubject.region, CohortSubject.compartment,
               CohortSubject.best_change_pct))}


def _scratch(session: Session) -> set[tuple[object, ...]]:
    def key(s: Subject) -> tuple[object, ...]:
        return (s.lesion_id, s.baseline, s.days, s.resolved, *s.groups.values(),
                s.best_change_pct)
    return {key(s) for s in subjects(session)[0]}


def _counts_match(session: Session) -> bool:
    """The counts the page reads equal the recomputed subjects counted."""
    items = subjects(session)[0]
    bins = Counter((s.groups["entity"], response_pct(s.best_change_pct)) for s in items
                   if s.best_change_pct is not None)
    return (tallies(session)[0] == tally(items)
            and response_bins(session) == sorted((e, p, n) for (e, p), n in bins.items()))


def _assess(session: Session) -> None:
    assess_lesions(session, all_lesions(session), AS_OF)


def test_stored_rows_follow_every_change(session: Session) -> None:
    patient = make_patient(session, "P-1")
    first = make_lesion(session, patient=patient, external_id="L1",
                        observations=[obs("2024-01-01", 12.0), obs("2024-02-01", visible=False,
                                                                   size=None)])
    second = make_lesion(session, patient=patient, external_id="L2",
                         observations=[obs("2024-01-01", 8.0), obs("2024-03-01", 9.0)])
    first_id, second_id = first.id, second.id
    assert _stored(session) == set()  # pending: no row
    _assess(session)
    assert len(_stored(session)) == 2
    assert _stored(session) == _scratch(session) and _counts_match(session)

    record_observation(session, second_id, ObservationIn.model_validate(
        {"date": "2024-06-01", "modality": "XR", "size_mm": [4]}), actor="t")
    assert {r[0] for r in _stored(session)} == {first_id}  # the changed lesion is pending
    assert _stored(session) == _scratch(session) and _counts_match(session)
    _assess(session)
    assert _stored(session) == _scratch(session) and _counts_match(session)
    assert any(r[0] == second_id and r[9] == -50.0 for r in _stored(session))

    # an import changing a stored visit marks the lesion in SQL
    doc = {"format": "lesion-timeline/1", "patients": [{"id": "P-1", "lesions": [{
        "id": "L1", "site": {"compartment": "tendon", "region": "shoulder",
                             "structure": "supraspinatus", "laterality": "right"},
        "entity": "hadd",
        "observations": [{"date": "2024-01-01", "modality": "XR", "size_mm": [15]}]}]}]}
    import_timeline(session, validate_timeline(doc, today=AS_OF), actor="t")
    assert first_id not in {r[0] for r in _stored(session)}
    _assess(session)
    assert _stored(session) == _scratch(session) and _counts_match(session)
    assert len(_stored(session)) == 2

    merge_lesions(session, first_id, second_id, prefer={date(2024, 1, 1): "kept"}, actor="t",
                  reason="same deposit")
    assert session.get(Lesion, second_id) is None
    _assess(session)
    assert {r[0] for r in _stored(session)} == {first_id} == {r[0] for r in _scratch(session)}
    assert _stored(session) == _scratch(session) and _counts_match(session)

    later = session.scalar(select(Observation.id).where(
        Observation.lesion_id == first_id, Observation.date == date(2024, 6, 1)))
    assert later is not None
    delete_observation(session, later, actor="t", reason="wrong patient")
    _assess(session)
    assert _stored(session) == _scratch(session) and _counts_match(session)
    assert len(_stored(session)) == 1
