"""Survival records: one per lesion, its baseline covariates and its outcome (natural history).

A record is plain data, so it can come from the engine's output for a timeline
(`tracker.prognosis.engine_records`) or from stored assessments (`lesion_record` over the rows of
one set-based query). Both go through `lesion_record`, the one place where a lesion's visits
become a record. Light: standard library and the vocabulary (a prediction needs `Baseline`).

Natural history: follow-up ends at the first invasive treatment (`INVASIVE_TREATMENTS`), so the
models say what happens to a deposit left alone, the question behind "wait or treat?". HO
prophylaxis (radiotherapy, NSAID) does not end it: it is given around the triggering event, not
to a deposit chosen for removal. Censoring at treatment assumes the choice to treat depends on
what the model already knows (size, Gärtner type, pain, ...), not on how the deposit would have
evolved (no informative censoring given the covariates).

For the stored route, one query streamed in lesion and date order gives everything
`lesion_record` needs, with no per-lesion statement:

    SELECT l.id, l.external_id, p.external_id, p.birth_year, l.region, l.event_kind,
           l.assessed_entity,                     -- the entity the engine used
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

streamed (`yield_per`) and grouped by lesion: one `Visit` per row (`gartner` from
`classifications`), the family from `ENTITIES[assessed_entity].family`, then `lesion_record`.
Lesions with a row without a stage are left out and counted, as `tracker.cohort` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tracker.prognosis.outcome import Outcome, Visit, resolution_outcome
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
