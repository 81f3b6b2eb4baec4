"""Timeline dicts to engine facts for the vignette tests, through the product's own reader.

The vignettes are valid documents, so each lesion goes through the same validation model and
the same translation (`tracker.facts.facts_of_input`) as `tracker infer` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from tracker.engine import LesionFacts
from tracker.facts import facts_of_input
from tracker.timeline.models import LesionIn


def lesion_facts(lesion: dict[str, Any], as_of: date | None = None) -> LesionFacts:
    """Facts of one timeline lesion; with as_of, only observations and treatments dated on or
    before it (what `check.py` feeds `tracker infer`)."""

    def kept(item: dict[str, Any]) -> bool:
        return as_of is None or date.fromisoformat(item["date"]) <= as_of

    cut = {**lesion, "observations": [o for o in lesion["observations"] if kept(o)]}
    if "treatments" in lesion:
        cut["treatments"] = [t for t in lesion["treatments"] if kept(t)]
    return facts_of_input(LesionIn.model_validate(cut))


def lesions_of(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """("PATIENT/LESION", lesion dict) for every lesion of a timeline document."""
    for patient in doc["patients"]:
        for lesion in patient["lesions"]:
            yield f"{patient['id']}/{lesion['id']}", lesion
