"""A seeded synthetic cohort with realistic courses for every family, at any size.

Used by the benchmarks (`bench/run.py`) and by the scan-index tests (a neutral module: it
imports only the product). Each lesion follows one course of its family, with measurement
noise, irregular visit gaps of 1.5-8 months over years of history and the odd MR visit:

* HADD: forming -> resting -> resorbing -> gone; never resorbing (no resolution); resorbing
  then regrowing; resorbing into bone (intraosseous extension); an ultrasound-followed one.
* HO: after an event (trauma/surgery) or none: early -> zoning -> mature bone; stuck immature
  (not maturing); central mineralisation (atypical, urgent).
* Generic: stable (persists), up and down (variable), growing (progresses), and a rapidly
  destructive arthropathy with new bone lysis (urgent).
* 15 % of lesions carry no entity (the engine suggests one); 40 % of treatable HADD deposits
  get a lavage, ESWT or injection after the first visit; HO events have a kind.

The same seed gives the same cohort. Rows come out as dicts for Core `executemany` (explicit
ids) or as a lesion-timeline/1 document for `tracker import`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert

from tracker.db import engine_for
from tracker.models import Lesion, Observation, ObservationFeature, Patient, Treatment

START = date(2021, 1, 4)
LESIONS_PER_PATIENT = 2

Morph = tuple[str, str, str | None, str | None]  # density, margin, texture, pattern
DWHN: Morph = ("dense", "well_defined", "homogeneous", "nodular")
MWHN: Morph = ("moderate", "well_defined", "homogeneous", "nodular")
MIHC: Morph = ("moderate", "ill_defined", "heterogeneous", "cloud")
FIHC: Morph = ("faint", "ill_defined", "heterogeneous", "cloud")
MWHS: Morph = ("moderate", "well_defined", "heterogeneous", "shell")
DWHB: Morph = ("dense", "well_defined", "heterogeneous", "bone")
DWHM: Morph = ("dense", "well_defined", "heterogeneous", "multiloculated")
DWHL: Morph = ("dense", "well_defined", "homogeneous", "linear")


@dataclass(frozen=True)
class Step:
    """One visit of a course: size factor of the first size (None: not seen), morphology."""

    factor: float | None
    morph: Morph | None = None
    features: tuple[str, ...] = ()
    modality: str = "XR"


@dataclass(frozen=True)
class Course:
    name: str
    entity: str
    compartment: str
    regions: tuple[str, ...]
    steps: tuple[Step, ...]
    weight: int
    event_days_before: tuple[int, int] | None = None  # event this many days before visit 1
    event_kinds: tuple[str, ...] = ("trauma",)
    treatments: tuple[str, ...] = ()  # kinds; 40 % of such lesions are treated after visit 1


COURSES: tuple[Course, ...] = (
    Course("hadd resolves", "hadd", "tendon", ("shoulder", "hip", "elbow"),
           (Step(1.0, DWHN), Step(1.02, DWHN), Step(0.6, MIHC, ("comet_tail",)),
            Step(0.3, FIHC), Step(None)), 14, treatments=("lavage", "eswt", "injection")),
    Course("hadd no resolution", "hadd", "tendon", ("shoulder", "wrist"),
           (Step(1.0, DWHN), Step(1.03, DWHN), Step(0.98, DWHN), Step(1.02, DWHN)), 10,
           treatments=("eswt", "injection")),
    Course("hadd regrowth", "hadd", "tendon", ("shoulder",),
           (Step(1.0, DWHN), Step(0.55, MIHC), Step(0.95, DWHN)), 4),
    Course("hadd into bone", "hadd_periarticular", "articular", ("hip", "knee"),
           (Step(1.0, DWHN), Step(0.7, MIHC, ("intraosseous_extension",)), Step(0.35, FIHC)), 3),
    Course("hadd on ultrasound", "hadd", "tendon", ("shoulder",),
           (Step(1.0, DWHN, modality="US"), Step(1.0, DWHN, modality="US"),
            Step(None, modality="MR"), Step(0.5, MIHC, modality="US")), 4),
    Course("ho matures", "ho", "soft_tissue", ("thigh", "upper_arm", "hip"),
           (Step(1.0, FIHC), Step(1.2, MWHS, ("zonal_peripheral",)),
            Step(1.2, DWHB, ("bone_organization",)), Step(1.15, DWHB, ("bone_organization",))),
           8, (10, 30), ("trauma", "surgery", "arthroplasty", "neurologic")),
    Course("ho not maturing", "post_traumatic_ossification", "tendon", ("knee", "elbow"),
           (Step(1.0, FIHC), Step(1.1, MWHS, ("zonal_peripheral",)),
            Step(1.12, MWHS, ("zonal_peripheral",))), 5, (20, 60), ("trauma", "surgery")),
    Course("ho atypical", "ho", "soft_tissue", ("thigh",),
           (Step(1.0, MIHC, ("central_mineralization", "mass_effect")),
            Step(1.3, MIHC, ("central_mineralization", "mass_effect"))), 1),
    Course("generic persists", "enthesopathy", "tendon", ("foot", "elbow", "pelvis"),
           (Step(1.0, DWHN), Step(1.02, DWHN), Step(1.0, DWHN)), 12),
    Course("generic variable", "gout", "articular", ("foot", "knee", "hand"),
           (Step(1.0, MIHC), Step(1.4, MIHC), Step(0.9, MIHC), Step(1.0, MIHC)), 8),
    Course("generic progresses", "tumoral_calcinosis", "soft_tissue", ("hip", "pelvis"),
           (Step(1.0, DWHM), Step(1.3, DWHM), Step(1.6, DWHM)), 5),
    Course("rapid destruction", "rapidly_destructive_arthropathy", "articular", ("hip",),
           (Step(1.0, MIHC), Step(1.7, MIHC, ("bone_lysis",))), 2),
    Course("vascular", "medial_arterial_calcification", "vascular", ("lower_leg", "foot"),
           (Step(1.0, DWHL), Step(1.05, DWHL)), 4),
    Course("crowned dens", "crowned_dens", "spine", ("cervical_spine",),
           (Step(1.0, DWHN), Step(1.0, DWHN), Step(0.7, MIHC)), 2),
)
SUGGESTED_SHARE = 0.15  # lesions recorded without an entity


@dataclass
class Cohort:
    """Rows ready for Core inserts (explicit ids), and the per-lesion course names."""

    patients: list[dict[str, Any]] = field(default_factory=list)
    lesions: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    treatments: list[dict[str, Any]] = field(default_factory=list)
    courses: list[str] = field(default_factory=list)


def _known_entities() -> set[str]:
    from tracker.vocabulary import Entity

    return {e.value for e in Entity}


def generate(n_lesions: int, seed: int = 1, start: date = START, span_days: int = 1200,
             last_day: date | None = None) -> Cohort:
    """`n_lesions` lesions over n/2 patients, first visits spread over `span_days` from
    `start`, no visit after `last_day` (default: start + span + 2 years)."""
    rng = random.Random(seed)
    known = _known_entities()
    courses = [c for c in COURSES if c.entity in known]
    weights = [c.weight for c in courses]
    end = last_day or start + timedelta(days=span_days + 730)
    cohort = Cohort()
    obs_id = 0
    for i in range(n_lesions):
        lesion_id, patient_id = i + 1, i // LESIONS_PER_PATIENT + 1
        if i % LESIONS_PER_PATIENT == 0:
            cohort.patients.append({
                "id": patient_id, "external_id": f"P{patient_id:07d}",
                "birth_year": rng.randint(1935, 1995), "sex": rng.choice(("F", "M")),
            })
        course = rng.choices(courses, weights)[0]
        first = start + timedelta(days=rng.randrange(span_days))
        base = round(rng.uniform(6.0, 25.0), 1)
        visits = course.steps[: rng.randint(max(1, len(course.steps) - 2), len(course.steps))]
        event, event_kind = None, None
        if course.event_days_before is not None and rng.random() < 0.8:
            event = first - timedelta(days=rng.randint(*course.event_days_before))
            event_kind = rng.choice(course.event_kinds)
        if course.treatments and rng.random() < 0.4:
            treated = first + timedelta(days=rng.randint(20, 90))
            if treated <= end:
                cohort.treatments.append({"id": len(cohort.treatments) + 1,
                                          "lesion_id": lesion_id, "date": treated,
                                          "kind": rng.choice(course.treatments)})
        cohort.courses.append(course.name)
        cohort.lesions.append({
            "id": lesion_id, "patient_id": patient_id, "external_id": f"L{lesion_id}",
            "compartment": course.compartment, "region": rng.choice(course.regions),
            "structure": None, "laterality": "midline" if course.compartment == "spine"
            else rng.choice(("left", "right")),
            "entity": None if rng.random() < SUGGESTED_SHARE else course.entity,
            "event_date": event, "event_kind": event_kind, "data_version": 1,
            "assessment_due_at": None,
        })
        day = first
        for n, step in enumerate(visits):
            if n:
                day += timedelta(days=rng.randint(45, 240))
            if day > end:
                break
            obs_id += 1
            visible = step.factor is not None
            size = round(max(1.0, base * (step.factor or 1) + rng.choice((-0.2, 0, 0.1))), 1)
            density, margin, texture, pattern = step.morph or (None, None, None, None)
            cohort.observations.append({
                "id": obs_id, "lesion_id": lesion_id, "date": day, "modality": step.modality,
                "visible": visible, "size1_mm": size if visible else None,
                "density": density if visible else None, "margin": margin if visible else None,
                "texture": texture if visible else None, "pattern": pattern if visible else None,
                "pain": rng.choice((None, None, rng.randint(0, 10))),
            })
            cohort.features += [{"observation_id": obs_id, "feature": f}
                                for f in step.features]
    return cohort


def insert_rows(url: str, cohort: Cohort, batch: int = 20_000) -> None:
    """Core executemany of every row (explicit ids; sequences moved past them on PostgreSQL).
    Lesions are left marked neither due nor assessed: the first scan assesses them all."""
    with engine_for(url).begin() as conn:
        for model, rows in ((Patient, cohort.patients), (Lesion, cohort.lesions),
                            (Observation, cohort.observations),
                            (ObservationFeature, cohort.features),
                            (Treatment, cohort.treatments)):
            for part in _parts(rows, batch):
                conn.execute(insert(model), part)
        if conn.dialect.name == "postgresql":
            for table in ("patients", "lesions", "observations", "treatments"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )


def _parts(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def to_timeline(cohort: Cohort) -> dict[str, Any]:
    """The cohort as a lesion-timeline/1 document (what `tracker import` reads)."""
    features: dict[int, list[str]] = {}
    for f in cohort.features:
        features.setdefault(f["observation_id"], []).append(f["feature"])
    by_lesion: dict[int, list[dict[str, Any]]] = {}
    for o in cohort.observations:
        doc: dict[str, Any] = {"date": o["date"].isoformat(), "modality": o["modality"]}
        if o["visible"]:
            doc["size_mm"] = [o["size1_mm"]]
            for key in ("density", "margin", "texture", "pattern"):
                if o[key] is not None:
                    doc[key] = o[key]
        else:
            doc["visible"] = False
        if o["id"] in features:
            doc["features"] = features[o["id"]]
        if o["pain"] is not None:
            doc["pain"] = o["pain"]
        by_lesion.setdefault(o["lesion_id"], []).append(doc)
    treated: dict[int, list[dict[str, Any]]] = {}
    for t in cohort.treatments:
        treated.setdefault(t["lesion_id"], []).append({"date": t["date"].isoformat(),
                                                       "kind": t["kind"]})
    lesions_of: dict[int, list[dict[str, Any]]] = {}
    for le in cohort.lesions:
        lesion: dict[str, Any] = {
            "id": le["external_id"],
            "site": {"compartment": le["compartment"], "region": le["region"],
                     "laterality": le["laterality"]},
            "observations": by_lesion.get(le["id"], []),
        }
        if le["entity"] is not None:
            lesion["entity"] = le["entity"]
        if le["event_date"] is not None:
            lesion["event_date"] = le["event_date"].isoformat()
            lesion["event_kind"] = le["event_kind"]
        if le["id"] in treated:
            lesion["treatments"] = treated[le["id"]]
        lesions_of.setdefault(le["patient_id"], []).append(lesion)
    return {
        "format": "lesion-timeline/1",
        "patients": [
            {"id": p["external_id"], "birth_year": p["birth_year"], "sex": p["sex"],
             "lesions": lesions_of.get(p["id"], [])}
            for p in cohort.patients
        ],
    }
