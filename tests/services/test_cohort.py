"""Cohort outcomes against a Kaplan–Meier table computed by hand, on stored assessments."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from testkit.factories import make_lesion, make_patient, obs
from tracker.cli.main import main
from tracker.cohort import CohortFilter, curves_csv, kaplan_meier, subjects
from tracker.queries.to_assess import all_lesions
from tracker.services.assessment.assess import assess_lesions

AS_OF = date(2025, 1, 1)

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
    assert {(s.lesion, s.days, s.resolved) for s in items} == {
        ("A", 30, True), ("B", 60, False), ("C", 100, True), ("D", 40, False), ("E", 30, True)}
    (curve,) = kaplan_meier(items)
    table = [(r.days, r.at_risk, r.events, r.censored, r.survival) for r in curve.rows]
    # S(t) = prod (1 - d_i / n_i): 30 -> 1 - 2/5 = 0.6; censorings at 40 and 60; 100 -> 0.
    assert table == [(0, 5, 0, 0, 1.0), (30, 5, 2, 0, 0.6), (40, 3, 0, 1, 0.6),
                     (60, 2, 0, 1, 0.6), (100, 1, 1, 0, 0.0)]
    assert (curve.n, curve.events, curve.median_days) == (5, 3, 100.0)
    # 95 % CI at 30 days, exponential Greenwood (log-log) by hand:
    # var = 2/(5*3); V = var / ln(0.6)^2; S^exp(+-1.96 sqrt V)
    v = (2 / 15) / math.log(0.6) ** 2
    low, high = (0.6 ** math.exp(s * 1.96 * math.sqrt(v)) for s in (1, -1))
    assert curve.rows[1].ci_lower == pytest.approx(low, abs=1e-3)
    assert curve.rows[1].ci_upper == pytest.approx(high, abs=1e-3)


def test_strata_filters_and_csv(cohort: Session) -> None:
    items, _ = subjects(cohort)
    curves = kaplan_meier(items, by="entity")
    assert [(c.group, c.n) for c in curves] == [("hadd", 5)]
    assert subjects(cohort, CohortFilter(region="hip"))[0] == []
    text = curves_csv(curves)
    assert text.splitlines()[0] == "group,days,at_risk,events,censored,survival,ci_lower,ci_upper"
    assert text.splitlines()[2].startswith("hadd,30,5,2,0,0.6,")
    with pytest.raises(ValueError, match="cannot split by 'shoe'"):
        kaplan_meier(items, by="shoe")


def test_best_change_counts_a_negative_film_as_minus_100(cohort: Session) -> None:
    best = {s.lesion: s.best_change_pct for s in subjects(cohort)[0]}
    assert best == {"A": -100.0, "B": 0.0, "C": -100.0, "D": -8.3, "E": -100.0}


def test_unassessed_lesions_are_left_out_and_counted(session: Session) -> None:
    make_lesion(session, observations=[obs("2024-01-01", 12.0)])
    assert subjects(session) == ([], 1)


def test_cli_writes_the_curve_table_and_figures(cohort: Session, database_url: str,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    out = tmp_path / "km.csv"
    result = runner.invoke(main, ["cohort", "km", "--by", "entity", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[2].startswith("hadd,30,5,2,0,0.6,")
    assert "hadd: 5 lesions, 3 resolved, median 100 days" in result.output
    png = tmp_path / "wf.png"
    assert runner.invoke(main, ["cohort", "waterfall", "-o", str(png)]).exit_code == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(main, ["cohort", "km", "-o", str(tmp_path / "km.doc")])
    assert bad.exit_code == 2 and "must end in .csv or .png or .svg" in bad.output
    empty = runner.invoke(main, ["cohort", "km", "--region", "hip"])
    assert empty.exit_code == 1 and "no assessed lesion matches" in empty.output
