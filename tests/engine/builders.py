"""Small builders so that an engine test reads like a clinical vignette.

`xr("2024-01-10", 14, DWHN)` is a radiograph of a 14 mm dense, well-defined, homogeneous, nodular
deposit; `not_seen("2025-04-22")` a radiograph on which it was looked for and not found.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from tracker.engine import AlertCall, Finding, LesionAssessment, LesionFacts, Treatment, infer
from tracker.vocabulary import (
    ENTITIES,
    Compartment,
    Density,
    Entity,
    EventKind,
    Feature,
    Margin,
    Modality,
    Pattern,
    Region,
    Texture,
    TreatmentKind,
)


def D(iso: str) -> date:  # reads like a date literal
    return date.fromisoformat(iso)


class Morph(NamedTuple):
    density: Density | None
    margin: Margin | None
    texture: Texture | None
    pattern: Pattern | None


DWHN = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, Pattern.NODULAR)
MIHC = Morph(Density.MODERATE, Margin.ILL_DEFINED, Texture.HETEROGENEOUS, Pattern.CLOUD)
FIHC = Morph(Density.FAINT, Margin.ILL_DEFINED, Texture.HETEROGENEOUS, Pattern.CLOUD)
MWHN = Morph(Density.MODERATE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, Pattern.NODULAR)
DWHB = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, Pattern.BONE)
DWH_ = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, None)


def seen(
    day: str,
    size: float | tuple[float, ...],
    morph: Morph = DWHN,
    *features: Feature,
    modality: Modality = Modality.XR,
    pain: int | None = None,
) -> Finding:
    sizes = size if isinstance(size, tuple) else (size,)
    return Finding(
        date=D(day),
        modality=modality,
        visible=True,
        size_mm=sizes,
        density=morph.density,
        margin=morph.margin,
        texture=morph.texture,
        pattern=morph.pattern,
        features=features,
        pain=pain,
    )


def xr(day: str, size: float, morph: Morph = DWHN, *features: Feature) -> Finding:
    return seen(day, size, morph, *features, modality=Modality.XR)


def us(day: str, size: float, morph: Morph = DWHN, *features: Feature) -> Finding:
    return seen(day, size, morph, *features, modality=Modality.US)


def ct(day: str, size: float, morph: Morph = DWHN, *features: Feature) -> Finding:
    return seen(day, size, morph, *features, modality=Modality.CT)


def mr(day: str, size: float, morph: Morph = DWHN, *features: Feature) -> Finding:
    return seen(day, size, morph, *features, modality=Modality.MR)


def not_seen(day: str, modality: Modality = Modality.XR, *features: Feature) -> Finding:
    return Finding(date=D(day), modality=modality, visible=False, features=features)


def treated(day: str, kind: TreatmentKind) -> Treatment:
    return Treatment(date=D(day), kind=kind)


DEFAULT_REGION = {
    Compartment.TENDON: Region.SHOULDER,
    Compartment.ARTICULAR: Region.HIP,
    Compartment.SPINE: Region.CERVICAL_SPINE,
    Compartment.SOFT_TISSUE: Region.THIGH,
    Compartment.VASCULAR: Region.FOREARM,
}


def lesion(
    entity: Entity | None,
    *findings: Finding,
    compartment: Compartment | None = None,
    region: Region | None = None,
    event: str | None = None,
    event_kind: EventKind | None = None,
    treatments: tuple[Treatment, ...] = (),
) -> LesionFacts:
    if compartment is None:
        assert entity is not None, "an undiagnosed lesion needs its compartment"
        compartment = ENTITIES[entity].compartment
    return LesionFacts(
        compartment=compartment,
        region=region or DEFAULT_REGION[compartment],
        entity=entity,
        event_date=None if event is None else D(event),
        findings=findings,
        event_kind=event_kind,
        treatments=treatments,
    )


def assess(
    entity: Entity | None,
    *findings: Finding,
    as_of: str,
    compartment: Compartment | None = None,
    region: Region | None = None,
    event: str | None = None,
    event_kind: EventKind | None = None,
    treatments: tuple[Treatment, ...] = (),
) -> LesionAssessment:
    facts = lesion(
        entity,
        *findings,
        compartment=compartment,
        region=region,
        event=event,
        event_kind=event_kind,
        treatments=treatments,
    )
    return infer(facts, D(as_of))


def stages(a: LesionAssessment) -> list[str]:
    return [s.stage.value for s in a.stages]


def confidences(a: LesionAssessment) -> list[float]:
    return [s.confidence for s in a.stages]


def alert_kinds(a: LesionAssessment) -> list[str]:
    return [al.kind.value for al in a.alerts]


def alert(a: LesionAssessment, kind: str) -> AlertCall:
    """The open alert of that kind (fails the test when absent)."""
    found = [al for al in a.alerts if al.kind.value == kind]
    assert found, f"no open {kind} alert; open: {alert_kinds(a)}"
    return found[0]
