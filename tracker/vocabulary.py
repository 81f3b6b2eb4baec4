"""The spec's codes (`shared/spec/vocabulary.md`) as enums and tables.

Standard library only: the engine, the validation models, the database constraints and the web
forms all read their codes from here, so a code exists in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Compartment(StrEnum):
    TENDON = "tendon"
    ARTICULAR = "articular"
    SPINE = "spine"
    SOFT_TISSUE = "soft_tissue"
    VASCULAR = "vascular"


class Region(StrEnum):
    SHOULDER = "shoulder"
    UPPER_ARM = "upper_arm"
    ELBOW = "elbow"
    FOREARM = "forearm"
    WRIST = "wrist"
    HAND = "hand"
    CERVICAL_SPINE = "cervical_spine"
    THORACIC_SPINE = "thoracic_spine"
    LUMBAR_SPINE = "lumbar_spine"
    TRUNK = "trunk"
    NECK = "neck"
    PELVIS = "pelvis"
    HIP = "hip"
    THIGH = "thigh"
    KNEE = "knee"
    LOWER_LEG = "lower_leg"
    ANKLE = "ankle"
    FOOT = "foot"


class Laterality(StrEnum):
    RIGHT = "right"
    LEFT = "left"
    MIDLINE = "midline"


class Sex(StrEnum):
    F = "F"
    M = "M"
    X = "X"


class Modality(StrEnum):
    XR = "XR"
    CT = "CT"
    MR = "MR"
    US = "US"


class Density(StrEnum):
    FAINT = "faint"
    MODERATE = "moderate"
    DENSE = "dense"


class Margin(StrEnum):
    WELL_DEFINED = "well_defined"
    ILL_DEFINED = "ill_defined"


class Texture(StrEnum):
    HOMOGENEOUS = "homogeneous"
    HETEROGENEOUS = "heterogeneous"


class Pattern(StrEnum):
    NODULAR = "nodular"
    CLOUD = "cloud"
    LINEAR = "linear"
    LAYERED = "layered"
    RING_ARC = "ring_arc"
    MULTILOCULATED = "multiloculated"
    SHEET = "sheet"
    CIGAR = "cigar"
    CENTRAL_LUCENCY = "central_lucency"
    SHELL = "shell"
    BONE = "bone"


class Feature(StrEnum):
    """Declared in vocabulary order: evidence lists features in this order."""

    INTRABURSAL_MIGRATION = "intrabursal_migration"
    INTRAOSSEOUS_EXTENSION = "intraosseous_extension"
    BONE_ORGANIZATION = "bone_organization"
    ZONAL_PERIPHERAL = "zonal_peripheral"
    CENTRAL_MINERALIZATION = "central_mineralization"
    MASS_EFFECT = "mass_effect"
    BONE_LYSIS = "bone_lysis"
    FLUID_LEVEL = "fluid_level"
    COMET_TAIL = "comet_tail"


class Family(StrEnum):
    """The stage model an entity follows."""

    HADD = "hadd"
    HO = "ho"
    GENERIC = "generic"


class Course(StrEnum):
    """What a clinician expects of an entity over time."""

    RESOLVES = "resolves"
    PERSISTS = "persists"
    MATURES = "matures"
    PROGRESSES = "progresses"
    VARIABLE = "variable"


class Entity(StrEnum):
    """Declared in vocabulary order (entity table); suggestion order is `SUGGESTION_ORDER`."""

    HADD = "hadd"
    ENTHESOPATHY = "enthesopathy"
    SERONEGATIVE_ENTHESITIS = "seronegative_enthesitis"
    POST_TRAUMATIC_OSSIFICATION = "post_traumatic_ossification"
    CPPD = "cppd"
    HADD_PERIARTICULAR = "hadd_periarticular"
    POST_INJECTION = "post_injection"
    RAPIDLY_DESTRUCTIVE_ARTHROPATHY = "rapidly_destructive_arthropathy"
    GOUT = "gout"
    SYNOVIAL_OSTEOCHONDROMATOSIS = "synovial_osteochondromatosis"
    CROWNED_DENS = "crowned_dens"
    LONGUS_COLLI_TENDINITIS = "longus_colli_tendinitis"
    DISC_CPPD = "disc_cppd"
    DISC_HADD = "disc_hadd"
    FACET_HADD = "facet_hadd"
    TUMORAL_CALCINOSIS = "tumoral_calcinosis"
    METABOLIC_CALCINOSIS = "metabolic_calcinosis"
    CALCINOSIS_CIRCUMSCRIPTA = "calcinosis_circumscripta"
    CALCINOSIS_UNIVERSALIS = "calcinosis_universalis"
    INJECTION_GRANULOMA = "injection_granuloma"
    HO = "ho"
    PARASITIC = "parasitic"
    SOFT_TISSUE_TUMOR = "soft_tissue_tumor"
    ARTERIAL_INTIMAL = "arterial_intimal"
    ARTERIAL_MEDIAL = "arterial_medial"
    PHLEBOLITH = "phlebolith"
    VENOUS_MALFORMATION = "venous_malformation"


@dataclass(frozen=True)
class EntityInfo:
    label: str
    compartment: Compartment
    family: Family
    course: Course


_C, _F, _K = Compartment, Family, Course
ENTITIES: dict[Entity, EntityInfo] = {
    Entity.HADD: EntityInfo(
        "Calcific tendinopathy (hydroxyapatite)", _C.TENDON, _F.HADD, _K.RESOLVES
    ),
    Entity.ENTHESOPATHY: EntityInfo(
        "Degenerative enthesopathy", _C.TENDON, _F.GENERIC, _K.PERSISTS
    ),
    Entity.SERONEGATIVE_ENTHESITIS: EntityInfo(
        "Enthesitis (seronegative spondyloarthropathy)", _C.TENDON, _F.GENERIC, _K.PERSISTS
    ),
    Entity.POST_TRAUMATIC_OSSIFICATION: EntityInfo(
        "Post-traumatic tendon/ligament ossification", _C.TENDON, _F.HO, _K.MATURES
    ),
    Entity.CPPD: EntityInfo(
        "Calcium pyrophosphate deposition (chondrocalcinosis)",
        _C.ARTICULAR,
        _F.GENERIC,
        _K.PERSISTS,
    ),
    Entity.HADD_PERIARTICULAR: EntityInfo(
        "Periarticular hydroxyapatite deposition", _C.ARTICULAR, _F.HADD, _K.RESOLVES
    ),
    Entity.POST_INJECTION: EntityInfo(
        "Post-corticosteroid-injection calcification", _C.ARTICULAR, _F.GENERIC, _K.PERSISTS
    ),
    Entity.RAPIDLY_DESTRUCTIVE_ARTHROPATHY: EntityInfo(
        "Rapidly destructive arthropathy", _C.ARTICULAR, _F.GENERIC, _K.PROGRESSES
    ),
    Entity.GOUT: EntityInfo("Gout (tophus)", _C.ARTICULAR, _F.GENERIC, _K.VARIABLE),
    Entity.SYNOVIAL_OSTEOCHONDROMATOSIS: EntityInfo(
        "Synovial osteochondromatosis", _C.ARTICULAR, _F.GENERIC, _K.PERSISTS
    ),
    Entity.CROWNED_DENS: EntityInfo("Crowned dens", _C.SPINE, _F.GENERIC, _K.VARIABLE),
    Entity.LONGUS_COLLI_TENDINITIS: EntityInfo(
        "Calcific tendinitis of longus colli", _C.SPINE, _F.HADD, _K.RESOLVES
    ),
    Entity.DISC_CPPD: EntityInfo("Intervertebral disc CPPD", _C.SPINE, _F.GENERIC, _K.PERSISTS),
    Entity.DISC_HADD: EntityInfo(
        "Intervertebral disc hydroxyapatite", _C.SPINE, _F.HADD, _K.RESOLVES
    ),
    Entity.FACET_HADD: EntityInfo("Facet joint hydroxyapatite", _C.SPINE, _F.HADD, _K.RESOLVES),
    Entity.TUMORAL_CALCINOSIS: EntityInfo(
        "Tumoral calcinosis", _C.SOFT_TISSUE, _F.GENERIC, _K.VARIABLE
    ),
    Entity.METABOLIC_CALCINOSIS: EntityInfo(
        "Metabolic (secondary) calcinosis", _C.SOFT_TISSUE, _F.GENERIC, _K.VARIABLE
    ),
    Entity.CALCINOSIS_CIRCUMSCRIPTA: EntityInfo(
        "Calcinosis circumscripta (scleroderma)", _C.SOFT_TISSUE, _F.GENERIC, _K.PERSISTS
    ),
    Entity.CALCINOSIS_UNIVERSALIS: EntityInfo(
        "Calcinosis universalis (dermatomyositis)", _C.SOFT_TISSUE, _F.GENERIC, _K.PERSISTS
    ),
    Entity.INJECTION_GRANULOMA: EntityInfo(
        "Injection granuloma", _C.SOFT_TISSUE, _F.GENERIC, _K.PERSISTS
    ),
    Entity.HO: EntityInfo(
        "Heterotopic ossification / myositis ossificans", _C.SOFT_TISSUE, _F.HO, _K.MATURES
    ),
    Entity.PARASITIC: EntityInfo(
        "Parasitic calcification (cysticercosis)", _C.SOFT_TISSUE, _F.GENERIC, _K.PERSISTS
    ),
    Entity.SOFT_TISSUE_TUMOR: EntityInfo(
        "Calcified soft-tissue tumour", _C.SOFT_TISSUE, _F.GENERIC, _K.PROGRESSES
    ),
    Entity.ARTERIAL_INTIMAL: EntityInfo(
        "Arterial intimal calcification", _C.VASCULAR, _F.GENERIC, _K.PERSISTS
    ),
    Entity.ARTERIAL_MEDIAL: EntityInfo(
        "Arterial medial (Mönckeberg) calcification", _C.VASCULAR, _F.GENERIC, _K.PERSISTS
    ),
    Entity.PHLEBOLITH: EntityInfo("Phlebolith", _C.VASCULAR, _F.GENERIC, _K.PERSISTS),
    Entity.VENOUS_MALFORMATION: EntityInfo(
        "Venous malformation", _C.VASCULAR, _F.GENERIC, _K.PERSISTS
    ),
}


# vocabulary.md `compartment` table, "entities that live there (suggestion order)". This order
# differs from the entity table's for soft_tissue (ho first) and vascular (phlebolith first).
SUGGESTION_ORDER: dict[Compartment, tuple[Entity, ...]] = {
    Compartment.TENDON: (
        Entity.HADD,
        Entity.ENTHESOPATHY,
        Entity.SERONEGATIVE_ENTHESITIS,
        Entity.POST_TRAUMATIC_OSSIFICATION,
    ),
    Compartment.ARTICULAR: (
        Entity.CPPD,
        Entity.HADD_PERIARTICULAR,
        Entity.POST_INJECTION,
        Entity.RAPIDLY_DESTRUCTIVE_ARTHROPATHY,
        Entity.GOUT,
        Entity.SYNOVIAL_OSTEOCHONDROMATOSIS,
    ),
    Compartment.SPINE: (
        Entity.CROWNED_DENS,
        Entity.LONGUS_COLLI_TENDINITIS,
        Entity.DISC_CPPD,
        Entity.DISC_HADD,
        Entity.FACET_HADD,
    ),
    Compartment.SOFT_TISSUE: (
        Entity.HO,
        Entity.TUMORAL_CALCINOSIS,
        Entity.METABOLIC_CALCINOSIS,
        Entity.CALCINOSIS_CIRCUMSCRIPTA,
        Entity.CALCINOSIS_UNIVERSALIS,
        Entity.INJECTION_GRANULOMA,
        Entity.PARASITIC,
        Entity.SOFT_TISSUE_TUMOR,
    ),
    Compartment.VASCULAR: (
        Entity.PHLEBOLITH,
        Entity.VENOUS_MALFORMATION,
        Entity.ARTERIAL_INTIMAL,
        Entity.ARTERIAL_MEDIAL,
    ),
}


def entities_of(compartment: Compartment) -> list[Entity]:
    """The compartment's entities in suggestion order (vocabulary.md, compartment table)."""
    return list(SUGGESTION_ORDER[compartment])


class Stage(StrEnum):
    # hadd (Uhthoff)
    PRECALCIFIC = "precalcific"
    FORMATIVE = "formative"
    RESTING = "resting"
    RESORPTIVE = "resorptive"
    POSTCALCIFIC = "postcalcific"
    # ho (zonal maturation)
    HO_EARLY = "ho_early"
    HO_INTERMEDIATE = "ho_intermediate"
    HO_MATURE = "ho_mature"
    # generic
    PROGRESSING = "progressing"
    STABLE = "stable"
    REGRESSING = "regressing"
    # every model
    RESOLVED = "resolved"


class Resolution(StrEnum):
    """How sure a `resolved` stage is (clinical-rules §2.1-§2.3): what a page says beside
    "Resolved", and what `assessments.resolution` holds."""

    CONFIRMED = "confirmed"  # H2c/O2c/G2c: not seen again >= 28 days after the first negative
    EXPECTED = "expected"  # H2a/G2a: gone after resorption (regression), on the same modality
    UNCONFIRMED = "unconfirmed"  # H2b/O2b/G2b: one negative film; §5 looks again in 3 months


# How a `resolved` stage reads with its certainty, beside "Resolved" on every page, the report,
# the API label and `tracker show`; a confirmed one is plain "Resolved".
RESOLUTION_WORDS = {Resolution.EXPECTED.value: "expected",
                    Resolution.UNCONFIRMED.value: "unconfirmed"}


def with_resolution(text: str, stage: str | None, resolution: str | None) -> str:
    """`text` (the stage as shown) with its certainty when the stage is `resolved`:
    "Resolved (unconfirmed)" on the pages, "resolved (unconfirmed)" in `tracker show`."""
    words = RESOLUTION_WORDS.get(resolution or "")
    return f"{text} ({words})" if stage == Stage.RESOLVED.value and words else text

STAGES_OF: dict[Family, tuple[Stage, ...]] = {
    Family.HADD: (
        Stage.PRECALCIFIC,
        Stage.FORMATIVE,
        Stage.RESTING,
        Stage.RESORPTIVE,
        Stage.POSTCALCIFIC,
        Stage.RESOLVED,
    ),
    Family.HO: (Stage.HO_EARLY, Stage.HO_INTERMEDIATE, Stage.HO_MATURE, Stage.RESOLVED),
    Family.GENERIC: (Stage.PROGRESSING, Stage.STABLE, Stage.REGRESSING, Stage.RESOLVED),
}


class AlertKind(StrEnum):
    NO_RESOLUTION = "no_resolution"
    HO_NOT_MATURING = "ho_not_maturing"
    HO_ATYPICAL = "ho_atypical"
    RAPID_PROGRESSION = "rapid_progression"
    UNEXPECTED_REGROWTH = "unexpected_regrowth"
    RESORPTIVE_BONE_INVOLVEMENT = "resorptive_bone_involvement"
    FOLLOW_UP_OVERDUE = "follow_up_overdue"
    NO_TREATMENT_RESPONSE = "no_treatment_response"
    UNEXPLAINED_MASS = "unexplained_mass"
    MODEL_CHANGED = "model_changed"


class EventKind(StrEnum):
    """What started a lesion (lesion `event_kind`, only together with `event_date`)."""

    TRAUMA = "trauma"
    SURGERY = "surgery"
    ARTHROPLASTY = "arthroplasty"
    NEUROLOGIC = "neurologic"
    BURN = "burn"
    INJECTION = "injection"


class TreatmentKind(StrEnum):
    """Declared in vocabulary order: export sorts treatments of one date, and evidence lists
    the kinds of one date, in this order."""

    LAVAGE = "lavage"
    ESWT = "eswt"
    INJECTION = "injection"
    SURGERY = "surgery"
    RADIOTHERAPY = "radiotherapy"
    NSAID = "nsaid"


class ResponseCategory(StrEnum):
    """`stages[].response.category` (clinical-rules §7a)."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    STABLE = "stable"
    PROGRESSION = "progression"


class Severity(StrEnum):
    """Declared from most to least urgent: sorting uses this order."""

    URGENT = "urgent"
    WARNING = "warning"
    INFO = "info"


SEVERITY_RANK: dict[Severity, int] = {s: i for i, s in enumerate(Severity)}


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    CLEARED = "cleared"


def snooze_over(until: Any, today: Any) -> Any:
    """A snooze until D is over on D: the alert is back on the worklist and in the header's
    counts that day, and that day's scan reopens it (so the patient list counts it too). Works
    on dates and on SQL columns alike."""
    return until <= today


class Role(StrEnum):
    CLINICIAN = "clinician"
    RADIOLOGIST = "radiologist"
    ADMIN = "admin"


# Which list each coded field of lesion-timeline/1 takes (`features` holds a list of them); a
# stored column of the same name holds the same codes. One owner for the validation messages
# and the database's CHECK constraints.
TIMELINE_CODES: dict[str, type[StrEnum]] = {
    "compartment": Compartment,
    "region": Region,
    "laterality": Laterality,
    "entity": Entity,
    "modality": Modality,
    "density": Density,
    "margin": Margin,
    "texture": Texture,
    "pattern": Pattern,
    "features": Feature,
    "sex": Sex,
    "event_kind": EventKind,
    "kind": TreatmentKind,
}


LABELS: dict[str, str] = {
    # compartments
    "tendon": "Tendon and enthesis",
    "articular": "Joint and periarticular",
    "spine": "Spine",
    "soft_tissue": "Soft tissue and muscle",
    "vascular": "Vascular",
    # patterns
    "nodular": "Nodular / oval deposit",
    "cloud": "Fluffy, cloud-like",
    "linear": "Linear",
    "layered": "Layered / stratified",
    "ring_arc": "Rings and arcs (chondroid)",
    "multiloculated": "Multiloculated, lobulated",
    "sheet": "Sheet-like",
    "cigar": "Cigar-shaped, elongated along muscle fibres",
    "central_lucency": "Round with central lucency",
    "shell": "Thin shell / rim",
    "bone": "Organised bone (cortex and medulla)",
    # features
    "intrabursal_migration": "Migration into the bursa (crescent)",
    "intraosseous_extension": "Extension into / erosion of adjacent bone",
    "bone_organization": "Trabecular / corticomedullary organisation",
    "zonal_peripheral": "Zonal pattern, mature periphery",
    "central_mineralization": "Mineralisation denser at the centre than the periphery",
    "mass_effect": "Soft-tissue mass effect",
    "bone_lysis": "Lysis of adjacent bone",
    "fluid_level": "Fluid-calcium level (sedimentation)",
    "comet_tail": "Comet-tail extension",
    # modalities
    "XR": "Radiograph",
    "CT": "CT",
    "MR": "MR",
    "US": "Ultrasound",
}
LABELS.update(
    {
        # stages and alert kinds whose plain spelling would hide an abbreviation
        "ho_early": "HO early",
        "ho_intermediate": "HO intermediate",
        "ho_mature": "HO mature",
        "precalcific": "Pre-calcific",
        "postcalcific": "Post-calcific",
        "ho_not_maturing": "HO not maturing",
        "ho_atypical": "HO atypical",
        "follow_up_overdue": "Follow-up overdue",
        "no_treatment_response": "No response to treatment",
        "unexplained_mass": "Unexplained soft-tissue mass",
        "model_changed": "Stage model changed",
        # response categories (clinical-rules §7a)
        "complete": "Complete response",
        "partial": "Partial response",
        "progression": "Progression",
        # classifications (clinical-rules §7), also the cohort's strata
        "gartner": "Gärtner type",
        "sfa": "SFA",
        "bosworth": "Bosworth class",
    }
)
# Codes shared by two lists (`injection`, `surgery`) get their label by list, not from LABELS.
EVENT_KIND_LABELS: dict[EventKind, str] = {
    EventKind.TRAUMA: "Trauma (contusion, fracture, muscle tear)",
    EventKind.SURGERY: "Surgery other than arthroplasty",
    EventKind.ARTHROPLASTY: "Joint arthroplasty",
    EventKind.NEUROLOGIC: "Neurologic injury (spinal cord, brain)",
    EventKind.BURN: "Burn",
    EventKind.INJECTION: "Injection (corticosteroid, intramuscular)",
}
TREATMENT_KIND_LABELS: dict[TreatmentKind, str] = {
    TreatmentKind.LAVAGE: "US-guided needling / lavage (barbotage)",
    TreatmentKind.ESWT: "Extracorporeal shock-wave therapy",
    TreatmentKind.INJECTION: "Corticosteroid injection",
    TreatmentKind.SURGERY: "Surgical excision or arthroscopic removal",
    TreatmentKind.RADIOTHERAPY: "Radiotherapy (HO prophylaxis)",
    TreatmentKind.NSAID: "NSAID course (HO prophylaxis)",
}
LABELS.update({e.value: info.label for e, info in ENTITIES.items()})
LABELS.update({r.value: r.value.replace("_", " ").capitalize() for r in Region})

# SNOMED CT body structure of each region (vocabulary.md): what the FHIR and DICOM SR interfaces
# emit and accept. The one table of these codes.
REGION_SNOMED: dict[Region, str] = {
    Region.SHOULDER: "16982005",
    Region.UPPER_ARM: "40983000",
    Region.ELBOW: "127949000",
    Region.FOREARM: "14975008",
    Region.WRIST: "8205005",
    Region.HAND: "85562004",
    Region.CERVICAL_SPINE: "122494005",
    Region.THORACIC_SPINE: "122495006",
    Region.LUMBAR_SPINE: "122496007",
    Region.TRUNK: "22943007",
    Region.NECK: "45048000",
    Region.PELVIS: "12921003",
    Region.HIP: "29836001",
    Region.THIGH: "68367000",
    Region.KNEE: "72696002",
    Region.LOWER_LEG: "30021000",
    Region.ANKLE: "344001",
    Region.FOOT: "56459004",
}


# Regions of the spine compartment, and the axial regions where `midline` is a laterality
# (elsewhere a deposit is right or left).
SPINE_REGIONS = (Region.CERVICAL_SPINE, Region.THORACIC_SPINE, Region.LUMBAR_SPINE)
AXIAL_REGIONS = (*SPINE_REGIONS, Region.NECK, Region.TRUNK, Region.PELVIS)

# vocabulary.md "Laterality": midline has no SNOMED CT qualifier.
LATERALITY_SNOMED: dict[Laterality, str] = {
    Laterality.RIGHT: "24028007",
    Laterality.LEFT: "7771000",
}


def label(code: str | None) -> str:
    """What the web layer shows for a code; the code itself where no label is defined."""
    if code is None:
        return ""
    return LABELS.get(code, code.replace("_", " "))
