"""§4 alerts of the hadd family: `hadd.no_resolution`, `hadd.unexpected_regrowth`,
`hadd.resorptive_bone_involvement`, `hadd.no_treatment_response`.

Reading choice: `hadd.no_treatment_response` is closed, between observations, by any treatment
dated after its `t` (on or before the next observation, or `as_of`), before that observation is
judged (`rule.treated_again`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tracker.engine.alerts.rule import AlertRule, Fired, OpenAlert, of_family, treated_again
from tracker.engine.response import kinds_on, latest_treatment_before
from tracker.engine.sizes import add_months, format_mm, longest, months_between
from tracker.engine.stages.hadd import RESORBED, RUN_STAGES
from tracker.engine.steps import Staged
from tracker.vocabulary import (
    AlertKind,
    Family,
    Feature,
    ResponseCategory,
    Severity,
    Stage,
    TreatmentKind,
)

# hadd.no_resolution [S9][S10][S3]; painless deposits (pain 0-2) may persist for years [S25][S30].
HADD_NO_RESOLUTION_MONTHS = 6
PAINLESS_MAX = 2

# hadd.no_treatment_response: lavaged deposits were smaller at 3 months [S29]; < 30 % is no
# partial response [S12].
RESPONSE_WINDOW_MONTHS = (3, 6)
NO_RESPONSE_ABOVE = Decimal("0.7")
RESPONSE_EXPECTED_AFTER = (
    TreatmentKind.LAVAGE,
    TreatmentKind.ESWT,
    TreatmentKind.INJECTION,
    TreatmentKind.SURGERY,
)


# --- hadd.no_resolution ---------------------------------------------------------------------------


def formative_run_start(s: Staged) -> date:
    """First date of the unbroken formative/resting run ending at s (carried stages included)."""
    start = s.date
    for e in reversed(s.step.earlier):
        if e.stage not in RUN_STAGES:
            break
        start = e.date
    return start


def hadd_no_resolution(s: Staged) -> Fired | None:
    """hadd.no_resolution: formative/resting for >= 6 months; info when painless (pain 0-2)."""
    if s.stage not in RUN_STAGES or not s.finding.visible:
        return None
    start = formative_run_start(s)
    if s.date < add_months(start, HADD_NO_RESOLUTION_MONTHS):
        return None
    pain = s.finding.pain
    severity = Severity.INFO if pain is not None and pain <= PAINLESS_MAX else Severity.WARNING
    return Fired(
        f"calcific deposit {format_mm(longest(s.finding))} mm without resorption for "
        f"{months_between(start, s.date)} months ({start.isoformat()} → {s.date.isoformat()})",
        severity,
    )


def hadd_resorbing(s: Staged, _: OpenAlert) -> bool:
    """Clears hadd.no_resolution and hadd.unexpected_regrowth: the deposit is going away."""
    return s.stage in RESORBED


# --- hadd.unexpected_regrowth ---------------------------------------------------------------------


def hadd_unexpected_regrowth(s: Staged) -> Fired | None:
    """hadd.unexpected_regrowth: forming again after resorption or resolution."""
    prev = s.step.prev_stage
    ref = s.step.ref
    if s.stage is not Stage.FORMATIVE or prev not in RESORBED or ref is None:
        return None
    if not s.finding.visible:
        return None
    a, b = longest(ref), longest(s.finding)  # 9a.21: a = last visible size before
    return Fired(
        f"deposit regrew after {prev.value} ({format_mm(a)}→{format_mm(b)} mm)", Severity.WARNING
    )


# --- hadd.resorptive_bone_involvement -------------------------------------------------------------


def hadd_resorptive_bone_involvement(s: Staged) -> Fired | None:
    """hadd.resorptive_bone_involvement: intraosseous HADD mimics infection or tumour [S1][S23].

    Warning when the bone is already lysed, else info.
    """
    f = s.finding
    if s.stage is not Stage.RESORPTIVE or Feature.INTRAOSSEOUS_EXTENSION not in f.features:
        return None
    lysis = Feature.BONE_LYSIS in f.features
    return Fired(
        "resorbing deposit extends into bone; may mimic infection or tumour, correlate clinically",
        Severity.WARNING if lysis else Severity.INFO,
    )


def hadd_bone_involvement_over(s: Staged, _: OpenAlert) -> bool:
    f = s.finding
    visible_without = f.visible and Feature.INTRAOSSEOUS_EXTENSION not in f.features
    return visible_without or s.stage in (Stage.POSTCALCIFIC, Stage.RESOLVED)


# --- hadd.no_treatment_response -------------------------------------------------------------------


def hadd_no_treatment_response(s: Staged) -> Fired | None:
    """hadd.no_treatment_response: 3-6 months after lavage/eswt/injection/surgery, < 30 % smaller.

    Judges one observation per `t`: the first visible one on the baseline's modality in the
    window (9a.32).
    """
    treatments = s.step.model.treatments
    t = latest_treatment_before(treatments, s.date)
    if t is None or not s.finding.visible:
        return None
    kinds = [k for k in kinds_on(treatments, t) if k in RESPONSE_EXPECTED_AFTER]
    response = s.response
    if not kinds or response is None:  # no baseline, or another modality
        return None
    start, end = (add_months(t, m) for m in RESPONSE_WINDOW_MONTHS)
    if not start <= s.date <= end:
        return None
    modality = s.finding.modality
    if any(
        e.finding.visible and e.finding.modality is modality and e.date >= start
        for e in s.step.earlier
    ):
        return None  # an earlier film in the window was the one judged
    baseline = next(e for e in s.step.earlier if e.date == response.baseline)
    a, b = longest(baseline.finding), longest(s.finding)
    if b <= NO_RESPONSE_ABOVE * a:
        return None
    return Fired(
        f"deposit {format_mm(b)} mm {months_between(t, s.date)} months after {kinds[0].value} "
        f"({format_mm(a)} mm before): less than 30% smaller",
        Severity.WARNING,
        treatment=t,
    )


def hadd_treatment_response_over(s: Staged, open_alert: OpenAlert) -> bool:
    """A partial or complete response, or any treatment after `t`, closes it."""
    response = s.response
    if response is not None and response.category in (
        ResponseCategory.PARTIAL,
        ResponseCategory.COMPLETE,
    ):
        return True
    dates = [t.date for t in s.step.model.treatments]
    return treated_again(dates, open_alert, s.date)


HADD_ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "hadd.no_resolution",
        AlertKind.NO_RESOLUTION,
        of_family(Family.HADD),
        hadd_no_resolution,
        hadd_resorbing,
    ),
    AlertRule(
        "hadd.unexpected_regrowth",
        AlertKind.UNEXPECTED_REGROWTH,
        of_family(Family.HADD),
        hadd_unexpected_regrowth,
        hadd_resorbing,
    ),
    AlertRule(
        "hadd.resorptive_bone_involvement",
        AlertKind.RESORPTIVE_BONE_INVOLVEMENT,
        of_family(Family.HADD),
        hadd_resorptive_bone_involvement,
        hadd_bone_involvement_over,
    ),
    AlertRule(
        "hadd.no_treatment_response",
        AlertKind.NO_TREATMENT_RESPONSE,
        of_family(Family.HADD),
        hadd_no_treatment_response,
        hadd_treatment_response_over,
    ),
)
