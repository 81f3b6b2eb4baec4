"""Survival records straight from the engine's output: a timeline (or one lesion's facts)
through `tracker.engine.infer`, no database. What the stored assessments give for the same
lesions (tests/prognosis/test_stored_outcomes.py)."""

from __future__ import annotations

from datetime import date

from tracker.engine import LesionAssessment, LesionFacts, infer
from tracker.facts import facts_of_input
from tracker.prognosis.outcome import Visit
from tracker.prognosis.records import INVASIVE_TREATMENTS, LesionRecord, lesion_record
from tracker.timeline.models import Timeline


def visits_of_assessment(facts: LesionFacts, assessment: LesionAssessment) -> list[Visit]:
    """The lesion's findings (up to the assessment's `as_of`) with the stage of each."""
    findings = sorted(facts.findings, key=lambda f: f.date)
    stages = {s.date: s for s in assessment.stages}
    visits = []
    for f in findings:
        call = stages.get(f.date)
        if call is None:
            continue  # dated after as_of
        visits.append(Visit(
            date=f.date,
            visible=f.visible,
            modality=f.modality.value,
            stage=call.stage.value,
            size_mm=f.size_mm[0] if f.size_mm else None,
            pain=f.pain,
            gartner=dict(call.classifications).get("gartner"),
        ))
    return visits


def record_of_assessment(
    key: str, facts: LesionFacts, assessment: LesionAssessment, birth_year: int | None
) -> LesionRecord | None:
    """The record the engine's output gives for one lesion (the same as its stored rows give)."""
    invasive = [t.date for t in facts.treatments if t.kind.value in INVASIVE_TREATMENTS]
    return lesion_record(
        key,
        family=assessment.family.value,
        entity=assessment.entity.value,
        region=facts.region.value,
        event_kind=None if facts.event_kind is None else facts.event_kind.value,
        birth_year=birth_year,
        visits=visits_of_assessment(facts, assessment),
        first_invasive=min(invasive, default=None),
    )


def records_of_timeline(timeline: Timeline, as_of: date) -> tuple[list[LesionRecord], int]:
    """Every lesion of a validated timeline through the engine as of a date: the records, and
    how many lesions were left out (never seen, so no baseline)."""
    records: list[LesionRecord] = []
    skipped = 0
    for patient in timeline.patients:
        for lesion in patient.lesions:
            facts = facts_of_input(lesion)
            record = record_of_assessment(
                f"{patient.id}/{lesion.id}", facts, infer(facts, as_of), patient.birth_year)
            if record is None:
                skipped += 1
            else:
                records.append(record)
    return records, skipped
