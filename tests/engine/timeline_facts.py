"""A small local reader from `lesion-timeline/1` dicts to engine facts, for engine tests only.

The full validating reader is `tracker/timeline.py`; these tests must not depend on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from tracker.engine import Finding, LesionFacts
from tracker.vocabulary import (
    Compartment,
    Density,
    Entity,
    Feature,
    Margin,
    Modality,
    Pattern,
    Region,
    Texture,
)


def finding_of(obs: dict[str, Any]) -> Finding:
    def opt(kind: Any, key: str) -> Any:
        value = obs.get(key)
        return None if value is None else kind(value)

    return Finding(
        date=date.fromisoformat(obs["date"]),
        modality=Modality(obs["modality"]),
        visible=obs.get("visible", True),
        size_mm=tuple(float(x) for x in obs.get("size_mm") or ()),
        density=opt(Density, "density"),
        margin=opt(Margin, "margin"),
        texture=opt(Texture, "texture"),
        pattern=opt(Pattern, "pattern"),
        features=tuple(Feature(f) for f in obs.get("features") or ()),
        pain=obs.get("pain"),
    )


def lesion_facts(lesion: dict[str, Any], as_of: date | None = None) -> LesionFacts:
    """Facts of one timeline lesion; with as_of, only observations dated on or before it."""
    observations = [
        o for o in lesion["observations"] if as_of is None or date.fromisoformat(o["date"]) <= as_of
    ]
    entity = lesion.get("entity")
    event = lesion.get("event_date")
    return LesionFacts(
        compartment=Compartment(lesion["site"]["compartment"]),
        region=Region(lesion["site"]["region"]),
        entity=None if entity is None else Entity(entity),
        event_date=None if event is None else date.fromisoformat(event),
        findings=tuple(finding_of(o) for o in observations),
    )


def lesions_of(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """("PATIENT/LESION", lesion dict) for every lesion of a timeline document."""
    for patient in doc["patients"]:
        for lesion in patient["lesions"]:
            yield f"{patient['id']}/{lesion['id']}", lesion
