"""§6 Entity suggestion: compartment prior by position plus each matching cue once; top 3.

Reading choices:
- The prior and the tie-break both follow the compartment's suggestion order of vocabulary.md
  (`SUGGESTION_ORDER`; it differs from the entity table for soft tissue and vascular).
- Cues come from the visible observations the caller passes: `infer` passes those dated on or
  before `as_of` (9a.8); region and `event_date` count whatever `as_of`.
- `why` lists the compartment, then the matching cues in the order of §6's table. Empty input
  gives no stages and the compartment's first entity.
"""

from __future__ import annotations

from tracker.engine.confidence import morphology_codes
from tracker.engine.model import LesionFacts, Suggestion
from tracker.vocabulary import Compartment, Entity, Modality, entities_of

# Hundredths (design, from the compartment-based differential of [S1]).
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


def suggestion_cues(lesion: LesionFacts) -> set[str]:
    """Every code seen on a visible finding, plus region, event date and resolved_seen."""
    after = _cues_after_each(lesion)
    return after[-1] if after else _lesion_cues(lesion)


def _lesion_cues(lesion: LesionFacts) -> set[str]:
    cues = {f"region:{lesion.region.value}"}
    if lesion.event_date is not None:
        cues.add("event_date")
    return cues


def _cues_after_each(lesion: LesionFacts) -> list[set[str]]:
    """The cues after each finding in date order, in one pass: a cue, once there, stays."""
    cues = _lesion_cues(lesion)
    out: list[set[str]] = []
    seen = False
    for f in sorted(lesion.findings, key=lambda f: f.date):
        if f.visible:
            seen = True
            cues.update(morphology_codes(f))
        elif seen and f.modality is not Modality.MR:  # 9a.7: MR not-seen is no resolution
            cues.add("resolved_seen")
        out.append(set(cues))
    return out


def suggest_entities(lesion: LesionFacts) -> tuple[Suggestion, ...]:
    """§6: compartment prior by position + each matching cue once; top 3 (design, from [S1])."""
    return _ranked(lesion.compartment, suggestion_cues(lesion))


def suggestions_after_each(lesion: LesionFacts) -> list[tuple[Suggestion, ...]]:
    """`suggest_entities` of each date-ordered prefix of the lesion's findings, in one pass
    over them (model_changed compares the top suggestion before and after each film)."""
    return [_ranked(lesion.compartment, cues) for cues in _cues_after_each(lesion)]


def _ranked(compartment: Compartment, cues: set[str]) -> tuple[Suggestion, ...]:
    scored: list[tuple[int, int, Entity, tuple[str, ...]]] = []
    for position, entity in enumerate(entities_of(compartment)):
        priors = SUGGESTION_PRIOR_BY_POSITION
        prior = priors[position] if position < len(priors) else SUGGESTION_PRIOR_OTHERS
        matched = [(cue, w) for cue, w in SUGGESTION_CUES.get(entity, ()) if cue in cues]
        score = max(0, min(SUGGESTION_SCORE_MAX, prior + sum(w for _, w in matched)))
        why = (compartment.value, *(cue for cue, _ in matched))
        scored.append((-score, position, entity, why))  # ties: suggestion order
    scored.sort(key=lambda t: (t[0], t[1]))
    return tuple(
        Suggestion(entity, -neg / 100, why) for neg, _, entity, why in scored[:SUGGESTIONS_SHOWN]
    )
