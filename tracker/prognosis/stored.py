"""Survival records from the stored assessments, the route the nightly refit and the pages take.

`stored_records` is the one set-based query of `tracker.prognosis.records` (lesions, patients,
observations, their assessments, the first invasive treatment), streamed in lesion and date
order (`yield_per`) and grouped by lesion, so a refit holds rows of one lesion at a time plus
the records (a few hundred bytes each), never the rows of the table. Only current assessments
count: a lesion whose data changed since its assessment, or with an observation without a
stage, is left out and counted, as `tracker.cohort` does.

`record_of_lesion` builds the same record from a lesion already loaded with its observations,
assessments and treatments (the lesion page, `tracker show`, the API): no statement of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.models import Assessment, Lesion, Observation, Patient, Treatment
from tracker.prognosis.outcome import Visit
from tracker.prognosis.records import INVASIVE_TREATMENTS, LesionRecord, lesion_record
from tracker.vocabulary import ENTITIES, Entity

YIELD_PER = 2000


def family_of(entity: str | None) -> str | None:
    """The stage family of an entity code (None for none or an unknown code)."""
    if entity is None:
        return None
    try:
        return ENTITIES[Entity(entity)].family.value
    except ValueError:
        return None


def entities_of(family: str) -> list[str]:
    return [e.value for e, info in ENTITIES.items() if info.family.value == family]


@dataclass
class Streamed:
    """What a stream left out: lesions not (currently) assessed, lesions never seen."""

    unassessed: int = 0
    never_seen: int = 0


def _rows(session: Session, family: str | None, lesion_ids: Collection[int] | None
          ) -> Iterator[Any]:
    invasive = (
        select(Treatment.lesion_id, func.min(Treatment.date).label("first_invasive"))
        .where(Treatment.kind.in_(sorted(INVASIVE_TREATMENTS)))
        .group_by(Treatment.lesion_id)
        .subquery()
    )
    query = (
        select(
            Lesion.id, Lesion.external_id.label("lesion"), Patient.external_id.label("patient"),
            Patient.birth_year, Lesion.region, Lesion.event_kind, Lesion.assessed_entity,
            Observation.date, Observation.visible, Observation.modality, Observation.size1_mm,
            Observation.pain, Assessment.stage, Assessment.classifications,
            invasive.c.first_invasive,
        )
        .join(Patient, Patient.id == Lesion.patient_id)
        .join(Observation, Observation.lesion_id == Lesion.id)
        .join(Assessment, Assessment.observation_id == Observation.id, isouter=True)
        .join(invasive, invasive.c.lesion_id == Lesion.id, isouter=True)
        .where(Lesion.assessment_current)
        .order_by(Lesion.id, Observation.date)
    )
    if family is not None:
        query = query.where(Lesion.assessed_entity.in_(entities_of(family)))
    if lesion_ids is not None:
        query = query.where(Lesion.id.in_(sorted(lesion_ids)))
    yield from session.execute(query.execution_options(yield_per=YIELD_PER))


def _visit(row: Any) -> Visit:
    classes = row.classifications or {}
    return Visit(date=row.date, visible=row.visible, modality=row.modality, stage=row.stage,
                 size_mm=row.size1_mm, pain=row.pain, gartner=classes.get("gartner"))


def stored_records(session: Session, family: str | None = None, *,
                   lesion_ids: Collection[int] | None = None,
                   counts: Streamed | None = None) -> Iterator[tuple[int, LesionRecord]]:
    """(lesion id, record) of every currently assessed lesion (of a family, or of some ids),
    streamed from one query."""
    counts = counts if counts is not None else Streamed()
    for lesion_id, group in groupby(_rows(session, family, lesion_ids), key=lambda r: r.id):
        rows = list(group)
        first = rows[0]
        lesion_family = family_of(first.assessed_entity)
        if lesion_family is None or any(r.stage is None for r in rows):
            counts.unassessed += 1
            continue
        record = lesion_record(
            f"{first.patient}/{first.lesion}", family=lesion_family,
            entity=first.assessed_entity, region=first.region, event_kind=first.event_kind,
            birth_year=first.birth_year, visits=[_visit(r) for r in rows],
            first_invasive=first.first_invasive)
        if record is None:
            counts.never_seen += 1
            continue
        yield lesion_id, record


def record_of_lesion(lesion: Lesion, birth_year: int | None) -> LesionRecord | None:
    """The record of a loaded lesion (observations with assessments, treatments); None while
    its assessment is pending or when it was never seen."""
    family = family_of(lesion.assessed_entity)
    if family is None or not lesion.assessment_current:
        return None
    staged: list[tuple[Observation, Assessment]] = [
        (o, o.assessment) for o in lesion.observations if o.assessment is not None]
    if len(staged) < len(lesion.observations):
        return None
    visits = [Visit(date=o.date, visible=o.visible, modality=o.modality, stage=a.stage,
                    size_mm=o.size1_mm, pain=o.pain,
                    gartner=(a.classifications or {}).get("gartner"))
              for o, a in staged]
    invasive: list[date] = [t.date for t in lesion.treatments if t.kind in INVASIVE_TREATMENTS]
    return lesion_record(
        f"{lesion.patient_id}/{lesion.external_id}", family=family,
        entity=lesion.assessed_entity or "", region=lesion.region, event_kind=lesion.event_kind,
        birth_year=birth_year, visits=visits, first_invasive=min(invasive, default=None))
