"""Cohort outcomes against a Kaplan–Meier table computed by hand, on stored assessments; the
honesty rules (split by family, too few to estimate, no zero-width interval); the stored rows
against a recomputation from scratch."""

from __future__ import annotations

import math
import random
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker.cli.main import main
from tracker.cohort import (
    NOT_ESTIMABLE,
    TOO_FEW,
    CohortFilter,
    Tally,
    curves_csv,
    fit,
    kaplan_meier,
    response_bins,
    subjects,
    tallies,
    tally,
)
from tracker.queries.to_assess import all_lesions
from tracker.services.assessment.assess import assess_lesions

AS_OF = date(2025, 1, 1)
SHOULDER = ("hadd", "II", "small", "shoulder", "tendon")

# (lesion, follow-ups after a visible 2024-01-01 baseline): "gone" = looked for and not seen.
COURSES = {
    "A": [("2024-01-31", "gone")],          # resolved at 30 days
    "B": [("2024-03-01", 12.0)],            # censored at 60
    "C": [("2024-04-10", "gone")],          # resolved at 100
    "D": [("2024-02-10", 11.0)],            # censored at 40
    "E": [("2024-01-31", "gone")],          # resolved at 30
}


@pytest.fixture
def cohort(session: Session) -> Session:
    for name, follow_ups in COURSES.items():
        observations = [obs("2024-01-01", 12.0)]
        for day, value in follow_ups:
            gone = value == "gone"
            observations.append(obs(day, None if gone else float(value), visible=not gone))
        make_lesion(session, patient=make_patient(session, f"KM-{name}"), external_id=name,
                    observations=observations)
    assess_lesions(session, all_lesions(session), AS_OF)
    return session


def test_kaplan_meier_matches_the_hand_computed_table(cohort: Session) -> None:
    items, skipped = subjects(cohort)
    assert skipped == 0
    assert {(s.days, s.resolved) for s in items} == {(30, True), (60, False), (100, True),
                                                     (40, False)}
    (curve,) = kaplan_meier(tally(items), "none")
    table = [(r.days, r.at_risk, r.events, r.censored, r.survival) for r in curve.rows]
    # S(t) = prod (1 - d_i / n_i): 30 -> 1 - 2/5 = 0.6; censorings at 40 and 60; 100 -> 0.
    assert table == [(0, 5, 0, 0, 1.0), (30, 5, 2, 0, 0.6), (40, 3, 0, 1, 0.6),
                     (60, 2, 0, 1, 0.6), (100, 1, 1, 0, 0.0)]
    # 95 % CI at 30 days, exponential Greenwood (log-log) by hand:
    # var = 2/(5*3); V = var / ln(0.6)^2; S^exp(+-1.96 sqrt V)
    v = (2 / 15) / math.log(0.6) ** 2
    low, high = (0.6 ** math.exp(s * 1.96 * math.sqrt(v)) for s in (1, -1))
    assert curve.rows[1].ci_lower == pytest.approx(low, abs=1e-3)
    assert curve.rows[1].ci_upper == pytest.approx(high, abs=1e-3)
    # 5 lesions, 3 resolutions: drawn, never summarised
    assert (curve.n, curve.events, curve.estimable, curve.median_days) == (5, 3, False, None)
    assert curve.median_text == curve.ci_text == TOO_FEW


def _tallies(groups: tuple[str, ...], *courses: tuple[int, bool, int]) -> list[Tally]:
    return [Tally(groups, days, resolved, n) for days, resolved, n in courses]


def test_default_split_is_by_entity_family() -> None:
    phlebolith = ("phlebolith", "unknown", "unknown", "lower_leg", "vascular")
    gout = ("gout", "unknown", "unknown", "foot", "articular")
    items = sorted(_tallies(SHOULDER, (90, True, 20), (400, False, 10))
                   + _tallies(phlebolith, (700, False, 12)) + _tallies(gout, (300, False, 3)))
    curves = kaplan_meier(items)
    assert [(c.group, c.label, c.n, c.events) for c in curves] == [
        ("generic", "Other (generic family)", 15, 0),
        ("hadd", "Hydroxyapatite (HADD)", 30, 20)]
    hadd = curves[1]
    assert hadd.estimable and hadd.median_days == 90
    # never resolving (0 events of 15): too few to estimate, not "median not reached"
    assert not curves[0].estimable and curves[0].median_text == TOO_FEW
    assert [c.group for c in kaplan_meier(items, "none")] == ["all"]


def test_a_bound_reached_only_where_the_curve_hits_zero_is_not_estimable() -> None:
    """12 lesions: 6 resolve at 100 days, 6 are censored before; the curve falls to 0 at 450
    with one lesion at risk. The old table read "450 to 450"."""
    items = _tallies(SHOULDER, (50, False, 3), (100, True, 5), (200, False, 3), (450, True, 1))
    (curve,) = kaplan_meier(items, "none")
    assert curve.estimable and (curve.n, curve.events) == (12, 6)
    assert curve.rows[-1].survival == 0.0
    assert curve.median_ci[1] is None
    assert curve.ci_text.endswith(f"to {NOT_ESTIMABLE}")
    assert all(low is None or high is None or low < high
               for low, high in [c.median_ci for c in kaplan_meier(items, "none")])


def test_the_grouped_fit_equals_one_row_per_lesion() -> None:
    rng = random.Random(7)
    durations = [(rng.randrange(10, 900, 10), rng.random() < 0.6) for _ in range(600)]
    from lifelines import KaplanMeierFitter

    ungrouped = KaplanMeierFitter().fit([d for d, _ in durations], [e for _, e in durations],
                                        label="x")
    counts: dict[tuple[int, bool], int] = {}
    for key in durations:
        counts[key] = counts.get(key, 0) + 1
    grouped = fit([Tally(SHOULDER, d, e, n) for (d, e), n in sorted(counts.items())], "x")
    assert len(counts) < 200
    diff = (grouped.survival_function_ - ungrouped.survival_function_).abs().max().max()
    band = (grouped.confidence_interval_ - ungrouped.confidence_interval_).abs().max().max()
    assert diff < 1e-12 and band < 1e-12
    assert grouped.median_survival_time_ == ungrouped.median_survival_time_
    assert (grouped.event_table.values == ungrouped.event_table.values).all()


def test_strata_filters_and_csv(cohort: Session) -> None:
    items, _ = tallies(cohort)
    curves = kaplan_meier(items, by="entity")
    assert [(c.group, c.n) for c in curves] == [("hadd", 5)]
    assert tallies(cohort, CohortFilter(region="hip"))[0] == []
    text = curves_csv(curves)
    assert text.splitlines()[0] == "group,days,at_risk,events,censored,survival,ci_lower,ci_upper"
    assert text.splitlines()[2].startswith("hadd,30,5,2,0,0.6,")
    with pytest.raises(ValueError, match="cannot split by 'shoe'"):
        kaplan_meier(items, by="shoe")


def test_best_change_counts_a_negative_film_as_minus_100(cohort: Session) -> None:
    assert sorted(s.best_change_pct or 0 for s in subjects(cohort)[0]) == [
        -100.0, -100.0, -100.0, -8.3, 0.0]
    # the waterfall's bars: binned by entity and whole percent from the stored rows
    assert response_bins(cohort) == [("hadd", -100, 3), ("hadd", -8, 1), ("hadd", 0, 1)]


def test_unassessed_lesions_are_left_out_and_counted(session: Session) -> None:
    make_lesion(session, observations=[obs("2024-01-01", 12.0)])
    assert subjects(session) == ([], 1)
    assert tallies(session) == ([], 1)


def test_cli_writes_the_curve_table_and_figures(cohort: Session, database_url: str,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    out = tmp_path / "km.csv"
    result = runner.invoke(main, ["cohort", "km", "--by", "entity", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[2].startswith("hadd,30,5,2,0,0.6,")
    assert "hadd: 5 lesions, 3 resolved, too few to estimate" in result.output
    default = runner.invoke(main, ["cohort", "km"])
    assert default.stdout.splitlines()[1].startswith("hadd,0,5,")  # by family by default
    png = tmp_path / "wf.png"
    assert runner.invoke(main, ["cohort", "waterfall", "-o", str(png)]).exit_code == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(main, ["cohort", "km", "-o", str(tmp_path / "km.doc")])
    assert bad.exit_code == 2 and "must end in .csv or .png or .svg" in bad.output
    empty = runner.invoke(main, ["cohort", "km", "--region", "hip"])
    assert empty.exit_code == 1 and "no assessed lesion matches" in empty.output
