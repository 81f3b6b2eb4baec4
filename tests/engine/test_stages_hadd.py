"""§2.1 HADD (Uhthoff cycle), row by row, as small shoulder vignettes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracker.engine import Resolution
from tracker.vocabulary import Entity, Feature, Modality

from .builders import D, alert, alert_kinds, assess, confidences, mr, not_seen, stages, us, xr
from .morphs import DWHN, FIHC, MIHC, MWHN

HADD = Entity.HADD


def test_h1_not_seen_on_mr_carries_the_previous_stage() -> None:
    """MR is insensitive to calcium: a deposit 'not seen' on MR is not resolved [S1]."""
    a = assess(
        HADD,
        xr("2024-01-10", 12),
        xr("2024-03-10", 12),
        not_seen("2024-05-10", Modality.MR),
        as_of="2024-05-10",
    )
    assert stages(a) == ["formative", "resting", "resting"]
    assert a.stages[2].confidence == 0.20
    assert a.stages[2].evidence == ("not seen on MR (insensitive to calcification); stage carried",)
    assert a.stages[2].rule == "H1"
    assert len(a.transitions) == 1
    assert a.next_follow_up == D("2024-11-10")  # resting +6 months, from the carried stage


def test_h2b_one_negative_film_is_an_unconfirmed_resolution() -> None:
    a = assess(HADD, xr("2024-01-10", 12), not_seen("2024-07-10", Modality.US), as_of="2024-08-01")
    assert stages(a) == ["formative", "resolved"]
    assert a.stages[1].rule == "H2b"
    assert a.stages[1].confidence == 0.50
    assert a.stages[1].evidence == ("not seen once; unconfirmed",)
    assert a.stages[1].resolution is Resolution.UNCONFIRMED
    assert a.stages[0].resolution is None
    assert a.next_follow_up == D("2024-10-10")  # §5: H2b +3 months


def test_h2c_second_negative_28_days_later_confirms() -> None:
    base = (xr("2024-01-10", 12), not_seen("2024-07-10"))
    a = assess(HADD, *base, not_seen("2024-08-07"), as_of="2024-09-01")
    assert [s.rule for s in a.stages] == ["H9", "H2b", "H2c"]
    assert confidences(a) == [0.50, 0.50, 0.90]
    assert a.stages[2].evidence == ("absence confirmed (not seen since 2024-07-10)",)
    assert a.stages[2].resolution is Resolution.CONFIRMED
    assert a.next_follow_up is None
    day_early = assess(HADD, *base, not_seen("2024-08-06"), as_of="2024-09-01")
    assert [s.rule for s in day_early.stages][-1] == "H2r"


def test_h2c_is_not_reached_through_mr() -> None:
    """MR negatives are carried (H1): they neither start nor confirm an absence."""
    a = assess(
        HADD,
        xr("2024-01-10", 12),
        not_seen("2024-03-10", Modality.MR),
        not_seen("2024-05-10"),
        not_seen("2024-06-10", Modality.MR),
        as_of="2024-07-01",
    )
    assert [s.rule for s in a.stages] == ["H9", "H1", "H2b", "H1"]
    assert a.stages[3].resolution is Resolution.UNCONFIRMED  # carried with the stage
    assert a.next_follow_up == D("2024-08-10")  # carried: n's §5 date


@pytest.mark.parametrize(
    ("films", "negatives", "confidence"),
    [
        # 9a.25: a second negative 27 days after an H2a one: 0.75, no date
        (("2024-01-10", "2024-04-10"), ("2024-07-10", "2024-08-06"), 0.75),
        # revision 3 (V29): H2a 0.75 - 0.10 (14 months since the film) = 0.65, and H2r keeps
        # 0.65: n's final confidence, no modifier of its own
        (("2022-01-10", "2022-04-10"), ("2023-06-01", "2023-06-15"), 0.65),
    ],
)
def test_h2r_carries_n_final_confidence_and_no_date_after_h2a(
    films: tuple[str, str], negatives: tuple[str, str], confidence: float
) -> None:
    a = assess(
        HADD,
        xr(films[0], 12),
        xr(films[1], 7, MIHC),
        *(not_seen(d) for d in negatives),
        as_of=D(negatives[1]) + timedelta(days=14),
    )
    assert [s.rule for s in a.stages] == ["H9", "H5", "H2a", "H2r"]
    assert confidences(a)[2:] == [confidence, confidence]
    assert a.stages[3].evidence == ("not seen again (< 28 days)",)
    assert [s.resolution for s in a.stages[2:]] == [Resolution.EXPECTED] * 2
    assert a.next_follow_up is None


def test_h2r_after_h2b_and_a_carried_mr_keeps_n_confidence_status_and_date() -> None:
    """9a.25: an unconfirmed n after a 13-month gap (0.40); MR between; a second film 20 days
    after n: 0.40, unconfirmed, n's §5 date."""
    a = assess(
        HADD,
        xr("2023-01-10", 12),
        not_seen("2024-02-12"),
        not_seen("2024-02-20", Modality.MR),
        not_seen("2024-03-03", Modality.US),
        as_of="2024-03-10",
    )
    assert [s.rule for s in a.stages] == ["H9", "H2b", "H1", "H2r"]
    assert confidences(a) == [0.50, 0.40, 0.20, 0.40]
    assert a.stages[3].resolution is Resolution.UNCONFIRMED
    assert a.stages[3].evidence == ("not seen again (< 28 days)",)
    assert a.next_follow_up == D("2024-05-12")


def test_h2a_needs_the_same_modality_as_the_last_film() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 12),
        xr("2024-04-10", 7, MIHC),
        not_seen("2024-07-10", Modality.US),
        as_of="2024-08-01",
    )
    assert a.stages[2].rule == "H2b"
    assert a.next_follow_up == D("2024-10-10")


def test_h3_only_invisible_observations_are_precalcific() -> None:
    a = assess(
        HADD,
        not_seen("2024-01-10"),
        not_seen("2024-02-10", Modality.MR),
        as_of="2024-12-31",
    )
    assert stages(a) == ["precalcific", "precalcific"]
    assert confidences(a) == [0.30, 0.30]  # MR with nothing seen before is H3, not H1
    assert a.alerts == ()
    assert a.next_follow_up is None
    assert a.transitions == ()


def test_h4_deposit_grown_back_after_an_unconfirmed_resolution_is_a_recurrence() -> None:
    a = assess(
        HADD,
        xr("2023-01-10", 9),
        not_seen("2023-07-10"),
        xr("2024-01-10", 12, MIHC),
        as_of="2024-02-01",
    )
    assert stages(a) == ["formative", "resolved", "formative"]
    assert a.stages[2].confidence == 0.60
    assert a.stages[2].rule == "H4"  # first matching row wins over H5's resorptive signs
    assert a.transitions[-1].unexpected
    assert "unexpected: resolved→formative" in a.transitions[-1].evidence
    regrowth = alert(a, "unexpected_regrowth")
    assert regrowth.reason == "deposit regrew after resolved (9.0→12.0 mm)"  # 9a.21


def test_h4b_deposit_seen_again_no_larger_was_missed_by_the_negative_film() -> None:
    """9a.26: staged by H5-H12 reading ref(o) for prev(o), -0.10, no regrowth alert."""
    a = assess(
        HADD,
        xr("2023-01-10", 9),
        not_seen("2023-07-10"),
        xr("2024-01-10", 6, MIHC),
        as_of="2024-02-01",
    )
    assert stages(a) == ["formative", "resolved", "resorptive"]
    assert a.stages[2].rule == "H4b"
    assert a.stages[2].confidence == 0.60  # H5 with M + D = 0.70, - 0.10
    assert a.stages[2].evidence[-1] == (
        "seen again, no larger: earlier negative probably a missed projection"
    )
    assert not a.transitions[-1].unexpected
    assert a.alerts == ()
    assert a.next_follow_up == D("2024-04-10")  # resorptive +3 months


def test_h4b_reads_the_run_before_the_negative_for_h10_and_restarts_no_resolution() -> None:
    a = assess(
        HADD,
        xr("2024-01-08", 12),
        xr("2024-04-08", 12.5),
        not_seen("2024-07-08"),
        xr("2024-08-19", 11.5),
        as_of="2025-03-01",
    )
    assert stages(a) == ["formative", "resting", "resolved", "resting"]
    assert confidences(a)[3] == 0.60  # H10 0.70 - 0.10
    # 9a.26: the no-resolution run restarts at the H4b film (prev is resolved), so 6 months
    # from 2024-08-19 are not yet up by its own observation: no alert, only an overdue date.
    assert [x.kind.value for x in a.alerts] == ["follow_up_overdue"]


def test_h4b_not_after_a_confirmed_absence() -> None:
    a = assess(
        HADD,
        xr("2024-01-08", 12),
        not_seen("2024-03-08"),
        not_seen("2024-04-08", Modality.MR),
        not_seen("2024-05-08"),
        xr("2024-06-08", 11),
        as_of="2024-07-01",
    )
    assert [s.rule for s in a.stages] == ["H9", "H2b", "H1", "H2c", "H4"]


def test_h4b_after_an_expected_resolution_too() -> None:
    """9a.26: unconfirmed means no H2c since ref(o); an H2a one is not confirmed either."""
    a = assess(
        HADD,
        xr("2024-01-10", 12),
        xr("2024-04-10", 7, MIHC),
        not_seen("2024-07-10"),
        xr("2024-09-10", 6.5, MIHC),
        as_of="2024-09-10",
    )
    assert [s.rule for s in a.stages] == ["H9", "H5", "H2a", "H4b"]
    assert a.stages[3].confidence == 0.50  # H5, M only (no run peak before ref): 0.60 - 0.10
    assert a.alerts == ()


def test_h4b_growth_is_read_against_ref_with_cross_modality_thresholds() -> None:
    """10 mm on XR, 13 mm on US after a negative: +30 % is within the 40 % tolerance."""
    films = (xr("2024-01-10", 10), xr("2024-03-10", 10), not_seen("2024-06-10"))
    a = assess(HADD, *films, us("2024-07-10", 13), as_of="2024-07-10")
    assert a.stages[3].rule == "H4b" and a.stages[3].stage.value == "resting"
    assert a.stages[3].confidence == 0.45  # H10 0.70 - 0.10 - 0.15 xmod
    assert a.stages[3].evidence[0] == "size change within cross-modality tolerance (10.0→13.0 mm)"
    on_xr = assess(HADD, *films, xr("2024-07-10", 13), as_of="2024-07-10")
    assert on_xr.stages[3].rule == "H4"  # +30 %, +3 mm on one modality: grown


def test_h4b_peak_note_reads_the_run_ending_at_ref() -> None:
    """D from the run peak before the negative: 15 then 14.5, negative, 12 (-20% from 15)."""
    a = assess(
        HADD,
        xr("2024-01-08", 15),
        xr("2024-04-08", 14.5),
        not_seen("2024-07-08"),
        xr("2024-08-19", 12),
        as_of="2024-09-01",
    )
    assert a.stages[3].rule == "H4b"
    assert a.stages[3].stage.value == "resorptive"  # H7: D from the peak, > 5 mm
    assert a.stages[3].confidence == 0.50  # 0.60 - 0.10
    assert a.stages[3].evidence[:2] == (
        "size stable (14.5→12.0 mm)",
        "-20% from peak (15.0→12.0 mm)",
    )


def test_h5_one_sign_group_on_a_first_image_is_resorptive() -> None:
    a = assess(HADD, xr("2024-01-10", 12, MIHC), as_of="2024-01-10")
    assert stages(a) == ["resorptive"]
    assert confidences(a) == [0.60]
    assert a.next_follow_up == D("2024-04-10")  # resorptive +3 months [S4]


def test_h5_adds_a_tenth_per_further_sign_group() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 12),
        xr("2024-02-10", 12.5, DWHN, Feature.INTRABURSAL_MIGRATION),  # F only
        xr("2024-03-10", 9, FIHC, Feature.COMET_TAIL),  # M + F + D
        as_of="2024-03-10",
    )
    assert stages(a) == ["formative", "resorptive", "resorptive"]
    assert confidences(a) == [0.50, 0.60, 0.80]


def test_h6_shrinking_to_exactly_5_mm_is_postcalcific_and_bosworth_medium() -> None:
    """9a.11: a 5.0 mm residue is post-calcific (<= 5) and Bosworth 'medium' (small is < 5)."""
    a = assess(HADD, xr("2024-01-10", 8, MWHN), xr("2024-06-10", 5, MWHN), as_of="2024-06-10")
    assert stages(a) == ["formative", "postcalcific"]
    assert a.stages[1].confidence == 0.70
    assert dict(a.stages[1].classifications)["bosworth"] == "medium"
    assert a.next_follow_up == D("2025-06-10")


def test_h7_shrinking_but_larger_than_5_mm_is_still_resorbing() -> None:
    a = assess(HADD, xr("2024-01-10", 8, MWHN), xr("2024-06-10", 5.1, MWHN), as_of="2024-06-10")
    assert stages(a) == ["formative", "resorptive"]
    assert a.stages[1].confidence == 0.60
    assert a.stages[1].rule == "H7"


def test_d_catches_slow_shrinkage_from_the_run_peak() -> None:
    """15 → 13.5 → 12 mm: each step is noise, but 12 is 20 % below the run's 15 mm peak."""
    a = assess(
        HADD,
        xr("2024-01-10", 15),
        xr("2024-04-10", 13.5),
        xr("2024-07-10", 12),
        as_of="2024-07-10",
    )
    assert stages(a) == ["formative", "resting", "resorptive"]
    assert a.stages[2].evidence[:2] == (
        "size stable (13.5→12.0 mm)",
        "-20% from peak (15.0→12.0 mm)",
    )
    assert a.stages[2].confidence == 0.60


def test_d_run_peak_one_tenth_short_of_the_threshold_is_not_shrinkage() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 15),
        xr("2024-04-10", 13.5),
        xr("2024-07-10", 12.1),
        as_of="2024-08-01",
    )
    assert stages(a) == ["formative", "resting", "resting"]
    assert not any("from peak" in e for e in a.stages[2].evidence)


def test_d_run_peak_counts_only_the_same_modality() -> None:
    """A 15 mm ultrasound peak says nothing about a 12 mm radiograph."""
    a = assess(
        HADD, us("2024-01-10", 15), xr("2024-04-10", 13.5), xr("2024-07-10", 12), as_of="2024-08-01"
    )
    assert stages(a) == ["formative", "resting", "resting"]
    b = assess(
        HADD, xr("2024-01-10", 15), us("2024-04-10", 13.5), xr("2024-07-10", 12), as_of="2024-08-01"
    )
    assert stages(b) == ["formative", "resting", "resorptive"]


def test_d_run_survives_a_carried_mr_observation() -> None:
    """9a.17: MR not-seen neither breaks the formative/resting run nor its peak."""
    a = assess(
        HADD,
        xr("2024-01-10", 15),
        xr("2024-03-10", 14),
        not_seen("2024-05-10", Modality.MR),
        xr("2024-07-10", 12),
        as_of="2024-08-01",
    )
    assert stages(a) == ["formative", "resting", "resting", "resorptive"]


def test_h8_growth_after_rest_is_formative_and_allowed() -> None:
    a = assess(
        HADD, xr("2024-01-10", 10), xr("2024-03-10", 10), xr("2024-09-10", 13), as_of="2024-09-10"
    )
    assert stages(a) == ["formative", "resting", "formative"]
    assert a.stages[2].confidence == 0.75
    assert not a.transitions[-1].unexpected
    assert "unexpected_regrowth" not in alert_kinds(a)


def test_h8_growth_after_post_calcific_is_less_certain_and_unexpected() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 8, MWHN),
        xr("2024-06-10", 4, MWHN),
        xr("2024-12-10", 8, MWHN),
        as_of="2024-12-10",
    )
    assert stages(a) == ["formative", "postcalcific", "formative"]
    assert a.stages[2].confidence == 0.60
    assert a.transitions[-1].unexpected
    assert (
        alert(a, "unexpected_regrowth").reason == "deposit regrew after postcalcific (4.0→8.0 mm)"
    )


def test_h9_a_single_quiet_image_is_formative() -> None:
    a = assess(HADD, xr("2024-01-10", 14), as_of="2024-01-10")
    assert stages(a) == ["formative"]
    assert a.stages[0].evidence == (
        "first observation",
        "dense",
        "well_defined",
        "homogeneous",
        "nodular",
    )
    assert a.next_follow_up == D("2024-07-10")


def test_first_visible_after_never_seen_is_a_first_observation() -> None:
    a = assess(HADD, not_seen("2024-01-10", Modality.US), us("2024-03-10", 6), as_of="2024-03-10")
    assert stages(a) == ["precalcific", "formative"]
    assert a.stages[1].evidence[0] == "first observation"


def test_h11_unchanged_residue_stays_post_calcific_and_needs_no_more_imaging() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 8, MWHN),
        xr("2024-06-10", 4, MWHN),
        xr("2025-06-10", 4, MWHN),
        as_of="2025-06-10",
    )
    assert stages(a) == ["formative", "postcalcific", "postcalcific"]
    assert a.stages[2].rule == "H11"
    assert a.next_follow_up is None  # prev(o) was already post-calcific


def test_h11_small_deposit_unchanged_after_resorption_is_post_calcific() -> None:
    a = assess(HADD, xr("2024-01-10", 5, MIHC), xr("2024-04-10", 5, MWHN), as_of="2024-04-10")
    assert stages(a) == ["resorptive", "postcalcific"]
    assert a.stages[1].confidence == 0.70


def test_h12_unchanged_after_resorption_above_5_mm_is_stalled() -> None:
    a = assess(HADD, xr("2024-01-10", 9, MIHC), xr("2024-04-10", 9, DWHN), as_of="2024-04-10")
    assert stages(a) == ["resorptive", "resting"]
    assert a.stages[1].confidence == 0.60
    assert "resorption stalled" in a.stages[1].evidence
    assert not a.transitions[0].unexpected  # resorptive → resting is allowed


def test_mr_visible_deposit_is_staged_like_any_other() -> None:
    a = assess(HADD, mr("2024-01-10", 10), mr("2024-02-10", 10), as_of="2024-02-10")
    assert stages(a) == ["formative", "resting"]


def test_h4_recurrence_after_confirmed_resolution_is_formative_with_resorptive_morphology() -> None:
    a = assess(
        HADD,
        xr("2024-01-10", 10),
        not_seen("2024-03-10"),
        not_seen("2024-04-10"),  # H2c: confirmed 31 days later
        xr("2024-05-10", 4, MIHC),
        as_of="2024-05-10",
    )
    assert stages(a) == ["formative", "resolved", "resolved", "formative"]  # H4 before H5
    assert [s.rule for s in a.stages] == ["H9", "H2b", "H2c", "H4"]
    assert confidences(a)[2:] == [0.9, 0.6]
    assert alert(a, "unexpected_regrowth").reason == "deposit regrew after resolved (10.0→4.0 mm)"
