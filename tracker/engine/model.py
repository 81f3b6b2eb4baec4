"""The engine's input and output types: plain frozen facts in, plain frozen calls out.

A service builds `LesionFacts` from rows or validated input (`tracker.facts`); the engine never sees
a row. Standard library and `tracker.vocabulary` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from tracker.vocabulary import (
    AlertKind,
    Compartment,
    Density,
    Entity,
    EventKind,
    Family,
    Feature,
    Margin,
    Modality,
    Pattern,
    Region,
    Resolution,
    ResponseCategory,
    Severity,
    Stage,
    Texture,
    TreatmentKind,
)

ENGINE_VERSION = "2026.12.1"
RULES_REVISION = 3  # clinical-rules.md revision these modules implement (§12 lists the changes)


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation of the lesion on one date."""

    date: date
    modality: Modality
    visible: bool = True
    size_mm: tuple[float, ...] = ()
    density: Density | None = None
    margin: Margin | None = None
    texture: Texture | None = None
    pattern: Pattern | None = None
    features: tuple[Feature, ...] = ()
    pain: int | None = None


@dataclass(frozen=True, slots=True)
class Treatment:
    """A treatment of the lesion on one date (§7a); it never changes a stage."""

    date: date
    kind: TreatmentKind
    note: str | None = None


@dataclass(frozen=True, slots=True)
class LesionFacts:
    """One lesion as the engine sees it: a service builds it from rows, never the engine."""

    compartment: Compartment
    region: Region
    entity: Entity | None
    event_date: date | None
    findings: tuple[Finding, ...]
    event_kind: EventKind | None = None
    treatments: tuple[Treatment, ...] = ()


@dataclass(frozen=True, slots=True)
class Response:
    """§7a treatment response of one observation against the baseline before the treatment."""

    baseline: date
    change_pct: float  # one decimal, halves away from zero
    nadir_change_pct: float
    category: ResponseCategory


@dataclass(frozen=True, slots=True)
class StageCall:
    """The stage of one observation, with the evidence a clinician can check it against.

    `resolution` is set on every `resolved` stage and only there; an early second negative
    (H2r/O2r/G2r) and a carried MR one (H1/O1/G1) keep the one of the negative they follow.
    """

    date: date
    stage: Stage
    confidence: float
    evidence: tuple[str, ...]
    classifications: tuple[tuple[str, str], ...] = ()
    rule: str = ""  # the stage row that decided (e.g. "H11"); extra, for audit
    response: Response | None = None
    resolution: Resolution | None = None


@dataclass(frozen=True, slots=True)
class TransitionCall:
    """A stage change; `unexpected` where the entity's course says it should not happen."""

    date: date
    from_stage: Stage
    to_stage: Stage
    evidence: tuple[str, ...]
    unexpected: bool


@dataclass(frozen=True, slots=True)
class AlertCall:
    """An alert open on `as_of`; `since` is the observation that first triggered it."""

    kind: AlertKind
    severity: Severity
    since: date
    reason: str
    rule: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A candidate entity; `why` names the compartment and the cues that matched."""

    entity: Entity
    score: float
    why: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LesionAssessment:
    """Everything the engine says about one lesion as of a date; stored with its version."""

    entity: Entity
    entity_source: Literal["given", "suggested"]
    family: Family
    suggestions: tuple[Suggestion, ...]
    stages: tuple[StageCall, ...]
    transitions: tuple[TransitionCall, ...]
    alerts: tuple[AlertCall, ...]
    next_follow_up: date | None
    engine_version: str = ENGINE_VERSION
    rules_revision: int = RULES_REVISION
