"""Turn stored rows or validated timeline input into the engine's plain facts.

The engine never sees an ORM row or a pydantic model: this module is the one translation, used
by `tracker infer`, the assessment service and the web layer alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from tracker import vocabulary as v
from tracker.engine import Finding, LesionFacts, Treatment, assessment_to_json, infer
from tracker.models import Lesion
from tracker.timeline.models import LesionIn, Timeline

E = TypeVar("E", bound=StrEnum)


def _opt(kind: type[E], value: str | None) -> E | None:
    return None if value is None else kind(value)


class LesionColumns(Protocol):
    """What the engine reads of a lesion: an ORM `Lesion` or a Core row of its columns (the
    assessment service reads rows without the ORM's per-object cost)."""

    @property
    def compartment(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def entity(self) -> str | None: ...
    @property
    def event_date(self) -> date | None: ...
    @property
    def event_kind(self) -> str | None: ...


class Film(Protocol):
    """What every reader of a visit starts from: when, on what, and whether the deposit
    showed (the engine's observations, and the pages' % changes)."""

    @property
    def date(self) -> date: ...
    @property
    def modality(self) -> str: ...
    @property
    def visible(self) -> bool: ...


class ObservationColumns(Film, Protocol):
    """What the engine reads of an observation (an ORM `Observation` and a validated
    `ObservationIn` have all of it)."""

    @property
    def size_mm(self) -> Sequence[float] | None: ...
    @property
    def density(self) -> str | None: ...
    @property
    def margin(self) -> str | None: ...
    @property
    def texture(self) -> str | None: ...
    @property
    def pattern(self) -> str | None: ...
    @property
    def features(self) -> Sequence[str]: ...
    @property
    def pain(self) -> int | None: ...


class TreatmentColumns(Protocol):
    @property
    def date(self) -> date: ...
    @property
    def kind(self) -> str: ...
    @property
    def note(self) -> str | None: ...


def finding_of(obs: ObservationColumns) -> Finding:
    """One translation for a stored row (codes) and validated input (enums, maybe repeated
    features): an enum of its own member is that member."""
    return Finding(
        date=obs.date,
        modality=v.Modality(obs.modality),
        visible=obs.visible,
        size_mm=tuple(obs.size_mm or ()),
        density=_opt(v.Density, obs.density),
        margin=_opt(v.Margin, obs.margin),
        texture=_opt(v.Texture, obs.texture),
        pattern=_opt(v.Pattern, obs.pattern),
        features=tuple(dict.fromkeys(v.Feature(f) for f in obs.features)),
        pain=obs.pain,
    )


def treatment_of(treatment: TreatmentColumns) -> Treatment:
    return Treatment(date=treatment.date, kind=v.TreatmentKind(treatment.kind), note=treatment.note)


def facts_of_input(lesion: LesionIn) -> LesionFacts:
    return LesionFacts(
        compartment=lesion.site.compartment,
        region=lesion.site.region,
        entity=lesion.entity,
        event_date=lesion.event_date,
        findings=tuple(finding_of(o) for o in lesion.observations),
        event_kind=lesion.event_kind,
        treatments=tuple(treatment_of(t) for t in lesion.treatments),
    )


def facts_of_row(
    lesion: Lesion | LesionColumns,
    observations: Iterable[ObservationColumns] | None = None,
    treatments: Iterable[TreatmentColumns] | None = None,
) -> LesionFacts:
    """Needs the lesion's observations (with their features) and treatments loaded, or given
    (then `lesion` may be any row with the lesion's columns)."""
    if observations is None or treatments is None:
        if not isinstance(lesion, Lesion):
            raise TypeError("a lesion row without its relationships needs them given")
        observations = lesion.observations if observations is None else observations
        treatments = lesion.treatments if treatments is None else treatments
    return LesionFacts(
        compartment=v.Compartment(lesion.compartment),
        region=v.Region(lesion.region),
        entity=_opt(v.Entity, lesion.entity),
        event_date=lesion.event_date,
        findings=tuple(finding_of(o) for o in observations),
        event_kind=_opt(v.EventKind, lesion.event_kind),
        treatments=tuple(treatment_of(t) for t in treatments),
    )


def infer_timeline(timeline: Timeline, as_of: date) -> dict[str, Any]:
    """`lesion-assessment/1` for every lesion of a validated timeline, in id order."""
    lesions = []
    for patient in sorted(timeline.patients, key=lambda p: p.id):
        for lesion in sorted(patient.lesions, key=lambda le: le.id):
            result = infer(facts_of_input(lesion), as_of)
            lesions.append(
                {"patient": patient.id, "lesion": lesion.id, **assessment_to_json(result)}
            )
    return {"format": "lesion-assessment/1", "as_of": as_of.isoformat(), "lesions": lesions}
