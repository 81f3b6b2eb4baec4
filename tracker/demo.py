"""A seeded, deterministic demo cohort in lesion-timeline/1.

Each scenario is a clinical course written against an anchor date (today by default), so the
alerts it is meant to raise are open when a person looks at it: every entity family (HADD, HO,
generic with each expected course) and every alert kind of clinical-rules.md §4 appears. The
seed only varies names, sides and small measurement noise, never the course itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

DEMO_PREFIX = "DEMO-"

# Morphology shorthands as in clinical-rules.md §8.
DWHN = {
    "density": "dense",
    "margin": "well_defined",
    "texture": "homogeneous",
    "pattern": "nodular",
}
MIHC = {
    "density": "moderate",
    "margin": "ill_defined",
    "texture": "heterogeneous",
    "pattern": "cloud",
}
FIHC = {"density": "faint", "margin": "ill_defined", "texture": "heterogeneous", "pattern": "cloud"}
MWHN = {
    "density": "moderate",
    "margin": "well_defined",
    "texture": "homogeneous",
    "pattern": "nodular",
}


@dataclass(frozen=True)
class Visit:
    days_ago: int
    size: float | None  # None: looked for and not seen
    morphology: dict[str, str]
    modality: str = "XR"
    features: tuple[str, ...] = ()
    pain: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Scenario:
    """One lesion's course; what it is meant to show is in `shows`."""

    shows: str
    compartment: str
    region: str
    structure: str
    entity: str | None
    visits: tuple[Visit, ...]
    event_days_ago: int | None = None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "HADD: full Uhthoff cycle to resolution, no alert",
        "tendon",
        "shoulder",
        "supraspinatus",
        "hadd",
        (
            Visit(560, 14, DWHN, pain=6, note="acute shoulder pain, baseline"),
            Visit(470, 14.5, DWHN, pain=4),
            Visit(380, 9, MIHC, features=("comet_tail",), pain=8, note="pain flare"),
            Visit(290, 4, MWHN, pain=2),
            Visit(110, None, {}, pain=0, note="asymptomatic"),
        ),
    ),
    Scenario(
        "HADD: deposit unchanged for a year (no_resolution)",
        "tendon",
        "shoulder",
        "supraspinatus",
        "hadd",
        (
            Visit(400, 12, DWHN, pain=5),
            Visit(310, 12.5, DWHN, pain=5),
            Visit(215, 12, DWHN, pain=6),
            Visit(40, 12.5, DWHN, pain=6, note="still painful after physiotherapy"),
        ),
    ),
    Scenario(
        "HADD: persistent and not re-imaged (no_resolution, follow_up_overdue)",
        "tendon",
        "shoulder",
        "infraspinatus",
        "hadd",
        (
            Visit(700, 16, DWHN, pain=7),
            Visit(600, 16.5, DWHN, pain=6),
            Visit(420, 16, DWHN, pain=6),
        ),
    ),
    Scenario(
        "HADD: resorbing into bone (rapid_progression, resorptive_bone_involvement)",
        "tendon",
        "shoulder",
        "infraspinatus",
        "hadd",
        (
            Visit(60, 10, DWHN, pain=4),
            Visit(
                12,
                11,
                MIHC,
                features=("intraosseous_extension", "bone_lysis"),
                pain=9,
                note="severe pain, cortical erosion at the footprint",
            ),
        ),
    ),
    Scenario(
        "HADD: regrowth after resorption (unexpected_regrowth)",
        "tendon",
        "shoulder",
        "supraspinatus",
        "hadd",
        (
            Visit(330, 12, DWHN, pain=5),
            Visit(240, 7, MIHC, pain=7),
            Visit(30, 11, DWHN, pain=5),
        ),
    ),
    Scenario(
        "HADD: cross-modality follow-up (lower confidence)",
        "tendon",
        "shoulder",
        "supraspinatus",
        "hadd",
        (
            Visit(170, 10, DWHN),
            Visit(110, 13, DWHN, modality="US"),
            Visit(20, 13.5, DWHN, modality="US"),
        ),
    ),
    Scenario(
        "Periarticular HADD of the hip, resorbing",
        "articular",
        "hip",
        "gluteus medius insertion",
        "hadd_periarticular",
        (
            Visit(150, 9, DWHN, pain=3),
            Visit(60, 6, FIHC, pain=6),
        ),
    ),
    Scenario(
        "HO after trauma: normal zonal maturation",
        "soft_tissue",
        "thigh",
        "vastus lateralis",
        "ho",
        (
            Visit(247, None, {}, note="soft-tissue swelling only"),
            Visit(232, 30, FIHC),
            Visit(
                197,
                40,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "shell",
                },
                features=("zonal_peripheral",),
            ),
            Visit(
                75,
                35,
                {
                    "density": "dense",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "bone",
                },
                features=("bone_organization",),
            ),
        ),
        event_days_ago=266,
    ),
    Scenario(
        "HO with central mineralisation (ho_atypical)",
        "soft_tissue",
        "thigh",
        "rectus femoris",
        "ho",
        (
            Visit(80, 35, MIHC, features=("central_mineralization", "mass_effect")),
            Visit(
                20,
                48,
                {
                    "density": "dense",
                    "margin": "ill_defined",
                    "texture": "heterogeneous",
                    "pattern": "cloud",
                },
                features=("central_mineralization", "mass_effect"),
                note="enlarging, mineral densest centrally",
            ),
        ),
    ),
    Scenario(
        "HO after hip arthroplasty, still immature at 9 months (ho_not_maturing)",
        "soft_tissue",
        "hip",
        "periarticular",
        "ho",
        (
            Visit(270, 15, FIHC),
            Visit(
                180,
                22,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "shell",
                },
                features=("zonal_peripheral",),
            ),
            Visit(
                25,
                23,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "shell",
                },
                features=("zonal_peripheral",),
            ),
        ),
        event_days_ago=300,
    ),
    Scenario(
        "Post-traumatic ossification of the patellar tendon, maturing",
        "tendon",
        "knee",
        "patellar tendon",
        "post_traumatic_ossification",
        (
            Visit(120, 8, FIHC),
            Visit(
                50,
                9,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "shell",
                },
                features=("zonal_peripheral",),
            ),
        ),
        event_days_ago=140,
    ),
    Scenario(
        "Rapidly destructive arthropathy of the hip (rapid_progression)",
        "articular",
        "hip",
        "femoral head",
        "rapidly_destructive_arthropathy",
        (
            Visit(80, 12, MIHC, pain=7),
            Visit(15, 20, MIHC, features=("bone_lysis",), pain=9),
        ),
    ),
    Scenario(
        "Degenerative enthesopathy: stable for years",
        "tendon",
        "knee",
        "patellar insertion",
        "enthesopathy",
        (
            Visit(
                900,
                8,
                {
                    "density": "dense",
                    "margin": "well_defined",
                    "texture": "homogeneous",
                    "pattern": "bone",
                },
            ),
            Visit(
                530,
                9,
                {
                    "density": "dense",
                    "margin": "well_defined",
                    "texture": "homogeneous",
                    "pattern": "bone",
                },
            ),
            Visit(
                120,
                9.5,
                {
                    "density": "dense",
                    "margin": "well_defined",
                    "texture": "homogeneous",
                    "pattern": "bone",
                },
            ),
        ),
    ),
    Scenario(
        "Undiagnosed vascular calcification (suggested: phlebolith)",
        "vascular",
        "forearm",
        "cephalic vein",
        None,
        (
            Visit(
                600,
                4,
                {
                    "density": "dense",
                    "margin": "well_defined",
                    "texture": "homogeneous",
                    "pattern": "central_lucency",
                },
            ),
            Visit(
                250,
                4,
                {
                    "density": "dense",
                    "margin": "well_defined",
                    "texture": "homogeneous",
                    "pattern": "central_lucency",
                },
            ),
        ),
    ),
    Scenario(
        "CPPD of the knee that seems to regress (unexpected for CPPD)",
        "articular",
        "knee",
        "menisci",
        "cppd",
        (
            Visit(
                500,
                20,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "homogeneous",
                    "pattern": "linear",
                },
            ),
            Visit(
                100,
                12,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "homogeneous",
                    "pattern": "linear",
                },
            ),
        ),
    ),
    Scenario(
        "Gouty tophus, not re-imaged (follow_up_overdue)",
        "articular",
        "foot",
        "first metatarsophalangeal joint",
        "gout",
        (
            Visit(
                560,
                14,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "multiloculated",
                },
                features=("mass_effect",),
            ),
            Visit(
                330,
                15,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "multiloculated",
                },
                features=("mass_effect",),
            ),
        ),
    ),
    Scenario(
        "Tumoral calcinosis of the hip",
        "soft_tissue",
        "hip",
        "lateral hip",
        None,
        (
            Visit(
                200,
                45,
                {
                    "density": "dense",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "multiloculated",
                },
                features=("fluid_level",),
                modality="CT",
            ),
            Visit(
                50,
                44,
                {
                    "density": "dense",
                    "margin": "well_defined",
                    "texture": "heterogeneous",
                    "pattern": "multiloculated",
                },
                features=("fluid_level",),
                modality="CT",
            ),
        ),
    ),
    Scenario(
        "Crowned dens on CT",
        "spine",
        "cervical_spine",
        "C1-C2",
        "crowned_dens",
        (
            Visit(
                150,
                6,
                {
                    "density": "moderate",
                    "margin": "well_defined",
                    "texture": "homogeneous",
                    "pattern": "linear",
                },
                modality="CT",
            ),
        ),
    ),
    Scenario(
        "Longus colli calcific tendinitis, resolved",
        "spine",
        "cervical_spine",
        "longus colli",
        "longus_colli_tendinitis",
        (
            Visit(120, 7, MIHC, modality="CT", pain=8, note="odynophagia"),
            Visit(50, None, {}, modality="CT"),
        ),
    ),
    Scenario(
        "HADD on MR: not seen on MR, stage carried",
        "tendon",
        "shoulder",
        "subscapularis",
        "hadd",
        (
            Visit(200, 11, DWHN),
            Visit(120, 11.5, DWHN),
            Visit(30, None, {}, modality="MR"),
        ),
    ),
)

SIDES = ("right", "left")


def _jitter(rng: random.Random, size: float) -> float:
    """Caliper-level noise (0.1 mm steps), far below the 2 mm / 20 % change threshold."""
    return round(max(0.5, size + rng.choice((-0.2, -0.1, 0.0, 0.0, 0.1, 0.2))), 1)


def _observation(v: Visit, anchor: date, rng: random.Random) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "date": (anchor - timedelta(days=v.days_ago)).isoformat(),
        "modality": v.modality,
    }
    if v.size is None:
        obs["visible"] = False
    else:
        obs["size_mm"] = [_jitter(rng, v.size)]
        obs.update(v.morphology)
    if v.features:
        obs["features"] = list(v.features)
    if v.pain is not None:
        obs["pain"] = v.pain
    if v.note is not None:
        obs["note"] = v.note
    return obs


def generate(anchor: date, seed: int = 7, copies: int = 2) -> dict[str, Any]:
    """`copies` patients per scenario (the second with noise), plus a patient with several
    lesions, as a lesion-timeline/1 document. Same anchor and seed, same document."""
    rng = random.Random(seed)
    patients: list[dict[str, Any]] = []
    number = 0
    for _copy in range(copies):
        for sc in SCENARIOS:
            number += 1
            lesion: dict[str, Any] = {
                "id": "L1",
                "site": {
                    "compartment": sc.compartment,
                    "region": sc.region,
                    "structure": sc.structure,
                    "laterality": "midline" if sc.compartment == "spine" else rng.choice(SIDES),
                },
                "observations": [_observation(v, anchor, rng) for v in sc.visits],
            }
            if sc.entity is not None:
                lesion["entity"] = sc.entity
            if sc.event_days_ago is not None:
                lesion["event_date"] = (anchor - timedelta(days=sc.event_days_ago)).isoformat()
            patients.append(
                {
                    "id": f"{DEMO_PREFIX}{number:03d}",
                    "birth_year": anchor.year - rng.randint(28, 78),
                    "sex": rng.choice(("F", "M")),
                    "lesions": [lesion],
                }
            )
    # One patient followed for several lesions, as in a real shoulder clinic.
    multi = patients[0]
    for extra_index, sc_index in enumerate((1, 12, 13), start=2):
        sc = SCENARIOS[sc_index]
        extra: dict[str, Any] = {
            "id": f"L{extra_index}",
            "site": {
                "compartment": sc.compartment,
                "region": sc.region,
                "structure": sc.structure,
                "laterality": rng.choice(SIDES),
            },
            "observations": [_observation(v, anchor, rng) for v in sc.visits],
        }
        if sc.entity is not None:
            extra["entity"] = sc.entity
        multi["lesions"].append(extra)
    return {"format": "lesion-timeline/1", "patients": patients}
