"""§7a treatment response (`stages[].response`) and the `"N days after {kind}"` evidence note."""

from __future__ import annotations

import json
import math

from tracker.engine import assessment_to_json
from tracker.vocabulary import Entity, Modality, ResponseCategory, TreatmentKind

from .builders import D, assess, not_seen, treated, us, xr
from .morphs import DWHN, MIHC

HADD, GOUT = Entity.HADD, Entity.GOUT
LAVAGE, NSAID = TreatmentKind.LAVAGE, TreatmentKind.NSAID


def test_untreated_lesion_has_no_response() -> None:
    a = assess(HADD, xr("2024-01-10", 10), xr("2024-04-10", 6, MIHC), as_of="2024-05-01")
    assert [s.response for s in a.stages] == [None, None]


def test_treatment_on_the_films_date_counts_as_after_it_partial_response() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 10, DWHN),
        xr("2024-04-10", 6, MIHC),
        treatments=(treated("2024-01-10", LAVAGE),),
        as_of="2024-05-01",
    )
    assert a.stages[0].response is None  # the lavage is not before this film
    r = a.stages[1].response
    assert r is not None
    assert (r.baseline, r.change_pct, r.nadir_change_pct) == (D("2024-01-10"), -40.0, -40.0)
    assert r.category is ResponseCategory.PARTIAL
    assert "91 days after lavage" in a.stages[1].evidence


def test_not_seen_after_treatment_is_complete_on_xr_but_null_on_mr_or_another_modality() -> None:
    base = (xr("2024-01-10", 10), xr("2024-02-01", 10))
    lavage = (treated("2024-02-05", LAVAGE),)
    gone = assess(HADD, *base, not_seen("2024-05-06"), treatments=lavage, as_of="2024-06-01")
    r = gone.stages[-1].response
    assert r is not None and r.category is ResponseCategory.COMPLETE
    assert (r.baseline, r.change_pct, r.nadir_change_pct) == (D("2024-02-01"), -100.0, -100.0)
    on_mr = assess(
        HADD, *base, not_seen("2024-05-06", Modality.MR), treatments=lavage, as_of="2024-06-01"
    )
    assert on_mr.stages[-1].response is None
    on_us = assess(HADD, *base, us("2024-05-06", 4), treatments=lavage, as_of="2024-06-01")
    assert on_us.stages[-1].response is None  # §7a: one modality


def test_progression_needs_20_percent_and_2_mm_over_the_nadir() -> None:
    findings = (xr("2024-01-10", 10), xr("2024-04-10", 5), xr("2024-06-10", 6.5))
    lavage = (treated("2024-01-20", LAVAGE),)
    a = assess(GOUT, *findings, treatments=lavage, as_of="2024-07-01")
    r = a.stages[2].response
    assert r is not None
    assert (r.change_pct, r.nadir_change_pct) == (-35.0, 30.0)
    assert r.category is ResponseCategory.PARTIAL  # +30 % but only 1.5 mm over the nadir
    grown = assess(
        GOUT, *findings[:2], xr("2024-06-10", 7.5), treatments=lavage, as_of="2024-07-01"
    )
    r = grown.stages[2].response
    assert r is not None and r.category is ResponseCategory.PROGRESSION
    assert (r.change_pct, r.nadir_change_pct) == (-25.0, 50.0)


def test_percentages_round_half_away_from_zero_and_zero_is_not_negative() -> None:
    lavage = (treated("2024-01-20", LAVAGE),)
    a = assess(
        HADD, xr("2024-01-15", 16), xr("2024-04-29", 13), treatments=lavage, as_of="2024-05-01"
    )
    r = a.stages[1].response
    assert r is not None and r.change_pct == -18.8  # -18.75
    same = assess(
        HADD, xr("2024-01-15", 10), xr("2024-04-29", 10), treatments=lavage, as_of="2024-05-01"
    )
    r = same.stages[1].response
    assert r is not None and r.category is ResponseCategory.STABLE
    assert math.copysign(1.0, r.change_pct) == 1.0
    doc = assessment_to_json(same)
    assert json.dumps(doc["stages"][1]["response"]) == (
        '{"baseline": "2024-01-15", "change_pct": 0.0, "nadir_change_pct": 0.0, '
        '"category": "stable"}'
    )
    assert doc["stages"][0]["response"] is None


def test_no_baseline_when_nothing_was_seen_before_the_treatment() -> None:
    a = assess(
        HADD,
        not_seen("2024-01-01"),
        xr("2024-03-01", 10),
        treatments=(treated("2024-01-05", LAVAGE),),
        as_of="2024-04-01",
    )
    assert [s.response for s in a.stages] == [None, None]
    assert "56 days after lavage" in a.stages[1].evidence  # context all the same


def test_evidence_names_every_kind_of_the_latest_treatment_date_in_vocabulary_order() -> None:
    a = assess(
        Entity.HO,
        xr("2024-01-10", 20, MIHC),
        xr("2024-03-10", 22, MIHC),
        treatments=(
            treated("2024-01-15", TreatmentKind.SURGERY),
            treated("2024-01-20", NSAID),
            treated("2024-01-20", TreatmentKind.RADIOTHERAPY),
        ),
        as_of="2024-04-01",
    )
    context = [e for e in a.stages[1].evidence if "days after" in e]
    assert context == ["50 days after radiotherapy", "50 days after nsaid"]
    assert a.stages[1].stage.value == "ho_early"  # treatments never change stages
