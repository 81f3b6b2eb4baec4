"""What a prognosis fit and a prediction are: plain frozen dataclasses, JSON in and out.

A `Fit` holds everything a page, the CLI or storage needs, including the parameters that
predict (`WeibullParams`: coefficients and their covariance, never a pickled object), so a
stored fit predicts exactly as the live one did. Every number travels with its support (lesions,
resolutions) and its 95 % interval. pydantic reads a stored fit back and checks its shape.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from tracker.prognosis.design import Coding, Dropped

# The model kind and the version of its definitions (event, covariates, coding); a stored fit
# of another version is refitted, never read as this one.
MODEL = "weibull-aft/1"
MIN_C_INDEX = 0.60
NOT_ENOUGH = "not enough follow-up data in this clinic"

# Reason codes of a refusal (Refusal.code).
NO_FOLLOW_UP = "no_follow_up"
TOO_FEW_EVENTS = "too_few_events"
LOW_C_INDEX = "low_c_index"
NOT_FITTED = "not_fitted"


@dataclass(frozen=True)
class Refusal:
    """Why a family's model is not used: a code for programs, a sentence for people."""

    code: str
    text: str


@dataclass(frozen=True)
class Effect:
    """One term's time ratio (how much longer resolution takes; < 1 faster) with its 95 % CI,
    and the lesions and resolutions behind it (the level's own, or all for a number)."""

    term: str
    label: str
    time_ratio: float
    ci_lower: float
    ci_upper: float
    n: int
    events: int


@dataclass(frozen=True)
class CalibrationGroup:
    """Lesions grouped by predicted risk (held-out predictions): mean predicted probability of
    resolution by the horizon against the Kaplan–Meier estimate of the same group."""

    group: int
    n: int
    events_by_horizon: int
    censored_before_horizon: int
    predicted: float
    observed: float | None
    observed_ci_lower: float | None
    observed_ci_upper: float | None


@dataclass(frozen=True)
class WeibullParams:
    """S(t) = exp(-(t / exp(x·b))^exp(log_shape)), t in days; `covariance` over
    (coefficients..., log_shape). `codings` turn a baseline into x (after the intercept)."""

    terms: tuple[str, ...]
    coefficients: tuple[float, ...]
    log_shape: float
    covariance: tuple[tuple[float, ...], ...]
    codings: tuple[Coding, ...]
    max_follow_up_days: int


@dataclass(frozen=True)
class Fit:
    """One family's model as fitted on one day, used or refused.

    `c_index` is the mean over the held-out folds, its interval from their spread (t, k - 1
    degrees of freedom; folds share data, so it is if anything narrow).
    `n` lesions followed (seen, then looked at again), `events` resolutions among them, of which
    `unconfirmed_events` rest on a single negative film; `reimaged` single negatives were
    settled by a later film and `contradicted` of those were wrong (missed projections): the
    clinic's own measure of how far unconfirmed events overstate resolution.
    """

    family: str
    model: str
    fitted_at: str
    engine_version: str
    rules_revision: int
    usable: bool
    refusal: Refusal | None
    n: int
    events: int
    unconfirmed_events: int
    reimaged: int
    contradicted: int
    excluded_no_follow_up: int
    censored_by_treatment: int
    covariates: tuple[str, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    effects: tuple[Effect, ...] = ()
    c_index: float | None = None
    c_index_ci: tuple[float, float] | None = None
    c_index_folds: tuple[float, ...] = ()
    calibration_months: int = 12
    calibration: tuple[CalibrationGroup, ...] = ()
    params: WeibullParams | None = None

    @property
    def version(self) -> str:
        """A short content hash: two fits with the same version predict the same."""
        digest = hashlib.sha256(json.dumps(fit_to_json(self), sort_keys=True).encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Probability:
    """P(resolved by `months` after baseline) with its 95 % CI. `extrapolated`: the horizon lies
    beyond the longest follow-up in the fit's data."""

    months: int
    probability: float
    ci_lower: float
    ci_upper: float
    extrapolated: bool


@dataclass(frozen=True)
class Prediction:
    """What the family's model expects for one lesion from its baseline."""

    family: str
    model_version: str
    fitted_at: str
    n: int
    events: int
    c_index: float
    by_month: tuple[Probability, ...]
    median_days: float | None
    median_ci: tuple[float, float] | None
    median_note: str | None
    baseline: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Standing:
    """Where an unresolved lesion stands after `days`: the share of similar deposits (same
    family and baseline, this clinic's model) that would have resolved by then."""

    days: int
    percent: float
    ci_lower: float
    ci_upper: float
    text: str
    model_version: str
    n: int
    events: int


@dataclass(frozen=True)
class Unavailable:
    """No number for this lesion: the family's model is refused (`NOT_ENOUGH`) or missing."""

    family: str
    code: str
    text: str
    n: int
    events: int


_FIT = TypeAdapter(Fit)


def fit_to_json(fit: Fit) -> dict[str, Any]:
    """The fit as JSON-ready data (what storage keeps)."""
    data: dict[str, Any] = _FIT.dump_python(fit, mode="json")
    return data


def fit_from_json(data: Any) -> Fit:
    """A stored fit read back; raises pydantic's ValidationError on a malformed one."""
    return _FIT.validate_python(data)
