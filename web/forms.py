"""HTML forms to the spec's JSON shape and back, so forms validate with `validate_observation`
and `validate_treatment` exactly like the API and `tracker import`, and each problem lands next
to its field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werkzeug.datastructures import MultiDict

from tracker import vocabulary as v
from tracker.audit import required_reason
from tracker.errors import Problem
from tracker.models import Observation, Treatment
from tracker.typed_numbers import diameters, number
from tracker.vocabulary import TREATMENT_KIND_LABELS, label

OBSERVATION_FIELDS = ("date", "modality", "visible", "size_mm", "density", "margin", "texture",
                      "pattern", "features", "pain", "study_uid", "accession", "note", "reason")
TREATMENT_FIELDS = ("date", "kind", "note")

# What each select offers, (code, what the person reads) in vocabulary order.
SITE_CHOICES = {
    "compartment": [(c.value, label(c.value)) for c in v.Compartment],
    "region": [(r.value, label(r.value)) for r in v.Region],
    "laterality": [(la.value, la.value) for la in v.Laterality],
}
CHOICES = {
    "modality": [(m.value, f"{m.value} — {label(m.value)}") for m in v.Modality],
    "density": [(d.value, label(d.value).capitalize()) for d in v.Density],
    "margin": [(m.value, label(m.value).capitalize()) for m in v.Margin],
    "texture": [(t.value, label(t.value).capitalize()) for t in v.Texture],
    "pattern": [(p.value, label(p.value)) for p in v.Pattern],
    "features": [(f.value, label(f.value)) for f in v.Feature],
    "kind": [(k.value, TREATMENT_KIND_LABELS[k]) for k in v.TreatmentKind],
}


# What the form offers first for a lesion's compartment; the rest go under "more". A choice of
# presentation only: every code stays valid everywhere (the engine judges, not the form).
FIRST_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "tendon": {"features": ("intrabursal_migration", "intraosseous_extension", "comet_tail",
                            "fluid_level", "bone_lysis"),
               "pattern": ("nodular", "cloud", "linear", "layered")},
    "articular": {"features": ("intrabursal_migration", "intraosseous_extension", "fluid_level",
                               "bone_lysis", "comet_tail"),
                  "pattern": ("linear", "nodular", "cloud", "ring_arc", "multiloculated")},
    "spine": {"features": ("intraosseous_extension", "bone_lysis", "fluid_level",
                           "mass_effect"),
              "pattern": ("linear", "nodular", "cloud", "layered")},
    "soft_tissue": {"features": ("zonal_peripheral", "central_mineralization",
                                 "bone_organization", "mass_effect", "bone_lysis"),
                    "pattern": ("cloud", "sheet", "cigar", "shell", "bone", "multiloculated",
                                "ring_arc")},
    "vascular": {"features": ("mass_effect",),
                 "pattern": ("central_lucency", "linear", "shell", "nodular")},
}
MORPHOLOGY = ("density", "margin", "texture", "pattern", "features")


def split_choices(compartment: str, name: str,
                  choices: list[tuple[str, str]]) -> tuple[list[tuple[str, str]],
                                                           list[tuple[str, str]]]:
    """(usual for this compartment, the others), each in vocabulary order."""
    first = FIRST_CHOICES.get(compartment, {}).get(name)
    if not first:
        return choices, []
    return ([c for c in choices if c[0] in first], [c for c in choices if c[0] not in first])


def _whole(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def observation_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted form as a lesion-timeline/1 observation; blank fields are absent."""
    raw: dict[str, Any] = {}
    for key in ("date", "modality", "density", "margin", "texture", "pattern", "study_uid",
                "accession", "note"):
        value = form.get(key, "")
        if key != "note":
            value = value.strip()
        if value.strip():
            raw[key] = value
    raw["visible"] = form.get("visible", "yes") != "no"
    sizes = [s.strip() for s in form.getlist("size_mm")]
    while sizes and not sizes[-1]:
        sizes.pop()
    if sizes:
        raw["size_mm"] = [number(s) if s else s for s in sizes]
    features = [f for f in form.getlist("features") if f]
    if features:
        raw["features"] = features
    pain = form.get("pain", "").strip()
    if pain:
        raw["pain"] = _whole(pain)
    return raw


def form_from_observation(obs: Observation) -> dict[str, Any]:
    """A stored observation as the form's initial values."""
    return {
        "date": obs.date.isoformat(),
        "modality": obs.modality,
        "visible": obs.visible,
        "size_mm": [f"{s:g}" for s in obs.size_mm],
        "density": obs.density or "",
        "margin": obs.margin or "",
        "texture": obs.texture or "",
        "pattern": obs.pattern or "",
        "features": obs.features,
        "pain": "" if obs.pain is None else str(obs.pain),
        "study_uid": obs.study_uid or "",
        "accession": obs.accession or "",
        "note": obs.note or "",
    }


def treatment_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted form as a lesion-timeline/1 treatment; blank fields are absent."""
    raw: dict[str, Any] = {}
    for key in TREATMENT_FIELDS:
        value = form.get(key, "")
        if value.strip():
            raw[key] = value if key == "note" else value.strip()
    return raw


def form_from_treatment(row: Treatment) -> dict[str, Any]:
    return {"date": row.date.isoformat(), "kind": row.kind, "note": row.note or ""}


def treatment_form_values(form: MultiDict[str, str]) -> dict[str, Any]:
    return {k: form.get(k, "") for k in TREATMENT_FIELDS}


def form_values(form: MultiDict[str, str]) -> dict[str, Any]:
    """What the person typed, to show again next to the errors."""
    return {
        **{k: form.get(k, "") for k in OBSERVATION_FIELDS
           if k not in ("size_mm", "features", "visible")},
        "visible": form.get("visible", "yes") != "no",
        "size_mm": form.getlist("size_mm"),
        "features": form.getlist("features"),
    }


def correction_reason(form: MultiDict[str, str]) -> str:
    """Why a stored observation is corrected: required, short, kept in the audit."""
    return required_reason(form.get("reason"), "say briefly why this observation is corrected")


def field_errors(problems: Iterable[Problem],
                 fields: tuple[str, ...] = OBSERVATION_FIELDS) -> dict[str, list[str]]:
    """Problems by form field: `size_mm[1]` belongs to `size_mm`; no path = the whole form."""
    out: dict[str, list[str]] = {}
    for p in problems:
        name = p.path.split("[", 1)[0].split(".", 1)[0] or "_form"
        if name not in fields:
            name = "_form"
        index = p.path[len(name) + 1 :].split("]", 1)[0] if p.path.startswith(name + "[") else ""
        if index.isdigit():
            which = "diameter" if name == "size_mm" else "item"
            out.setdefault(name, []).append(f"{which} {int(index) + 1}: {p.message}")
        else:
            out.setdefault(name, []).append(p.message)
    return out


def divide_from_form(form: MultiDict[str, str]) -> dict[int, tuple[Any, Any]]:
    """The split form's divided visits: observation id -> (new lesion's size, remaining size),
    for each visit where either size was typed."""
    out: dict[int, tuple[Any, Any]] = {}
    for key, new in form.items():
        if not key.startswith("divide_new."):
            continue
        raw_id = key.removeprefix("divide_new.")
        remaining = form.get(f"divide_remaining.{raw_id}", "")
        if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 10 and (new.strip()
                                                                           or remaining.strip()):
            out[int(raw_id)] = (diameters(new), diameters(remaining))
    return out
