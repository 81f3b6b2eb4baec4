"""Per-lesion predictions from a fit's stored parameters, with the standard library's `math`:
a page or the API predicts from a stored fit without numpy, pandas or lifelines (nor a
database), which only fitting needs.

Weibull AFT: S(t | x) = exp(-(t / exp(x·b))^rho), rho = exp(log_shape). Intervals by the delta
method from the coefficients' covariance, on scales where the estimate is close to normal:
P(resolved by t) = 1 - exp(-exp(eta)) with eta = rho (log t - x·b) (complementary log-log, so
the interval stays within 0-1 and P(6) <= P(12) <= P(24) holds for the estimates), and the
median on the log scale. Deterministic (no bootstrap draws), instant, and the same from a stored
fit as from the live one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tracker.prognosis.design import code_lesion, shown_value
from tracker.prognosis.model import (
    NOT_FITTED,
    Fit,
    Prediction,
    Probability,
    Standing,
    Unavailable,
    WeibullParams,
)
from tracker.prognosis.records import Baseline

Z95 = 1.959963984540054
HORIZON_MONTHS = (6, 12, 24)
DAYS_PER_MONTH = 365.25 / 12
_LOG_LOG_2 = math.log(math.log(2.0))


def months_in_days(months: float) -> float:
    return months * DAYS_PER_MONTH


def _quadratic(gradient: Sequence[float], covariance: Sequence[Sequence[float]]) -> float:
    return sum(g * sum(c * h for c, h in zip(row, gradient, strict=True))
               for g, row in zip(gradient, covariance, strict=True))


def design_vector(params: WeibullParams, baseline: Baseline) -> tuple[list[float], list[str]]:
    """(1, x...) in the order of `params.terms`, and notes on levels the fit never saw."""
    values, notes = code_lesion(params.codings, baseline)
    return [1.0, *values], notes


def log_scale(params: WeibullParams, x: Sequence[float]) -> float:
    """x·b: log of the Weibull scale in days (higher = slower resolution)."""
    return sum(b * v for b, v in zip(params.coefficients, x, strict=True))


def _cloglog(log_scale_days: float, log_shape: float, days: float) -> float:
    """eta = rho (log t - log scale): log of the cumulative hazard at `days`."""
    return math.exp(log_shape) * (math.log(days) - log_scale_days)


def _probability(eta: float) -> float:
    return -math.expm1(-math.exp(min(eta, 700.0)))


def probability_from(log_scale_days: float, log_shape: float, days: float) -> float:
    """P(resolved within `days`) = 1 - S(days) for a lesion of this Weibull scale."""
    return _probability(_cloglog(log_scale_days, log_shape, days))


def resolved_by(params: WeibullParams, x: Sequence[float], days: float
                ) -> tuple[float, float, float]:
    """P(resolved within `days` of baseline), with its 95 % CI."""
    eta = _cloglog(log_scale(params, x), params.log_shape, days)
    gradient = [-math.exp(params.log_shape) * v for v in x] + [eta]
    se = math.sqrt(max(_quadratic(gradient, params.covariance), 0.0))
    return _probability(eta), _probability(eta - Z95 * se), _probability(eta + Z95 * se)


def median_days(params: WeibullParams, x: Sequence[float]) -> tuple[float, float, float]:
    """Median time to resolution (days) with its 95 % CI."""
    inverse_shape = math.exp(-params.log_shape)
    log_median = log_scale(params, x) + inverse_shape * _LOG_LOG_2
    gradient = [*x, -inverse_shape * _LOG_LOG_2]
    se = math.sqrt(max(_quadratic(gradient, params.covariance), 0.0))
    return (math.exp(log_median), math.exp(log_median - Z95 * se),
            math.exp(log_median + Z95 * se))


def _same_family(fit: Fit, baseline: Baseline) -> None:
    if baseline.family != fit.family:
        raise ValueError(f"a {baseline.family} lesion cannot be predicted by the "
                         f"{fit.family} model")


def unavailable(fit: Fit) -> Unavailable:
    refusal = fit.refusal
    return Unavailable(fit.family, refusal.code if refusal else NOT_FITTED,
                       refusal.text if refusal else "no model fitted", fit.n, fit.events)


def predict(fit: Fit, baseline: Baseline) -> Prediction | Unavailable:
    """P(resolved by 6, 12, 24 months) and the median time for a lesion, or why not."""
    _same_family(fit, baseline)
    params = fit.params
    if not fit.usable or params is None or fit.c_index is None:
        return unavailable(fit)
    x, notes = design_vector(params, baseline)
    horizon = params.max_follow_up_days
    by_month = tuple(
        Probability(m, *resolved_by(params, x, months_in_days(m)),
                    extrapolated=months_in_days(m) > horizon)
        for m in HORIZON_MONTHS
    )
    median, low, high = median_days(params, x)
    median_note = None
    if median > horizon:
        median_note = (f"beyond the longest follow-up in this clinic "
                       f"({horizon / DAYS_PER_MONTH:.0f} months): not estimated")
    return Prediction(
        family=fit.family,
        model_version=fit.version,
        fitted_at=fit.fitted_at,
        n=fit.n,
        events=fit.events,
        c_index=fit.c_index,
        by_month=by_month,
        median_days=None if median_note else median,
        median_ci=None if median_note else (low, high),
        median_note=median_note,
        baseline=tuple((c.covariate, shown_value(c, baseline)) for c in params.codings),
        notes=tuple(notes),
    )


def standing_text(percent: float, low: float, high: float) -> str:
    """The one wording of where a lesion stands: the share of similar deposits that resolve
    within the time this one has already been seen (a clinician read "slower than 13 %" as a
    rank)."""
    return (f"{percent:.0f} % of similar deposits in this clinic resolve sooner "
            f"(95 % CI {low:.0f}-{high:.0f} %)")


def standing(fit: Fit, baseline: Baseline, days: int) -> Standing | Unavailable:
    """Share of similar deposits (same family and baseline) resolved within `days` of their
    baseline: for a lesion still there after `days` (e.g. its last film), how slow it is."""
    _same_family(fit, baseline)
    params = fit.params
    if not fit.usable or params is None:
        return unavailable(fit)
    if days <= 0:
        raise ValueError("a lesion's standing needs at least one day since its baseline")
    x, _ = design_vector(params, baseline)
    p, low, high = (100 * v for v in resolved_by(params, x, days))
    return Standing(days, p, low, high, standing_text(p, low, high), fit.version, fit.n,
                    fit.events)
