"""A lesion's site as one whole: the rules that span its fields (codes, laterality by region,
compartment by region, a given entity's compartment). Used where a site is set by hand: the
site correction and the new lesion of a split (web, API, CLI alike)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracker.errors import InvalidInput, Problem
from tracker.timeline.models import MAX_STRUCTURE_CHARS
from tracker.vocabulary import (
    AXIAL_REGIONS,
    ENTITIES,
    SPINE_REGIONS,
    Compartment,
    Entity,
    Laterality,
    Region,
    label,
)

SITE_FIELDS = ("compartment", "region", "structure", "laterality")


@dataclass(frozen=True)
class SiteIn:
    """A lesion's site, checked (`checked_site`)."""

    compartment: str
    region: str
    structure: str | None
    laterality: str

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SITE_FIELDS}


def _code(value: Any, codes: type[Compartment | Region | Laterality], path: str,
          problems: list[Problem]) -> str | None:
    if isinstance(value, str) and value in {c.value for c in codes}:
        return value
    allowed = ", ".join(c.value for c in codes)
    problems.append(Problem(path, f"{value!r} is not a {path} code (one of: {allowed})"
                            if value not in (None, "") else f"choose a {path}"))
    return None


def checked_site(raw: dict[str, Any], *, entity: str | None = None, prefix: str = "") -> SiteIn:
    """The site from a form, an API body or CLI options, or every problem with its field:
    codes of vocabulary.md; `midline` only in the spine, neck, trunk and pelvis; the spine
    compartment for the spine's regions and only for them; a given entity's compartment."""
    problems: list[Problem] = []
    compartment = _code(raw.get("compartment"), Compartment, "compartment", problems)
    region = _code(raw.get("region"), Region, "region", problems)
    laterality = _code(raw.get("laterality"), Laterality, "laterality", problems)
    structure = raw.get("structure")
    structure = structure.strip() if isinstance(structure, str) and structure.strip() else None
    if structure is not None and len(structure) > MAX_STRUCTURE_CHARS:
        problems.append(Problem("structure", f"is {len(structure)} characters; at most "
                                             f"{MAX_STRUCTURE_CHARS}"))
    if region is not None and laterality == Laterality.MIDLINE.value \
            and Region(region) not in AXIAL_REGIONS:
        problems.append(Problem("laterality", f"midline is only for the spine, neck, trunk and "
                                              f"pelvis; a {label(region).lower()} deposit is "
                                              "right or left"))
    if region is not None and compartment is not None:
        spine_region = Region(region) in SPINE_REGIONS
        if spine_region and compartment != Compartment.SPINE.value:
            problems.append(Problem("compartment", f"a {label(region).lower()} deposit is in "
                                                   "the spine compartment"))
        elif not spine_region and compartment == Compartment.SPINE.value:
            problems.append(Problem("region", "the spine compartment takes a spine region "
                                              "(cervical, thoracic or lumbar spine)"))
    if entity is not None and compartment is not None \
            and ENTITIES[Entity(entity)].compartment.value != compartment:
        home = ENTITIES[Entity(entity)].compartment.value
        problems.append(Problem("compartment", f"the lesion's entity "
                                               f"{label(entity).lower()} belongs to the "
                                               f"{label(home).lower()} compartment"))
    if problems or compartment is None or region is None or laterality is None:
        raise InvalidInput([Problem(prefix + p.path, p.message) for p in problems])
    return SiteIn(compartment, region, structure, laterality)
