"""Every number of `clinical-rules.md`, in one place, each with the rule id that uses it.

Standard library and `tracker.vocabulary` only. Sizes and fractions are `Decimal` because the rules
compare exact decimals; confidences and scores are integer hundredths because the rules sum them
in hundredths. Citations ([S#]) and **design** notes are those of the spec.
"""

from __future__ import annotations

from decimal import Decimal

from tracker.vocabulary import Course, Entity, Stage

# §1 size comparison: a change must clear both the absolute and the relative floor.
# RECIST 1.1 [S12], CT measurement spread [S11]; 2 mm floor design; cross-modality doubled (design).
SIZE_CHANGE_MM = Decimal("2")
SIZE_CHANGE_FRACTION = Decimal("0.20")
XMOD_SIZE_CHANGE_MM = Decimal("4")
XMOD_SIZE_CHANGE_FRACTION = Decimal("0.40")

# §2.1 H6 / H11: a post-calcific residue is at most 5 mm (design; Bosworth small/medium, 9a.11).
POSTCALCIFIC_MAX_MM = Decimal("5")

# §2.1-2.3 base confidence per rule row, in hundredths.
STAGE_BASE: dict[str, int] = {
    "H1": 20,  # MR not seen, carried
    "H2": 80,
    "H3": 30,
    "H4": 60,
    "H5": 60,
    "H6": 70,
    "H7": 60,
    "H8": 75,
    "H8.after_resorption": 60,  # H8 with prev(o) resorptive/postcalcific
    "H9": 50,
    "H10": 70,
    "H11": 70,
    "H12": 60,
    "O1": 20,
    "O2": 70,
    "O3": 30,
    "O4": 80,
    "O5": 70,
    "O6": 55,
    "O7": 60,
    "G1": 20,
    "G2": 80,
    "G3": 20,
    "G4": 40,
    "G5": 75,
    "G6": 75,
    "G7": 75,
}
H5_FURTHER_SIGN_GROUP = 10  # H5: +0.10 per further group of M, F, D present

# §2.2 HO stage windows after the event [S13][S14] (overlapping on purpose, design).
HO_EARLY_BEFORE_DAYS = 8 * 7  # early: t < 8 weeks
HO_INTERMEDIATE_FROM_DAYS = 4 * 7  # intermediate: t >= 4 weeks ...
HO_INTERMEDIATE_UNTIL_MONTHS = 6  # ... and date <= add_months(event_date, 6)
HO_MATURE_FROM_DAYS = 12 * 7  # mature: t >= 12 weeks
HO_WINDOW_TERM = 10  # +0.10 inside the window, -0.10 outside

# §3 confidence modifiers (design), hundredths.
XMOD_PENALTY = 15
GAP_MONTHS = 12  # o.date > add_months(prev(o).date, 12): stages may have been missed
GAP_PENALTY = 10
MISSING_TEXTURE_OR_PATTERN_PENALTY = 5
COURSE_MISMATCH_PENALTY = 15
CONFIDENCE_MIN = 5
CONFIDENCE_MAX = 95

# §4 alerts.
HADD_NO_RESOLUTION_MONTHS = 6  # hadd.no_resolution [S9][S10][S3]
HO_NOT_MATURING_MONTHS = 6  # ho.not_maturing: earliest usual maturity [S15]
RAPID_PROGRESSION_MONTHS = 3  # any.rapid_progression [S1][S19]-[S22]
RAPID_GROWTH_MM = Decimal("2")
RAPID_GROWTH_FRACTION = Decimal("0.50")  # design: far beyond the 20 % noise band
XMOD_RAPID_GROWTH_MM = Decimal("4")
XMOD_RAPID_GROWTH_FRACTION = Decimal("1.00")

# §5 next_follow_up, months after the latest observation (None: no follow-up).
HADD_FOLLOW_UP_MONTHS: dict[Stage, int | None] = {
    Stage.PRECALCIFIC: None,
    Stage.FORMATIVE: 6,  # matches the no-resolution threshold
    Stage.RESTING: 6,
    Stage.RESORPTIVE: 3,  # most resorbing deposits have halved or gone by then [S4]
    Stage.POSTCALCIFIC: 12,  # none if prev(o) was already postcalcific
    Stage.RESOLVED: None,
}
HO_EARLY_FOLLOW_UP_WEEKS = 6  # sees the zoning due at 5-8 weeks [S13][S14]
HO_EARLY_NEVER_SEEN_GIVE_UP_DAYS = 8 * 7  # never seen and t >= 8 weeks: no follow-up
HO_FOLLOW_UP_MONTHS: dict[Stage, int | None] = {
    Stage.HO_INTERMEDIATE: 3,
    Stage.HO_MATURE: None,
    Stage.RESOLVED: None,
}
GENERIC_FOLLOW_UP_MONTHS: dict[Course, dict[Stage, int | None]] = {
    Course.PERSISTS: {
        Stage.STABLE: None,
        Stage.RESOLVED: None,
        Stage.PROGRESSING: 12,
        Stage.REGRESSING: 6,
    },
    Course.VARIABLE: {
        Stage.STABLE: 6,
        Stage.REGRESSING: 6,
        Stage.PROGRESSING: 3,
        Stage.RESOLVED: None,
    },
    Course.PROGRESSES: {
        Stage.STABLE: 3,
        Stage.REGRESSING: 3,
        Stage.PROGRESSING: 3,
        Stage.RESOLVED: None,
    },
}
URGENT_CAP_MONTHS = 1  # an open urgent alert: image again within a month (9a.2)

# §6 entity suggestion, hundredths (design, from the compartment-based differential of [S1]).
SUGGESTION_PRIOR_BY_POSITION = (40, 30, 20)
SUGGESTION_PRIOR_OTHERS = 10
SUGGESTION_SCORE_MAX = 100
SUGGESTIONS_SHOWN = 3
SUGGESTION_CUES: dict[Entity, tuple[tuple[str, int], ...]] = {
    # tendon
    Entity.HADD: (
        ("nodular", 30),
        ("cloud", 30),
        ("dense", 10),
        ("comet_tail", 20),
        ("intrabursal_migration", 30),
        ("resolved_seen", 20),
        ("region:shoulder", 10),
    ),
    Entity.ENTHESOPATHY: (("bone", 30), ("bone_organization", 20), ("linear", 20)),
    Entity.SERONEGATIVE_ENTHESITIS: (("bone_lysis", 30), ("ill_defined", 10), ("bone", 10)),
    Entity.POST_TRAUMATIC_OSSIFICATION: (
        ("event_date", 30),
        ("zonal_peripheral", 20),
        ("bone_organization", 10),
        ("bone", 10),
    ),
    # articular
    Entity.CPPD: (("linear", 40), ("layered", 40)),
    Entity.HADD_PERIARTICULAR: (
        ("nodular", 30),
        ("cloud", 30),
        ("dense", 10),
        ("comet_tail", 20),
        ("resolved_seen", 20),
    ),
    Entity.POST_INJECTION: (("event_date", 30), ("cloud", 10)),
    Entity.RAPIDLY_DESTRUCTIVE_ARTHROPATHY: (
        ("bone_lysis", 50),
        ("region:hip", 10),
        ("region:shoulder", 10),
    ),
    Entity.GOUT: (
        ("mass_effect", 20),
        ("bone_lysis", 20),
        ("moderate", 10),
        ("region:foot", 20),
        ("region:hand", 20),
    ),
    Entity.SYNOVIAL_OSTEOCHONDROMATOSIS: (("ring_arc", 40), ("multiloculated", 20)),
    # spine
    Entity.CROWNED_DENS: (("linear", 20), ("region:cervical_spine", 10)),
    Entity.LONGUS_COLLI_TENDINITIS: (
        ("region:cervical_spine", 10),
        ("nodular", 20),
        ("cloud", 20),
        ("mass_effect", 20),
    ),
    Entity.DISC_CPPD: (
        ("linear", 30),
        ("layered", 30),
        ("region:thoracic_spine", 10),
        ("region:lumbar_spine", 10),
    ),
    Entity.DISC_HADD: (("nodular", 20), ("cloud", 20), ("resolved_seen", 30)),
    Entity.FACET_HADD: (("nodular", 20), ("cloud", 20)),
    # soft_tissue
    Entity.HO: (
        ("zonal_peripheral", 40),
        ("bone_organization", 20),
        ("bone", 20),
        ("shell", 20),
        ("event_date", 20),
    ),
    Entity.TUMORAL_CALCINOSIS: (("multiloculated", 30), ("fluid_level", 40), ("dense", 10)),
    Entity.METABOLIC_CALCINOSIS: (("multiloculated", 20), ("fluid_level", 20), ("cloud", 20)),
    Entity.CALCINOSIS_CIRCUMSCRIPTA: (("nodular", 20), ("region:hand", 30)),
    Entity.CALCINOSIS_UNIVERSALIS: (("sheet", 50),),
    Entity.INJECTION_GRANULOMA: (("region:pelvis", 20), ("shell", 10), ("central_lucency", 10)),
    Entity.PARASITIC: (("cigar", 60),),
    Entity.SOFT_TISSUE_TUMOR: (
        ("central_mineralization", 50),
        ("mass_effect", 20),
        ("bone_lysis", 10),
    ),
    # vascular
    Entity.PHLEBOLITH: (("central_lucency", 50),),
    Entity.VENOUS_MALFORMATION: (
        ("central_lucency", 20),
        ("mass_effect", 20),
        ("multiloculated", 10),
    ),
    Entity.ARTERIAL_INTIMAL: (("linear", 30), ("heterogeneous", 20)),
    Entity.ARTERIAL_MEDIAL: (("linear", 30), ("homogeneous", 20)),
}

# §7 Bosworth [S7][S5]: small L < 5, medium 5-15, large L > 15 mm.
BOSWORTH_SMALL_BELOW_MM = Decimal("5")
BOSWORTH_LARGE_ABOVE_MM = Decimal("15")
