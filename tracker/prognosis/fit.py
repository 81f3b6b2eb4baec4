"""Fitting one family's model on its records: lifelines Weibull AFT, cross-validated, calibrated.

Why this model:
- **Interval censoring.** A resolution is seen only on the first negative film: the deposit
  vanished between the last film that showed it and that one. The likelihood uses the interval
  (lifelines `fit_interval_censoring`), so time ratios do not depend on how often a clinic
  re-images; dating the event at the negative film would stretch every time by the visit gap
  and pull effects towards 1.
- **Weibull AFT** (not Cox). It gives P(resolved by t) and the median for any lesion with
  intervals from a handful of numbers (the coefficients and their covariance): a stored fit
  predicts without the data; Cox would need the baseline hazard kept as a step function, and its
  predicted survival has no simple interval. Its effects read as time ratios ("resolution takes
  0.3 times as long"). A Weibull model is also a proportional-hazards model (HR = TR^-shape),
  with a monotone hazard; the calibration table shows where it fits badly.
- **Honesty.** Ten resolutions per parameter (`design.choose_codings`), a five-fold
  cross-validated C-index of at least 0.60 on held-out lesions, else a `Refusal`
  ("not enough follow-up data in this clinic").
- **Scale.** Identical rows are fitted once with a weight; the fit is vectorised (autograd), so
  a nightly refit of a million lesions takes minutes (bench/prognosis_figures.py).
- A tiny ridge penalty (`PENALIZER`, on standardised columns, lifelines' scale) keeps a
  level with no resolution from running off to infinity; it is far too small to move a
  supported estimate.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from tracker.prognosis.design import (
    Coding,
    Dropped,
    choose_codings,
    code_lesion,
    labels_of,
    terms_of,
    without_terms,
)
from tracker.prognosis.model import (
    LOW_C_INDEX,
    MIN_C_INDEX,
    MODEL,
    NO_FOLLOW_UP,
    NOT_ENOUGH,
    NOT_FITTED,
    TOO_FEW_EVENTS,
    CalibrationGroup,
    Effect,
    Fit,
    Refusal,
    WeibullParams,
)
from tracker.prognosis.outcome import Outcome
from tracker.prognosis.predict import Z95, months_in_days, probability_from
from tracker.prognosis.records import LesionRecord
from tracker.vocabulary import Family

PENALIZER = 1e-4
FOLDS = 5
CV_SEED = 20240101  # fixed: the same data always gives the same C-index
# Above this many lesions the cross-validation (and the calibration, from its held-out
# predictions) runs on a seeded random sample of this size: a C-index on 100,000 lesions has a
# standard error of a few thousandths, and a model fitted on 80,000 ranks like the full one,
# while five more fits of a million lesions would take most of the nightly run.
CV_MAX_LESIONS = 100_000
CALIBRATION_MONTHS = 12
Matrix = Any  # numpy array (numpy's own types would not add much here)


def observed_days(outcome: Outcome) -> float:
    """One time per lesion for rankings and Kaplan–Meier: a resolution at the middle of its
    interval (last film showing the deposit, first film without it), a censoring as is."""
    if outcome.event:
        return (outcome.last_seen_days + outcome.days) / 2
    return float(outcome.days)


def c_index(records: Sequence[LesionRecord], log_times: Sequence[float]) -> float:
    """Harrell's C of predicted log times against the observed ones (0.5 = chance)."""
    from lifelines.utils import concordance_index

    return float(concordance_index([observed_days(r.outcome) for r in records], list(log_times),
                                   [r.outcome.event for r in records]))


@dataclass(frozen=True)
class _Estimate:
    coefficients: np.ndarray[Any, Any]  # intercept first
    log_shape: float
    covariance: np.ndarray[Any, Any]


def _fitter(start: _Estimate | None, lower: Matrix, upper: Matrix) -> Any:
    """lifelines' Weibull AFT, started from `start` (a fit on overlapping data) or from a
    plain guess, instead of lifelines' own start: a univariate Weibull fit by Nelder-Mead,
    which took as long as the regression itself on a clinic-sized cohort."""
    from lifelines import WeibullAFTFitter

    finite = np.where(np.isfinite(upper), upper, lower)
    guess_log_scale = float(np.log(np.maximum(finite, 1.0)).mean()) + 1.0

    class WarmWeibullAFT(WeibullAFTFitter):  # type: ignore[misc]
        def _create_initial_point(self, Ts: Any, E: Any, entries: Any, weights: Any,
                                  Xs: Any) -> dict[str, Any]:
            # lifelines optimises on columns divided by their standard deviation
            scale = self._norm_std.loc["lambda_"].to_numpy(dtype=float)
            if start is None:
                lam = np.zeros(len(scale))
                lam[list(self._norm_std.loc["lambda_"].index).index("Intercept")] = (
                    guess_log_scale)
                return {"lambda_": lam, "rho_": np.zeros(1)}
            names = list(self._norm_std.loc["lambda_"].index)
            coefficients = dict(zip(["Intercept", *(f"x{i}" for i in range(len(names) - 1))],
                                    start.coefficients, strict=True))
            lam = np.array([coefficients[n] for n in names]) * scale
            return {"lambda_": lam, "rho_": np.array([start.log_shape])}

    return WarmWeibullAFT(penalizer=PENALIZER)


def _fit_weibull(x: Matrix, lower: Matrix, upper: Matrix, start: _Estimate | None = None
                 ) -> _Estimate:
    """Interval-censored Weibull AFT on identical rows grouped with weights."""
    import pandas as pd

    names = [f"x{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=names)
    frame["lower"], frame["upper"] = lower, upper
    grouped = frame.groupby([*names, "lower", "upper"], sort=False).size()
    data = grouped.reset_index(name="weight")
    fitter = _fitter(start, lower, upper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter.fit_interval_censoring(data, "lower", "upper", weights_col="weight")
    order = [("lambda_", "Intercept"), *(("lambda_", n) for n in names), ("rho_", "Intercept")]
    params = fitter.params_.loc[order].to_numpy(dtype=float)
    covariance = fitter.variance_matrix_.loc[order, order].to_numpy(dtype=float)
    return _Estimate(params[:-1], float(params[-1]), covariance)


def _design(codings: list[Coding], records: Sequence[LesionRecord]) -> Matrix:
    """One row per lesion, filled in place (a list of rows would take four times the memory
    of the matrix at a million lesions)."""
    x = np.empty((len(records), len(terms_of(codings))), dtype=float)
    for i, record in enumerate(records):
        x[i] = code_lesion(codings, record.baseline)[0]
    return x


def _bounds(records: Sequence[LesionRecord]) -> tuple[Matrix, Matrix]:
    lower = np.array([r.outcome.last_seen_days for r in records], dtype=float)
    upper = np.array([r.outcome.days if r.outcome.event else math.inf for r in records],
                     dtype=float)
    return lower, upper


def _independent_columns(x: Matrix, tolerance: float = 1e-8) -> list[int]:
    """Columns (in order) that add information beyond the earlier kept ones and the intercept:
    drops constant and collinear columns (e.g. a level equal to another covariate's levels)."""
    centred = x - x.mean(axis=0)
    gram = centred.T @ centred
    kept: list[int] = []
    for j in range(gram.shape[0]):
        variance = gram[j, j]
        if variance <= 0:
            continue
        explained = 0.0
        if kept:
            g = gram[np.ix_(kept, kept)]
            explained = float(gram[j, kept] @ np.linalg.lstsq(g, gram[kept, j], rcond=None)[0])
        if variance - explained > tolerance * variance:
            kept.append(j)
    return kept


def _drop_collinear(codings: list[Coding], x: Matrix
                    ) -> tuple[list[Coding], Matrix, list[Dropped]]:
    terms = terms_of(codings)
    kept = _independent_columns(x)
    removed = {t for i, t in enumerate(terms) if i not in kept}
    if not removed:
        return codings, x, []
    out: list[Coding] = []
    dropped: list[Dropped] = []
    for coding in codings:
        reduced = without_terms(coding, removed)
        if reduced is None:
            dropped.append(Dropped(coding.covariate, "collinear with covariates before it"))
            continue
        out.append(reduced)
        dropped += [Dropped(term, "collinear with covariates before it: counted with the "
                                  "reference level") for term in coding.terms if term in removed]
    columns = [i for i, t in enumerate(terms) if t in set(terms_of(out))]
    return out, x[:, columns], dropped


def _folds(events: Sequence[bool], folds: int) -> list[Matrix]:
    """Held-out index sets, each with its share of resolutions (stratified), seeded."""
    rng = np.random.default_rng(CV_SEED)
    flags = np.array(events, dtype=bool)
    parts: list[list[int]] = [[] for _ in range(folds)]
    for group in (np.flatnonzero(flags), np.flatnonzero(~flags)):
        shuffled = rng.permutation(group)
        for k in range(folds):
            parts[k] += shuffled[k::folds].tolist()
    return [np.array(sorted(p), dtype=int) for p in parts]


def _cv_sample(n: int) -> Matrix:
    """Indices of the lesions the cross-validation uses: all, or a seeded sample."""
    if n <= CV_MAX_LESIONS:
        return np.arange(n)
    return np.sort(np.random.default_rng(CV_SEED).choice(n, CV_MAX_LESIONS, replace=False))


def _cross_validate(records: Sequence[LesionRecord], x: Matrix, start: _Estimate
                    ) -> tuple[list[float], Matrix]:
    """C-index on each held-out fold, and every lesion's held-out P(resolved by 12 months)."""
    lower, upper = _bounds(records)
    design = np.column_stack([np.ones(len(records)), x])
    held_out_p = np.zeros(len(records))
    scores: list[float] = []
    horizon = months_in_days(CALIBRATION_MONTHS)
    for test in _folds([r.outcome.event for r in records], FOLDS):
        train = np.setdiff1d(np.arange(len(records)), test)
        estimate = _fit_weibull(x[train], lower[train], upper[train], start)
        log_scales = design[test] @ estimate.coefficients
        held_out_p[test] = [probability_from(s, estimate.log_shape, horizon) for s in log_scales]
        # a fold without a comparable pair has no C-index (lifelines: "No admissable pairs")
        with contextlib.suppress(ZeroDivisionError):
            scores.append(c_index([records[i] for i in test], log_scales.tolist()))
    return scores, held_out_p


def _calibration(records: Sequence[LesionRecord], predicted: Matrix
                 ) -> tuple[CalibrationGroup, ...]:
    """Risk groups (thirds, fifths from 100 resolutions) of held-out predictions: mean
    predicted against Kaplan–Meier observed resolution by 12 months, with counts."""
    from lifelines import KaplanMeierFitter

    events = sum(r.outcome.event for r in records)
    groups = 5 if events >= 100 else 3
    horizon = months_in_days(CALIBRATION_MONTHS)
    out = []
    for k, members in enumerate(np.array_split(np.argsort(predicted, kind="stable"), groups)):
        chosen = [records[i] for i in members]
        days = [observed_days(r.outcome) for r in chosen]
        flags = [r.outcome.event for r in chosen]
        observed = low = high = None
        if chosen and max(days) >= horizon:
            kmf = KaplanMeierFitter().fit(days, flags)
            bands = kmf.confidence_interval_survival_function_
            band = bands.iloc[int(np.searchsorted(bands.index, horizon, side="right")) - 1]
            observed = 1 - float(kmf.predict(horizon))
            low, high = 1 - float(band.iloc[1]), 1 - float(band.iloc[0])
        out.append(CalibrationGroup(
            group=k + 1, n=len(chosen),
            events_by_horizon=sum(f and d <= horizon for d, f in zip(days, flags, strict=True)),
            censored_before_horizon=sum(not f and d < horizon
                                        for d, f in zip(days, flags, strict=True)),
            predicted=float(np.mean(predicted[members])) if len(members) else 0.0,
            observed=observed, observed_ci_lower=low, observed_ci_upper=high,
        ))
    return tuple(out)


def _effects(codings: list[Coding], estimate: _Estimate, x: Matrix,
             records: Sequence[LesionRecord]) -> tuple[Effect, ...]:
    events = np.array([r.outcome.event for r in records], dtype=bool)
    out = []
    for j, (term, label) in enumerate(zip(terms_of(codings), labels_of(codings), strict=True)):
        beta = float(estimate.coefficients[j + 1])
        se = math.sqrt(max(float(estimate.covariance[j + 1, j + 1]), 0.0))
        continuous = any(c.kind == "continuous" and term == c.covariate for c in codings)
        members = np.ones(len(records), dtype=bool) if continuous else x[:, j] == 1.0
        out.append(Effect(term, label, math.exp(beta), math.exp(beta - Z95 * se),
                          math.exp(beta + Z95 * se), int(members.sum()),
                          int(events[members].sum())))
    return tuple(out)


def fit_family(family: str, records: Sequence[LesionRecord], *, fitted_at: datetime,
               engine_version: str, rules_revision: int) -> Fit:
    """The family's model on these records (other families' records are ignored)."""
    mine = [r for r in records if r.baseline.family == family]
    followed = [r for r in mine if r.outcome.event or r.outcome.days > 0]
    events = sum(r.outcome.event for r in followed)
    common: dict[str, Any] = {
        "family": family, "model": MODEL, "fitted_at": fitted_at.isoformat(),
        "engine_version": engine_version, "rules_revision": rules_revision,
        "n": len(followed), "events": events,
        "unconfirmed_events": sum(r.outcome.event and not r.outcome.confirmed for r in followed),
        "reimaged": sum(r.outcome.reimaged for r in followed),
        "contradicted": sum(r.outcome.contradicted for r in followed),
        "excluded_no_follow_up": len(mine) - len(followed),
        "censored_by_treatment": sum(r.outcome.censored_by_treatment for r in followed),
    }

    def refused(code: str, detail: str, **more: Any) -> Fit:
        return Fit(usable=False, refusal=Refusal(code, f"{NOT_ENOUGH}: {detail}"),
                   **common, **more)

    if not followed:
        return refused(NO_FOLLOW_UP, "no lesion of this family was imaged again after it was "
                                     "first seen")
    codings, dropped = choose_codings(family, followed)
    x = _design(codings, followed)
    if codings:
        codings, x, collinear = _drop_collinear(codings, x)
        dropped += collinear
    if not codings:
        return refused(TOO_FEW_EVENTS,
                       f"{events} resolutions among {len(followed)} followed lesions; a model "
                       "needs at least 10 per parameter", dropped=tuple(dropped))
    lower, upper = _bounds(followed)
    try:
        estimate = _fit_weibull(x, lower, upper)
        checked = _cv_sample(len(followed))
        folds, held_out = _cross_validate([followed[i] for i in checked], x[checked], estimate)
    except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
        return refused(NOT_FITTED, f"the model could not be fitted ({type(exc).__name__})",
                       dropped=tuple(dropped))
    concordance = float(np.mean(folds)) if folds else None
    concordance_ci = None
    if len(folds) > 1 and concordance is not None:
        from scipy.stats import t

        half = float(t.ppf(0.975, len(folds) - 1)) * float(np.std(folds, ddof=1)) / math.sqrt(
            len(folds))
        concordance_ci = (concordance - half, concordance + half)
    params = WeibullParams(
        terms=("Intercept", *terms_of(codings)),
        coefficients=tuple(float(b) for b in estimate.coefficients),
        log_shape=estimate.log_shape,
        covariance=tuple(tuple(float(v) for v in row) for row in estimate.covariance),
        codings=tuple(codings),
        max_follow_up_days=max(r.outcome.days for r in followed),
    )
    fitted: dict[str, Any] = {
        "covariates": tuple(c.covariate for c in codings), "dropped": tuple(dropped),
        "effects": _effects(codings, estimate, x, followed), "c_index": concordance,
        "c_index_ci": concordance_ci, "c_index_folds": tuple(folds),
        "calibration_months": CALIBRATION_MONTHS,
        "calibration": _calibration([followed[i] for i in checked], held_out),
        "params": params,
    }
    if concordance is None or concordance < MIN_C_INDEX:
        shown = "not measurable" if concordance is None else f"{concordance:.2f}"
        return refused(LOW_C_INDEX, "on lesions held out of the fit the model ranks times to "
                                    f"resolution little better than chance (C-index {shown}; "
                                    f"at least {MIN_C_INDEX:.2f} needed)", **fitted)
    return Fit(usable=True, refusal=None, **common, **fitted)


def fit_families(records: Sequence[LesionRecord], *, fitted_at: datetime, engine_version: str,
                 rules_revision: int) -> dict[str, Fit]:
    """One fit (used or refused) per entity family, in vocabulary order."""
    return {f.value: fit_family(f.value, records, fitted_at=fitted_at,
                                engine_version=engine_version, rules_revision=rules_revision)
            for f in Family}
