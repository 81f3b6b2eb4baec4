"""§6 entity suggestions and the `lesion-assessment/1` per-lesion JSON."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings

from tracker.engine import (
    ENGINE_VERSION,
    Finding,
    LesionFacts,
    assessment_to_json,
    suggestion_cues,
)
from tracker.engine.suggestions import suggest_entities, suggestions_after_each
from tracker.vocabulary import (
    Compartment,
    Density,
    Entity,
    Feature,
    Margin,
    Modality,
    Pattern,
    Region,
)

from .builders import assess, lesion, lesions, not_seen, stages, us, xr
from .morphs import DWHB, DWHN, FIHC, MIHC, Morph


def test_cues_count_once_and_the_score_is_clamped_to_one() -> None:
    a = assess(
        None,
        xr("2024-01-10", 12, DWHN),
        xr("2024-03-10", 10, MIHC, Feature.INTRABURSAL_MIGRATION, Feature.COMET_TAIL),
        xr("2024-05-10", 8, MIHC, Feature.COMET_TAIL),
        not_seen("2024-09-10"),
        compartment=Compartment.TENDON,
        region=Region.SHOULDER,
        as_of="2024-09-10",
    )
    top = a.suggestions[0]
    assert (top.entity, top.score) == (Entity.HADD, 1.0)
    assert top.why == (
        "tendon",
        "nodular",
        "cloud",
        "dense",
        "comet_tail",
        "intrabursal_migration",
        "resolved_seen",
        "region:shoulder",
    )
    assert len(a.suggestions) == 3
    assert stages(a) == ["formative", "resorptive", "resorptive", "resolved"]


def test_not_seen_on_mr_is_no_resolved_cue() -> None:
    """9a.7: MR does not show calcium, so not seeing it there is no resolution."""
    on_mr = lesion(
        None,
        xr("2024-01-10", 12),
        not_seen("2024-03-10", Modality.MR),
        compartment=Compartment.SPINE,
    )
    assert "resolved_seen" not in suggestion_cues(on_mr)
    on_ct = lesion(
        None,
        xr("2024-01-10", 12),
        not_seen("2024-03-10", Modality.CT),
        compartment=Compartment.SPINE,
    )
    assert "resolved_seen" in suggestion_cues(on_ct)


def test_suggestions_use_observations_up_to_as_of_and_are_output_when_given() -> None:
    """9a.8 (revision 2): the later film's bone_organization is not yet known."""
    a = assess(
        Entity.ENTHESOPATHY,
        xr("2024-01-10", 8, DWHB),
        xr("2025-01-10", 8, DWHB, Feature.BONE_ORGANIZATION),
        as_of="2024-02-01",
    )
    assert a.entity_source == "given"
    enthesopathy = next(s for s in a.suggestions if s.entity is Entity.ENTHESOPATHY)
    assert enthesopathy.why == ("tendon", "bone")


def test_event_date_is_a_cue() -> None:
    a = assess(None, xr("2024-03-10", 8, MIHC), compartment=Compartment.ARTICULAR,
               region=Region.KNEE, event="2024-01-10", as_of="2024-03-10")
    post_injection = next(s for s in a.suggestions if s.entity is Entity.POST_INJECTION)
    assert post_injection.why == ("articular", "event_date", "cloud")


def test_json_shape_rounding_and_optional_classifications() -> None:
    a = assess(
        Entity.HADD,
        xr("2024-01-10", 14, DWHN),
        not_seen("2024-09-10"),
        xr("2025-01-10", 18, DWHN),
        as_of="2025-09-01",
    )
    doc = assessment_to_json(a)
    assert list(doc) == [
        "entity",
        "entity_source",
        "suggested_entities",
        "stages",
        "transitions",
        "alerts",
        "next_follow_up",
    ]
    assert doc["entity"] == "hadd" and doc["entity_source"] == "given"
    assert doc["stages"][0] == {
        "date": "2024-01-10",
        "stage": "formative",
        "confidence": 0.5,
        "evidence": ["first observation", "dense", "well_defined", "homogeneous", "nodular"],
        "classifications": {"gartner": "I", "sfa": "A", "bosworth": "medium"},
        "response": None,
    }
    assert "classifications" not in doc["stages"][1]
    assert doc["stages"][1]["resolution"] == "unconfirmed"  # only on resolved stages
    assert [s.get("resolution") for s in doc["stages"]] == [None, "unconfirmed", None]
    assert all(s["response"] is None for s in doc["stages"])  # always present (§7a)
    assert doc["transitions"][0] == {
        "date": "2024-09-10",
        "from": "formative",
        "to": "resolved",
        "evidence": ["not seen once; unconfirmed"],
    }
    assert [x["kind"] for x in doc["alerts"]] == ["unexpected_regrowth", "follow_up_overdue"]
    assert doc["alerts"][0] == {
        "kind": "unexpected_regrowth",
        "severity": "warning",
        "since": "2025-01-10",
        "reason": "deposit regrew after resolved (14.0→18.0 mm)",
        "rule": "hadd.unexpected_regrowth",
    }
    assert doc["next_follow_up"] == "2025-07-10"
    assert all(round(s["score"], 2) == s["score"] for s in doc["suggested_entities"])
    json.dumps(doc)  # plain JSON types only
    assert a.engine_version == ENGINE_VERSION


def test_json_next_follow_up_null() -> None:
    findings = (xr("2024-01-10", 14), not_seen("2024-09-10"), not_seen("2024-10-10"))
    a = assess(Entity.HADD, *findings, as_of="2024-10-10")
    assert assessment_to_json(a)["next_follow_up"] is None  # H2c: absence confirmed


def test_empty_lesion_has_no_stages_but_a_suggested_entity() -> None:
    a = assess(None, compartment=Compartment.VASCULAR, as_of="2024-01-01")
    assert (a.entity, a.stages, a.alerts, a.next_follow_up) == (Entity.PHLEBOLITH, (), (), None)


@pytest.mark.parametrize(
    ("film", "compartment", "region", "ranked"),
    [
        # vocabulary.md lists ho first among soft-tissue entities (prior 0.40), not the entity
        # table's order
        (
            xr("2024-01-10", 20, Morph(Density.FAINT, Margin.ILL_DEFINED, None, None)),
            Compartment.SOFT_TISSUE,
            Region.THIGH,
            [("ho", 0.4), ("tumoral_calcinosis", 0.3), ("metabolic_calcinosis", 0.2)],
        ),
        # faint cloudy thigh calcification, no trauma known: ho's prior ties metabolic
        # calcinosis (0.20 + cloud 0.20); the compartment's order lists ho first (revision 2)
        (
            xr("2024-01-01", 8, FIHC),
            Compartment.SOFT_TISSUE,
            Region.THIGH,
            [("ho", 0.4), ("metabolic_calcinosis", 0.4), ("tumoral_calcinosis", 0.3)],
        ),
        # crowned_dens .40 + .20, longus_colli .30, disc_cppd .20 + .30 + .10 = .60: a tie
        (
            us("2024-01-10", 6, Morph(Density.MODERATE, Margin.WELL_DEFINED, None, Pattern.LINEAR)),
            Compartment.SPINE,
            Region.THORACIC_SPINE,
            [("crowned_dens", 0.6), ("disc_cppd", 0.6), ("longus_colli_tendinitis", 0.3)],
        ),
        # linear along a forearm vessel, texture not recorded: phlebolith's prior (0.40) ties
        # medial calcification (0.10 + linear 0.30); phlebolith comes first in the order
        (
            xr("2024-01-01", 30, Morph(Density.DENSE, Margin.WELL_DEFINED, None, Pattern.LINEAR)),
            Compartment.VASCULAR,
            Region.FOREARM,
            [("arterial_intimal", 0.5), ("phlebolith", 0.4), ("arterial_medial", 0.4)],
        ),
    ],
)
def test_prior_by_compartment_order_and_ties_by_that_order(
    film: Finding, compartment: Compartment, region: Region, ranked: list[tuple[str, float]]
) -> None:
    a = assess(None, film, compartment=compartment, region=region, as_of=film.date)
    assert [(s.entity.value, s.score) for s in a.suggestions] == ranked
    assert (a.entity.value, a.entity_source) == (ranked[0][0], "suggested")


def _cues_by_definition(facts: LesionFacts) -> set[str]:
    """§6's cues, written out here as the rules say them (not through the engine's code):
    the region, every code seen on a visible film, an event date, and resolved_seen once a
    non-MR film no longer shows a deposit an earlier one showed."""
    films = sorted(facts.findings, key=lambda f: f.date)
    cues = {f"region:{facts.region.value}"} | ({"event_date"} if facts.event_date else set())
    for i, f in enumerate(films):
        if f.visible:
            cues |= {c.value for c in (f.density, f.margin, f.texture, f.pattern) if c}
            cues |= {feature.value for feature in f.features}
        elif f.modality is not Modality.MR and any(g.visible for g in films[:i]):
            cues.add("resolved_seen")
    return cues


@settings(max_examples=100, deadline=None)
@given(lesions())
def test_the_cues_after_each_film_are_those_the_rules_give(facts: LesionFacts) -> None:
    """model_changed reads the top suggestion after each film from one pass over the films:
    after each film, the cues are those the rules give for that film and the ones before it,
    and so are the suggestions."""
    ordered = sorted(facts.findings, key=lambda f: f.date)
    prefixes = [replace(facts, findings=tuple(ordered[: i + 1])) for i in range(len(ordered))]
    assert [suggestion_cues(p) for p in prefixes] == [_cues_by_definition(p) for p in prefixes]
    assert suggestions_after_each(facts) == [suggest_entities(p) for p in prefixes]
