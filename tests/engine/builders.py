"""The one builder of engine input for tests: vignette builders and hypothesis strategies.

`xr("2024-01-10", 14, DWHN)` is a radiograph of a 14 mm dense, well-defined, homogeneous, nodular
deposit; `not_seen("2025-04-22")` a radiograph on which it was looked for and not found.
`lesions()` draws random valid lesions of every family for the property tests.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

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

from .morphs import DWHN, Morph


def D(iso: str | date) -> date:  # reads like a date literal
    return iso if isinstance(iso, date) else date.fromisoformat(iso)


def seen(
    day: str | date,
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
        **morph._asdict(),
        features=features,
        pain=pain,
    )


def xr(day: str | date, size: float, morph: Morph = DWHN, *features: Feature) -> Finding:
    return seen(day, size, morph, *features, modality=Modality.XR)


def us(day: str | date, size: float, morph: Morph = DWHN, *features: Feature) -> Finding:
    return seen(day, size, morph, *features, modality=Modality.US)


def ct(day: str | date, size: float, morph: Morph = DWHN, *features: Feature) -> Finding:
    return seen(day, size, morph, *features, modality=Modality.CT)


def mr(day: str | date, size: float, morph: Morph = DWHN, *features: Feature) -> Finding:
    return seen(day, size, morph, *features, modality=Modality.MR)


def not_seen(day: str | date, modality: Modality = Modality.XR, *features: Feature) -> Finding:
    return Finding(date=D(day), modality=modality, visible=False, features=features)


def treated(day: str | date, kind: TreatmentKind) -> Treatment:
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
    event: str | date | None = None,
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
    entity: Entity | None, *findings: Finding, as_of: str | date, **where: Any
) -> LesionAssessment:
    """`infer` on `lesion(entity, *findings, **where)` (compartment, region, event, ...)."""
    return infer(lesion(entity, *findings, **where), D(as_of))


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


# --------------------------------------------------------------------------------------------
# Random valid lesions of every family, for the property tests (hypothesis; kept small)
# --------------------------------------------------------------------------------------------

FIRST_DAY, LAST_DAY = date(2018, 1, 1), date(2026, 6, 30)

sizes_mm = st.lists(st.integers(1, 5000).map(lambda x: x / 10), min_size=1, max_size=3).map(
    lambda xs: tuple(sorted(xs, reverse=True))
)
feature_sets = st.lists(st.sampled_from(list(Feature)), unique=True, max_size=4).map(tuple)
as_of_days = st.dates(FIRST_DAY, LAST_DAY + timedelta(days=900))


@st.composite
def findings_on(draw: st.DrawFn, day: date) -> Finding:
    """One observation on `day`: one in five looked for and not seen; None = not assessed."""
    modality = draw(st.sampled_from(list(Modality)))
    features = draw(feature_sets)
    if draw(st.integers(0, 4)) == 0:
        return not_seen(day, modality, *features)
    morph = Morph(
        draw(st.none() | st.sampled_from(list(Density))),
        draw(st.none() | st.sampled_from(list(Margin))),
        draw(st.none() | st.sampled_from(list(Texture))),
        draw(st.none() | st.sampled_from(list(Pattern))),
    )
    pain = draw(st.none() | st.integers(0, 10))
    return seen(day, draw(sizes_mm), morph, *features, modality=modality, pain=pain)


@st.composite
def treatments_near(draw: st.DrawFn, days: list[date], first: date) -> tuple[Treatment, ...]:
    """Up to three treatments, often on an observation's date or on one another's."""
    day = st.sampled_from(days) | st.dates(first, LAST_DAY)
    pairs = draw(
        st.lists(st.tuples(day, st.sampled_from(list(TreatmentKind))), unique=True, max_size=3)
    )
    return tuple(treated(d, kind) for d, kind in pairs)


@st.composite
def lesions(draw: st.DrawFn) -> LesionFacts:
    days = draw(st.lists(st.dates(FIRST_DAY, LAST_DAY), min_size=1, max_size=9, unique=True))
    event = draw(st.none() | st.integers(0, 400).map(lambda k: min(days) - timedelta(days=k)))
    kind = None if event is None else draw(st.none() | st.sampled_from(list(EventKind)))
    return lesion(
        draw(st.none() | st.sampled_from(list(Entity))),
        *(draw(findings_on(d)) for d in days),
        compartment=draw(st.sampled_from(list(Compartment))),
        region=draw(st.sampled_from(list(Region))),
        event=event,
        event_kind=kind,
        treatments=draw(treatments_near(days, event or min(days))),
    )
