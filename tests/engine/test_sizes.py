"""§1 size comparison, seen through the generic model (growth → progressing, decrease →
regressing, otherwise stable), where nothing but size decides."""

from __future__ import annotations

import pytest

from tracker.engine import Finding
from tracker.vocabulary import Entity

from .builders import assess, ct, mr, not_seen, stages, us, xr
from .morphs import DWHN

GOUT = Entity.GOUT  # course `variable`: no course-mismatch noise
TOLERANCE = "size change within cross-modality tolerance"


def second_stage(*findings: Finding) -> str:
    return stages(assess(GOUT, *findings, as_of="2025-12-31"))[-1]


@pytest.mark.parametrize(
    ("a", "b", "stage"),
    [
        (10, 12, "progressing"),  # exactly +2 mm and +20 %: inclusive
        (10, 11.9, "stable"),
        (20, 24, "progressing"),  # +4 mm = +20 %
        (20, 23.9, "stable"),  # +3.9 mm is only 19.5 %
        (5, 7, "progressing"),  # +40 % but only just 2 mm
        (5, 6.9, "stable"),  # +38 %, < 2 mm: caliper noise
        (7.7, 9.7, "progressing"),  # 2.0 mm as decimals, 1.9999999999999991 as floats
        (10, 8, "regressing"),  # exactly -2 mm and -20 %
        (10, 8.1, "stable"),
        (30, 24, "regressing"),
        (30, 24.1, "stable"),  # -5.9 mm is only 19.7 %
    ],
)
def test_same_modality_needs_2_mm_and_20_percent(a: float, b: float, stage: str) -> None:
    assert second_stage(xr("2024-01-01", a, DWHN), xr("2024-04-01", b, DWHN)) == stage


@pytest.mark.parametrize(
    ("a", "b", "stage"),
    [
        (10, 14, "progressing"),  # exactly +4 mm and +40 %
        (10, 13.9, "stable"),
        (10, 13, "stable"),  # +30 %/3 mm would be growth on one modality
        (20, 27.9, "stable"),  # +7.9 mm but 39.5 %
        (20, 28, "progressing"),
        (10, 6, "regressing"),  # exactly -4 mm and -40 %
        (10, 6.1, "stable"),
    ],
)
def test_cross_modality_needs_4_mm_and_40_percent(a: float, b: float, stage: str) -> None:
    assert second_stage(xr("2024-01-01", a, DWHN), us("2024-04-01", b, DWHN)) == stage


def test_ct_to_radiograph_is_cross_modality_too() -> None:
    assert second_stage(ct("2024-01-01", 10, DWHN), xr("2024-04-01", 13, DWHN)) == "stable"


def test_reference_is_the_latest_visible_observation_not_the_previous() -> None:
    """An ultrasound that did not find the deposit does not reset the baseline."""
    a = assess(
        GOUT,
        xr("2024-01-01", 10, DWHN),
        not_seen("2024-02-01", us("2024-02-01", 1).modality),
        xr("2024-04-01", 12, DWHN),
        as_of="2025-01-01",
    )
    assert stages(a) == ["stable", "resolved", "progressing"]
    assert a.stages[-1].evidence[0] == "size +20% (10.0→12.0 mm)"


def test_the_longest_diameter_is_compared() -> None:
    first = xr("2024-01-01", 10, DWHN)
    second = Finding(
        date=xr("2024-04-01", 1).date,
        modality=first.modality,
        size_mm=(10.5, 9.0, 8.0),
        density=first.density,
        margin=first.margin,
        texture=first.texture,
        pattern=first.pattern,
    )
    assert second_stage(first, second) == "stable"


def test_mr_sizes_compare_with_mr() -> None:
    assert second_stage(mr("2024-01-01", 10, DWHN), mr("2024-04-01", 12, DWHN)) == "progressing"


@pytest.mark.parametrize(
    ("second", "text"),
    [
        (xr("2024-04-01", 11.9, DWHN), "size stable (10.0→11.9 mm)"),
        (us("2024-04-01", 13.9, DWHN), f"{TOLERANCE} (10.0→13.9 mm)"),
        (ct("2024-04-01", 6.1, DWHN), f"{TOLERANCE} (10.0→6.1 mm)"),
        (us("2024-04-01", 10, DWHN), f"{TOLERANCE} (10.0→10.0 mm)"),
        (us("2024-04-01", 14, DWHN), "size +40% (10.0→14.0 mm)"),
        (us("2024-04-01", 6, DWHN), "size -40% (10.0→6.0 mm)"),
    ],
)
def test_a_stable_result_across_modalities_is_never_called_size_stable(
    second: Finding, text: str
) -> None:
    """§1, §3 (revision 3): doubled thresholds cannot show stability; the context note stays."""
    a = assess(GOUT, xr("2024-01-01", 10, DWHN), second, as_of="2024-04-01")
    evidence = a.stages[1].evidence
    assert evidence[0] == text
    xmod_note = f"XR→{second.modality.value}: sizes not directly comparable"
    assert (xmod_note in evidence) is (second.modality.value != "XR")
