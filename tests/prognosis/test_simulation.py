"""Validation on cohorts with known effects: simulated deposits written as lesion-timeline/1,
read by the import's validation, staged by the real engine, turned into records and fitted.
A few seeds here; `make bench` runs 100 (bench/prognosis_figures.py)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache

import numpy as np
import pandas as pd
import pytest
from lifelines import WeibullAFTFitter

from testkit.prognosis_cohort import TRUTH, Simulation, covered, simulate
from tracker.prognosis.design import code_lesion
from tracker.prognosis.engine_records import records_of_timeline
from tracker.prognosis.fit import c_index, fit_family
from tracker.prognosis.model import Fit, Prediction, Standing, fit_from_json, fit_to_json
from tracker.prognosis.predict import HORIZON_MONTHS, months_in_days, predict, standing
from tracker.prognosis.records import LesionRecord
from tracker.timeline.reader import validate_timeline

LESIONS = 600
FITTED = {"fitted_at": datetime(2026, 1, 2, 3, 0, tzinfo=UTC), "engine_version": "test",
          "rules_revision": 2}
TRUE_EFFECTS = ("gartner:II", "gartner:III", "gartner:not graded", "size")


def through_the_engine(sim: Simulation) -> list[LesionRecord]:
    timeline = validate_timeline(json.loads(json.dumps(sim.document())), today=date.today())
    records, skipped = records_of_timeline(timeline, sim.as_of)
    assert skipped == 0
    return records


@cache
def cohort(seed: int) -> tuple[Simulation, list[LesionRecord], Fit]:
    sim = simulate(LESIONS, seed)
    records = through_the_engine(sim)
    return sim, records, fit_family("hadd", records, **FITTED)


def test_the_engine_stages_the_simulated_films_as_the_simulation_meant() -> None:
    """Every record from the engine equals the one built from the films directly: a negative
    film is `resolved`, a missed projection is contradicted, a lavage ends follow-up."""
    sim = simulate(300, seed=11, truth=replace(TRUTH, missed_film=0.1))
    records = through_the_engine(sim)
    assert records == sim.direct_records()
    assert sum(r.outcome.contradicted for r in records) > 10
    assert sum(r.outcome.censored_by_treatment for r in records) > 10
    assert sum(r.outcome.event and not r.outcome.confirmed for r in records) > 10


@pytest.mark.parametrize("seed", [1, 2])
def test_fitted_effects_recover_the_true_ones(seed: int) -> None:
    sim, records, fit = cohort(seed)
    assert fit.usable, fit.refusal
    effects = {e.term: e for e in fit.effects}
    assert set(TRUE_EFFECTS) <= set(effects)
    hits = covered(fit)
    assert all(hits[term] for term in TRUE_EFFECTS), {t: effects[t] for t in TRUE_EFFECTS}
    # and found, not merely not contradicted: fluffy deposits resolve faster, large slower
    assert effects["gartner:III"].ci_upper < 1 < effects["size"].ci_lower
    true_c = c_index(records, [le.true_log_scale for le in sim.lesions])
    assert fit.c_index is not None and abs(fit.c_index - true_c) <= 0.03
    assert len(fit.c_index_folds) == 5 and fit.n == len(records) - fit.excluded_no_follow_up
    assert fit.c_index_ci is not None
    assert fit.c_index_ci[0] <= fit.c_index <= fit.c_index_ci[1]


def test_calibration_groups_hold_every_lesion_and_rise_with_risk() -> None:
    _, _, fit = cohort(1)
    assert sum(g.n for g in fit.calibration) == fit.n
    predicted = [g.predicted for g in fit.calibration]
    assert predicted == sorted(predicted) and len(predicted) == 5
    for g in fit.calibration:
        assert g.observed is not None and g.observed_ci_lower is not None
        assert g.observed_ci_lower <= g.observed <= (g.observed_ci_upper or 1)
    # the model is right, so the extreme groups' observed shares lie within their CIs
    assert (fit.calibration[0].observed_ci_lower or 0) <= predicted[0]
    assert predicted[-1] <= (fit.calibration[-1].observed_ci_upper or 1)


def test_predictions_are_monotone_with_intervals_around_them() -> None:
    _, records, fit = cohort(1)
    for record in records[:60]:
        answer = predict(fit, record.baseline)
        assert isinstance(answer, Prediction)
        assert [p.months for p in answer.by_month] == list(HORIZON_MONTHS)
        probabilities = [p.probability for p in answer.by_month]
        assert probabilities == sorted(probabilities)
        for p in answer.by_month:
            assert 0 <= p.ci_lower <= p.probability <= p.ci_upper <= 1
        if answer.median_days is not None:
            low, high = answer.median_ci or (math.nan, math.nan)
            assert low <= answer.median_days <= high
        assert (answer.n, answer.events, answer.model_version) == (
            fit.n, fit.events, fit.version)
    sharp = replace(records[0].baseline, region="shoulder", modality="XR", gartner="I")
    fluffy = replace(sharp, gartner="III")
    assert (predict(fit, fluffy).by_month[1].probability  # type: ignore[union-attr]
            > predict(fit, sharp).by_month[1].probability)  # type: ignore[union-attr]


def test_median_beyond_follow_up_and_unseen_levels_are_said() -> None:
    _, records, fit = cohort(1)
    slow = replace(records[0].baseline, region="shoulder", modality="XR", gartner="I",
                   size_mm=40.0)
    answer = predict(fit, slow)
    assert isinstance(answer, Prediction)
    assert answer.median_days is None and answer.median_ci is None
    assert answer.median_note and "beyond the longest follow-up in this clinic" in \
        answer.median_note
    assert answer.by_month[-1].extrapolated is False  # 24 months is within follow-up
    knee = predict(fit, replace(records[0].baseline, region="knee"))
    assert isinstance(knee, Prediction)
    assert any("Knee not in this clinic's data" in n for n in knee.notes)


def test_standing_among_similar_deposits() -> None:
    _, records, fit = cohort(1)
    baseline = records[0].baseline
    earlier, later = standing(fit, baseline, 200), standing(fit, baseline, 600)
    assert isinstance(earlier, Standing) and isinstance(later, Standing)
    assert earlier.percent < later.percent
    assert earlier.ci_lower <= earlier.percent <= earlier.ci_upper
    a_year = predict(fit, baseline).by_month[1]  # type: ignore[union-attr]
    assert standing(fit, baseline, round(months_in_days(12))).percent == pytest.approx(  # type: ignore[union-attr]
        100 * a_year.probability, abs=0.2)
    assert later.text == (f"{later.percent:.0f} % of similar deposits in this clinic resolve "
                          f"sooner (95 % CI {later.ci_lower:.0f}-{later.ci_upper:.0f} %)")
    with pytest.raises(ValueError, match="at least one day"):
        standing(fit, baseline, 0)


def test_a_stored_fit_predicts_as_the_live_lifelines_fitter() -> None:
    """JSON round trip, then the stored parameters against lifelines' own predictions from a
    fitter fitted on the same design (started its own way)."""
    _, records, fit = cohort(1)
    stored = fit_from_json(json.loads(json.dumps(fit_to_json(fit))))
    assert stored == fit and stored.version == fit.version
    followed = [r for r in records if r.outcome.event or r.outcome.days > 0]
    assert fit.params is not None
    codings = fit.params.codings
    names = [f"x{i}" for i in range(len(fit.params.terms) - 1)]
    frame = pd.DataFrame([code_lesion(codings, r.baseline)[0] for r in followed], columns=names)
    frame["lower"] = [r.outcome.last_seen_days for r in followed]
    frame["upper"] = [r.outcome.days if r.outcome.event else np.inf for r in followed]
    live = WeibullAFTFitter(penalizer=1e-4).fit_interval_censoring(frame, "lower", "upper")
    sample = followed[:25]
    design = pd.DataFrame([code_lesion(codings, r.baseline)[0] for r in sample], columns=names)
    days = [months_in_days(m) for m in HORIZON_MONTHS]
    survival = live.predict_survival_function(design, times=days)
    medians = live.predict_median(design)
    for i, record in enumerate(sample):
        answer = predict(stored, record.baseline)
        assert isinstance(answer, Prediction)
        for j, p in enumerate(answer.by_month):
            assert p.probability == pytest.approx(1 - survival.iloc[j, i], abs=2e-3)
        if answer.median_days is not None:
            assert answer.median_days == pytest.approx(float(medians.iloc[i]), rel=5e-3)
    effects = {e.term: e for e in fit.effects}
    intervals = live.confidence_intervals_
    for name, term in zip(names, fit.params.terms[1:], strict=True):
        low, high = (math.exp(v) for v in intervals.loc[("lambda_", name)])
        assert effects[term].ci_lower == pytest.approx(low, rel=2e-2)
        assert effects[term].ci_upper == pytest.approx(high, rel=2e-2)
