"""A family's model is used only with 10 resolutions per parameter and a cross-validated
C-index of at least 0.60; otherwise every page says "not enough follow-up data in this clinic"
and no number comes out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from testkit.prognosis_cohort import Truth, simulate
from tracker.demo import timeline as demo_timeline
from tracker.prognosis.design import MIN_EVENTS_PER_PARAMETER, choose_codings
from tracker.prognosis.engine_records import records_of_timeline
from tracker.prognosis.fit import fit_families, fit_family
from tracker.prognosis.model import (
    LOW_C_INDEX,
    NO_FOLLOW_UP,
    NOT_ENOUGH,
    TOO_FEW_EVENTS,
    Unavailable,
)
from tracker.prognosis.outcome import Outcome
from tracker.prognosis.predict import predict, standing
from tracker.prognosis.records import Baseline, LesionRecord

FITTED = {"fitted_at": datetime(2026, 1, 2, 3, 0, tzinfo=UTC), "engine_version": "test",
          "rules_revision": 2}


def record(i: int, gartner: str, event: bool, days: int = 300, size: float = 12.0
           ) -> LesionRecord:
    return LesionRecord(
        f"P{i}/L1",
        Baseline("hadd", "hadd", "shoulder", "XR", size, gartner=gartner, pain=None,
                 age_years=50 + i % 20),
        Outcome(date(2020, 1, 1), days, event, days - 90 if event else days),
    )


def test_ten_resolutions_per_parameter() -> None:
    """Gärtner I and III with 10 resolutions each, sizes and ages that vary: 29 resolutions
    pay for two parameters (III vs I, size), 30 for a third (age)."""
    def cohort(events: int) -> list[LesionRecord]:
        out = [record(i, "III" if i % 2 else "I", False, days=100 + 7 * i, size=8.0 + i % 9)
               for i in range(80)]
        chosen = [i for i in range(0, 80, 2)][:10] + [i for i in range(1, 80, 2)][:events - 10]
        return [record(i, r.baseline.gartner or "", True, days=r.outcome.days,
                       size=r.baseline.size_mm) if i in chosen else r
                for i, r in enumerate(out)]

    codings, dropped = choose_codings("hadd", cohort(29))
    assert [t for c in codings for t in c.terms] == ["gartner:III", "size"]
    assert any(d.covariate == "age" and "10 per parameter" in d.reason for d in dropped)
    codings, _ = choose_codings("hadd", cohort(30))
    assert [t for c in codings for t in c.terms] == ["gartner:III", "size", "age"]
    for events in (20, 29, 30, 45):
        codings, _ = choose_codings("hadd", cohort(events))
        terms = sum(len(c.terms) for c in codings)
        assert terms * MIN_EVENTS_PER_PARAMETER <= events


def test_too_few_resolutions_says_not_enough_follow_up_data() -> None:
    records = simulate(12, seed=5).direct_records()
    assert 0 < sum(r.outcome.event for r in records) < 10
    fit = fit_family("hadd", records, **FITTED)
    assert not fit.usable and fit.refusal is not None
    assert fit.refusal.code == TOO_FEW_EVENTS
    assert fit.refusal.text.startswith(NOT_ENOUGH + ":")
    assert f"{fit.events} resolutions among {fit.n} followed lesions" in fit.refusal.text
    assert fit.params is None and fit.effects == () and fit.c_index is None
    answer = predict(fit, records[0].baseline)
    assert answer == Unavailable("hadd", TOO_FEW_EVENTS, fit.refusal.text, fit.n, fit.events)
    assert standing(fit, records[0].baseline, 200) == answer
    with pytest.raises(ValueError, match="a ho lesion cannot be predicted by the hadd model"):
        predict(fit, replace(records[0].baseline, family="ho"))


def test_a_model_that_ranks_no_better_than_chance_is_refused() -> None:
    """Deposits whose time to resolution depends on nothing recorded: plenty of data, but the
    held-out C-index stays near 0.5, so no prediction is made; the effects are still shown
    (with their wide intervals around 1) for the cohort page."""
    no_effect = Truth(time_ratios=())
    records = simulate(300, seed=3, truth=no_effect).direct_records()
    fit = fit_family("hadd", records, **FITTED)
    assert fit.events >= 50
    assert fit.c_index is not None and fit.c_index < 0.6
    assert not fit.usable and fit.refusal is not None
    assert fit.refusal.code == LOW_C_INDEX
    assert fit.refusal.text.startswith(NOT_ENOUGH + ":")
    assert f"C-index {fit.c_index:.2f}" in fit.refusal.text
    assert len(fit.c_index_folds) == 5 and fit.effects
    answer = predict(fit, records[0].baseline)
    assert isinstance(answer, Unavailable) and answer.code == LOW_C_INDEX


def test_the_demo_cohort_honestly_has_not_enough_follow_up_data() -> None:
    today = date(2026, 6, 1)
    records, _ = records_of_timeline(demo_timeline(today), today)
    fits = fit_families(records, **FITTED)
    assert set(fits) == {"hadd", "ho", "generic"}
    for fit in fits.values():
        assert not fit.usable and fit.refusal is not None
        assert fit.refusal.code in (TOO_FEW_EVENTS, NO_FOLLOW_UP)
        assert fit.refusal.text.startswith(NOT_ENOUGH)
        assert fit.events < 10 and fit.params is None
    hadd = fits["hadd"]
    assert hadd.n > 0 and hadd.events > 0  # the demo has resolved deposits, just too few
    lesion = next(r for r in records if r.baseline.family == "hadd")
    answer = predict(hadd, lesion.baseline)
    assert isinstance(answer, Unavailable) and answer.text.startswith(NOT_ENOUGH)
