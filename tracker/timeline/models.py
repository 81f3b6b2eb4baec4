"""The `lesion-timeline/1` document as pydantic models (shared/spec/timeline-format.md, the
field table): one set of models validates the CLI import, the API and the web forms, so every
entry point accepts the same fields with the same limits. Also the format's JSON Schema and the
canonical JSON of an observation.

Field rules only; the rules that span fields are in `tracker.timeline.problems`. Imports the
vocabulary, never the database.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from tracker.vocabulary import (
    Compartment,
    Density,
    Entity,
    EventKind,
    Feature,
    Laterality,
    Margin,
    Modality,
    Pattern,
    Region,
    Sex,
    Texture,
    TreatmentKind,
)

FORMAT = "lesion-timeline/1"
MAX_SIZE_MM = 500
MAX_NOTE_CHARS = 2000
MAX_STRUCTURE_CHARS = 120
MAX_ID_CHARS = 64
MIN_BIRTH_YEAR = 1900

ID_CHARS = r"[A-Za-z0-9._-]"
# patient and lesion ids, for entry points that do not go through the models
ID_PATTERN = re.compile(rf"{ID_CHARS}{{1,{MAX_ID_CHARS}}}")
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=rf"^{ID_CHARS}+$")
]
SizeMm = Annotated[float, Field(gt=0, le=MAX_SIZE_MM, allow_inf_nan=False)]
# DICOM UI: components of digits separated by dots, no leading zero unless the component is "0".
STUDY_UID_PATTERN = r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$"
StudyUid = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=STUDY_UID_PATTERN)
]
# DICOM SH: no control characters, no backslash (DICOM's value separator).
ACCESSION_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\\]+$"
Accession = Annotated[
    str, StringConstraints(min_length=1, max_length=16, pattern=ACCESSION_PATTERN)
]
Note = Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS)]


class _Strict(BaseModel):
    """Unknown keys are errors: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Site(_Strict):
    compartment: Compartment
    region: Region
    structure: Annotated[str, StringConstraints(max_length=MAX_STRUCTURE_CHARS)] | None = None
    laterality: Laterality


class ObservationIn(_Strict):
    """One visit. Also what the web form and the API post for a new or changed observation."""

    date: date
    modality: Modality
    visible: bool = True
    size_mm: Annotated[list[SizeMm], Field(min_length=1, max_length=3)] | None = None
    density: Density | None = None
    margin: Margin | None = None
    texture: Texture | None = None
    pattern: Pattern | None = None
    features: list[Feature] = Field(default_factory=list)
    pain: Annotated[int, Field(ge=0, le=10, strict=True)] | None = None
    study_uid: StudyUid | None = None
    accession: Accession | None = None
    note: Note | None = None


class TreatmentIn(_Strict):
    """One treatment of a lesion. Also what the web form and the API post."""

    date: date
    kind: TreatmentKind
    note: Note | None = None


class LesionIn(_Strict):
    id: Identifier
    site: Site
    entity: Entity | None = None
    event_date: date | None = None
    event_kind: EventKind | None = None
    treatments: list[TreatmentIn] = Field(default_factory=list)
    observations: Annotated[list[ObservationIn], Field(min_length=1)]


class PatientIn(_Strict):
    id: Identifier
    birth_year: Annotated[int, Field(ge=MIN_BIRTH_YEAR, strict=True)] | None = None
    sex: Sex | None = None
    lesions: list[LesionIn]


class Timeline(_Strict):
    format: Literal["lesion-timeline/1"]
    patients: list[PatientIn]


def json_schema() -> dict[str, Any]:
    """JSON Schema of lesion-timeline/1, generated from the validation models."""
    schema = TypeAdapter(Timeline).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "urn:calcitrack:lesion-timeline/1"
    schema["description"] = (
        "calcitrack timeline exchange format. Rules that span fields (dates not in the future, "
        "not before birth_year or event_date, for observations and treatments; no two "
        "observations of a lesion on one date; no two treatments of a lesion with the same date "
        "and kind; event_kind only with event_date; size_mm required when visible; size_mm, "
        "density, margin, texture and pattern absent when not visible; density and margin absent "
        "on a visible observation mean not assessed) are checked by calcitrack on import."
    )
    return schema


def observation_json(obs: ObservationIn) -> dict[str, Any]:
    """Canonical form: defaults (visible true, no features) and absent fields left out."""
    out = obs.model_dump(mode="json", exclude_none=True)
    if out.get("visible") is True:
        del out["visible"]
    if not out.get("features"):
        out.pop("features", None)
    return out
