"""§2.2 heterotopic ossification: rows O1-O7, the resolution rows O2c/O2r/O2b, the missed
projection O4b, and the event-window term. HO alerts: test_alerts_ho.py."""

from __future__ import annotations

import pytest

from tracker.engine import Finding, Resolution
from tracker.vocabulary import Entity, Feature, Modality

from .builders import D, alert_kinds, assess, confidences, not_seen, stages, us, xr
from .morphs import CONSOLIDATING, DWHB, FIHC, MWHS, Morph

HO = Entity.HO
EVENT = "2024-01-01"  # contusion of the thigh
ZONED = xr("2024-02-15", 20, MWHS, Feature.ZONAL_PERIPHERAL)  # O5, t = 45 days: +0.10
MISSED = "seen again, no larger: earlier negative probably a missed projection"


def test_rows_o4_to_o7() -> None:
    a = assess(
        HO,
        xr("2024-02-01", 20, FIHC),  # O7 flocculent
        xr("2024-03-01", 21, CONSOLIDATING),  # O6 consolidating
        xr("2024-04-01", 22, FIHC, Feature.ZONAL_PERIPHERAL),  # O5 zoning
        xr("2024-06-01", 22, FIHC, Feature.BONE_ORGANIZATION),  # O4 organised
        as_of="2024-06-01",
    )
    assert stages(a) == ["ho_early", "ho_intermediate", "ho_intermediate", "ho_mature"]
    assert confidences(a) == [0.60, 0.55, 0.70, 0.80]
    assert [s.rule for s in a.stages] == ["O7", "O6", "O5", "O4"]


@pytest.mark.parametrize(
    ("day", "morph", "conf"),
    [
        ("2024-02-25", FIHC, 0.70),  # early, t = 55 days < 8 weeks
        ("2024-02-26", FIHC, 0.50),  # early, t = 56 days: outside
        ("2024-01-29", MWHS, 0.80),  # intermediate from t = 28 days
        ("2024-01-28", MWHS, 0.60),
        ("2024-07-01", MWHS, 0.80),  # ... until add_months(event, 6), inclusive
        ("2024-07-02", MWHS, 0.60),
        ("2024-03-25", DWHB, 0.90),  # mature from t = 84 days
        ("2024-03-24", DWHB, 0.70),
    ],
)
def test_event_window_term_edges(day: str, morph: Morph, conf: float) -> None:
    a = assess(HO, xr(day, 20, morph), event=EVENT, as_of=day)
    assert confidences(a) == [conf]
    days = (D(day) - D(EVENT)).days
    assert a.stages[0].evidence[-1] == f"{days} days after event"


def test_o3_nothing_yet_then_o1_carried_both_get_the_window_term() -> None:
    """9a.5: carried stages are HO stages too."""
    a = assess(
        HO,
        not_seen("2024-01-10"),
        xr("2024-02-01", 20, FIHC),
        not_seen("2024-04-15", Modality.MR),
        event=EVENT,
        as_of="2024-04-15",
    )
    assert stages(a) == ["ho_early", "ho_early", "ho_early"]
    assert confidences(a) == [0.40, 0.70, 0.10]  # O1 0.20, t = 105 days outside early: -0.10


@pytest.mark.parametrize(
    ("findings", "event", "due"),
    [
        ((not_seen("2024-01-20"),), EVENT, "2024-03-02"),  # t < 8 weeks: look again in 6 weeks
        ((not_seen("2024-02-26"),), EVENT, None),  # t = 56 days, nothing: no HO
        ((not_seen("2024-02-26"),), None, "2024-04-08"),  # 9a.18 no event: +6 weeks
        ((xr("2024-02-01", 20, FIHC),), EVENT, "2024-03-14"),  # early: +6 weeks
        ((xr("2024-02-01", 20, MWHS),), EVENT, "2024-05-01"),  # intermediate: +3 months
        ((xr("2024-05-01", 20, DWHB),), EVENT, None),  # mature: done
    ],
)
def test_ho_follow_up(findings: tuple[Finding, ...], event: str | None, due: str | None) -> None:
    last = findings[-1].date.isoformat()
    a = assess(HO, *findings, event=event, as_of=last)
    assert a.next_follow_up == (None if due is None else D(due))


def test_post_traumatic_ossification_follows_the_ho_model() -> None:
    a = assess(Entity.POST_TRAUMATIC_OSSIFICATION, xr("2024-02-01", 20, FIHC), as_of="2024-02-01")
    assert a.family.value == "ho"
    assert stages(a) == ["ho_early"]


# O2c / O2r / O2b: resolution must be confirmed, as in tendon (revision 3) ---------------------


def test_o2b_one_negative_film_is_an_unconfirmed_resolution() -> None:
    a = assess(HO, ZONED, not_seen("2024-06-01"), event=EVENT, as_of="2024-06-01")
    assert stages(a) == ["ho_intermediate", "resolved"]
    assert a.stages[1].rule == "O2b"
    assert a.stages[1].confidence == 0.50  # no window term for resolved (9a.5)
    assert a.stages[1].evidence == ("not seen once; unconfirmed", "152 days after event")
    assert a.stages[1].resolution is Resolution.UNCONFIRMED
    assert a.next_follow_up == D("2024-09-01")  # §5: O2b +3 months


@pytest.mark.parametrize(("second", "rule"), [("2024-06-29", "O2c"), ("2024-06-28", "O2r")])
def test_o2c_a_second_negative_exactly_28_days_later_confirms(second: str, rule: str) -> None:
    a = assess(HO, ZONED, not_seen("2024-06-01"), not_seen(second), event=EVENT, as_of=second)
    assert a.stages[2].rule == rule
    if rule == "O2c":
        assert a.stages[2].confidence == 0.90
        assert a.stages[2].evidence[0] == "absence confirmed (not seen since 2024-06-01)"
        assert a.stages[2].resolution is Resolution.CONFIRMED
        assert a.next_follow_up is None
    else:
        assert a.stages[2].confidence == 0.50
        assert a.stages[2].evidence[0] == "not seen again (< 28 days)"
        assert a.next_follow_up == D("2024-09-01")  # n's date: an early film postpones nothing


def test_o2r_carries_n_final_confidence_after_a_long_gap() -> None:
    """Revision 3: O2b 0.50 - 0.10 (> 12 months since the film) = 0.40, and O2r keeps 0.40."""
    a = assess(
        HO,
        xr("2023-01-10", 20, MWHS, Feature.ZONAL_PERIPHERAL),
        not_seen("2024-03-01"),
        not_seen("2024-03-20", Modality.US),
        as_of="2024-04-01",
    )
    assert [s.rule for s in a.stages] == ["O5", "O2b", "O2r"]
    assert confidences(a)[1:] == [0.40, 0.40]
    assert a.stages[2].resolution is Resolution.UNCONFIRMED
    assert a.next_follow_up == D("2024-06-01")


def test_o2_mr_negatives_neither_start_nor_confirm_a_resolution() -> None:
    a = assess(
        HO,
        ZONED,
        not_seen("2024-03-15", Modality.MR),
        not_seen("2024-05-15"),
        not_seen("2024-07-01", Modality.MR),
        event=EVENT,
        as_of="2024-07-01",
    )
    assert [s.rule for s in a.stages] == ["O5", "O1", "O2b", "O1"]
    assert stages(a)[3] == "resolved" and a.stages[3].resolution is Resolution.UNCONFIRMED
    assert a.next_follow_up == D("2024-08-15")  # carried: n's date


# O4b: seen again, no larger, after an unconfirmed negative (revision 3) ----------------------


def test_o4b_after_an_unconfirmed_negative_is_staged_by_o4_to_o7_less_a_tenth() -> None:
    a = assess(
        HO,
        ZONED,
        not_seen("2024-04-01"),
        xr("2024-05-01", 21, MWHS, Feature.ZONAL_PERIPHERAL),
        event=EVENT,
        as_of="2024-05-01",
    )
    assert stages(a) == ["ho_intermediate", "resolved", "ho_intermediate"]
    assert a.stages[2].rule == "O4b"
    assert a.stages[2].confidence == 0.70  # O5 0.70 - 0.10, + 0.10 in the window
    assert a.stages[2].resolution is None
    assert a.stages[2].evidence[-2:] == (MISSED, "121 days after event")
    assert not a.transitions[-1].unexpected  # §2.4: O4b's resolved → intermediate
    assert alert_kinds(a) == []
    assert a.next_follow_up == D("2024-08-01")  # intermediate +3 months


@pytest.mark.parametrize(
    ("negatives", "rule"),
    [
        ((not_seen("2024-04-01"),), "O4b"),  # O2b
        ((not_seen("2024-04-01"), not_seen("2024-04-20")), "O4b"),  # O2r: still unconfirmed
        ((not_seen("2024-04-01"), not_seen("2024-04-20", Modality.MR)), "O4b"),  # MR: O1
        ((not_seen("2024-04-01"), not_seen("2024-04-29")), "O5"),  # O2c: confirmed
        ((not_seen("2024-04-01"), not_seen("2024-04-29"), not_seen("2024-05-05")), "O5"),
    ],
)
def test_o4b_only_after_an_unconfirmed_resolution(
    negatives: tuple[Finding, ...], rule: str
) -> None:
    back = xr("2024-05-20", 21, MWHS, Feature.ZONAL_PERIPHERAL)
    a = assess(HO, ZONED, *negatives, back, event=EVENT, as_of="2024-05-20")
    assert a.stages[-1].rule == rule
    assert a.transitions[-1].unexpected is (rule == "O5")  # §2.4: resolved → visible


def test_o4b_not_when_grown_since_the_last_film() -> None:
    a = assess(HO, ZONED, not_seen("2024-04-01"), xr("2024-05-01", 24, MWHS), as_of="2024-05-01")
    assert [s.rule for s in a.stages] == ["O5", "O2b", "O5"]  # +20 % and +4 mm: growth
    assert a.transitions[-1].unexpected


def test_o4b_reads_growth_against_ref_with_cross_modality_thresholds() -> None:
    """20 mm on XR, then 27 mm on US: +35 % is within the 40 % cross-modality tolerance."""
    a = assess(HO, ZONED, not_seen("2024-04-01"), us("2024-05-01", 27, MWHS), as_of="2024-05-01")
    assert a.stages[2].rule == "O4b"
    assert a.stages[2].evidence[0] == "size change within cross-modality tolerance (20.0→27.0 mm)"
    assert a.stages[2].confidence == 0.45  # O5 0.70 - 0.10 - 0.15 xmod; no event
    negative = not_seen("2024-04-01")
    on_xr = assess(HO, ZONED, negative, xr("2024-05-01", 27, MWHS), as_of="2024-05-01")
    assert on_xr.stages[2].rule == "O5"
