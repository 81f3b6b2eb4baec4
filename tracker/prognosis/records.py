"""Survival records: one per lesion, its baseline covariates and its outcome (natural history).

A record is plain data, so it can come from the engine's output for a timeline (tests, `tracker
infer`-like runs: `records_of_timeline`) or from stored assessments (`lesion_record` over the
rows of one set-based query). Both go through `lesion_record`, the one place where a lesion's
visits become a record.

Natural history: follow-up ends at the first invasive treatment (`INVASIVE_TREATMENTS`), so the
models say what happens to a deposit left alone, the question behind "wait or treat?". HO
prophylaxis (radiotherapy, NSAID) does not end it: it is given around the triggering event, not
to a deposit chosen for removal. Censoring at treatment assumes the choice to treat depends on
what the model already knows (size, Gärtner type, pain, ...), not on how the deposit would have
evolved (no informative censoring given the covariates).

For the stored route, one query streamed in lesion and date order gives everything
`lesion_record` needs, with no per-lesion statement:

    SELECT l.id, l.external_id, p.external_id, p.birth_year, l.region, l.event_kind,
           coalesce(l.entity, l.assessed_entity) AS entity,
           o.date, o.visible, o.modality, o.size1_mm, o.pain,
           a.stage, a.classifications, t.first_invasive
    FROM lesions l JOIN patients p ON p.id = l.patient_id
    JOIN observations o ON o.lesion_id = l.id
    LEFT JOIN assessments a ON a.observation_id = o.id
    LEFT JOIN (SELECT lesion_id, min(date) AS first_invasive FROM treatments
               WHERE kind IN ('lavage', 'eswt', 'injection', 'surgery')
               GROUP BY lesion_id) t ON t.lesion_id = l.id
    WHERE l.assessed_version = l.data_version      -- current assessments only
    ORDER BY l.id, o.date

with the family read from the entity (`ENTITIES[entity].family`), `gartner` from the
baseline's `classifications`, and lesions with a missing stage left out and counted, as
`tracker.cohort` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tracker.engine import LesionAssessment, LesionFacts, infer
from tracker.facts import facts_of_input
from tracker.prognosis.outcome import Outcome, Visit, resolution_outcome
from tracker.timeline import Timeline
from tracker.vocabulary import Region, TreatmentKind

# Treatments that end natural-history follow-up (a deposit removed, broken up or injected).
INVASIVE_TREATMENTS = frozenset({
    TreatmentKind.LAVAGE.value,
    TreatmentKind.ESWT.value,
    TreatmentKind.INJECTION.value,
    TreatmentKind.SURGERY.value,
})
# Gärtner-Heyer was described on rotator-cuff radiographs (rules §7, revision 3).
GARTNER_REGION = Region.SHOULDER.value


@dataclass(frozen=True)
class Baseline:
    """What is known of a lesion at its first visible observation: the model's covariates.

    `gartner` is I, II or III for a shoulder deposit graded on XR/CT, else None; `age_years`
    is the baseline year minus the birth year.
    """

    family: str
    entity: str
    region: str
    modality: str
    size_mm: float
    gartner: str | None = None
    pain: int | None = None
    age_years: int | None = None
    event_kind: str | None = None


@dataclass(frozen=True)
class LesionRecord:
    """One lesion: `key` says which (patient/lesion), for checking a record by hand."""

    key: str
    baseline: Baseline
    outcome: Outcome


def lesion_record(
    key: str,
    *,
    family: str,
    entity: str,
    region: str,
    event_kind: str | None,
    birth_year: int | None,
    visits: Sequence[Visit],
    first_invasive: date | None,
) -> LesionRecord | None:
    """The record of one lesion from its visits in date order; None when never seen."""
    outcome = resolution_outcome(visits, censor_at=first_invasive)
    if outcome is None:
        return None
    base = next(v for v in visits if v.visible)
    if base.size_mm is None:
        raise ValueError(f"{key}: the baseline observation has no size")
    baseline = Baseline(
        family=family,
        entity=entity,
        region=region,
        modality=base.modality,
        size_mm=base.size_mm,
        gartner=base.gartner if region == GARTNER_REGION else None,
        pain=base.pain,
        age_years=None if birth_year is None else base.date.year - birth_year,
        event_kind=event_kind,
    )
    return LesionRecord(key, baseline, outcome)


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
