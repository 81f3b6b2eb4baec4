"""The real import and the stored assessments give the outcome the engine gives: the cohort
Kaplan–Meier (`tracker.cohort.subjects`, read from stored stages) and the prognosis records
(engine output for the same timeline) agree lesion by lesion, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from testkit.prognosis_cohort import TRUTH, simulate
from tracker.cohort import subjects
from tracker.models import Lesion, Patient
from tracker.prognosis.engine_records import records_of_timeline
from tracker.queries.to_assess import all_lesions
from tracker.services.assessment.assess import assess_lesions
from tracker.services.imports import import_timeline
from tracker.timeline.reader import validate_timeline


def test_stored_stages_give_the_same_times_to_resolution(session: Session) -> None:
    # no lavage: the cohort outcomes describe what happened, treated or not
    sim = simulate(40, seed=21, truth=replace(TRUTH, missed_film=0.15, lavage_share=0.0))
    timeline = validate_timeline(sim.document(), today=date.today())
    import_timeline(session, timeline, actor="test")
    assess_lesions(session, all_lesions(session), sim.as_of)

    stored, skipped = subjects(session)
    records, _ = records_of_timeline(timeline, sim.as_of)
    assert skipped == 0 and len(stored) == len(records) == 40
    keys = {lesion_id: f"{patient}/{lesion}" for lesion_id, patient, lesion in session.execute(
        select(Lesion.id, Patient.external_id, Lesion.external_id).join(Lesion.patient))}
    from_db = {keys[s.lesion_id]: (s.days, s.resolved) for s in stored}
    from_engine = {r.key: (r.outcome.days, r.outcome.event) for r in records}
    assert from_db == from_engine
    assert sum(r.outcome.contradicted for r in records) >= 2  # missed projections were there
