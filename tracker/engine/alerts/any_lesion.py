"""§4 alerts of every family: `any.rapid_progression`, `any.model_changed` and
`any.follow_up_overdue` (the one evaluated at `as_of`, after §5).

Reading choices:
- `any.rapid_progression` measures `{d}` from `ref(o)` to `o`; percentages in reasons are of
  `L(ref(o))`.
- `any.model_changed` compares the families of the §6 top suggestions from the observations up to
  `o` and up to `prev(o)`; only for an entity chosen by suggestion (9a.31).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from tracker.engine.alerts.ho import HO_ZONING_DAYS
from tracker.engine.alerts.rule import AlertRule, Fired, OpenAlert
from tracker.engine.model import AlertCall
from tracker.engine.sizes import Change, SizeComparison, add_months, exceeds, format_mm, longest
from tracker.engine.stages.hadd import SPREADING
from tracker.engine.stages.ho import anchor
from tracker.engine.steps import Model, Staged
from tracker.vocabulary import ENTITIES, AlertKind, Family, Feature, Severity

# any.rapid_progression [S1][S19]-[S22]; 50 % design: far beyond the 20 % noise band.
RAPID_PROGRESSION_MONTHS = 3
RAPID_GROWTH_MM = Decimal("2")
RAPID_GROWTH_FRACTION = Decimal("0.50")
XMOD_RAPID_GROWTH_MM = Decimal("4")
XMOD_RAPID_GROWTH_FRACTION = Decimal("1.00")
# Clearing needs an image >= 4 weeks later, as iRECIST confirms progression [S26].
RAPID_CLEARING_DAYS = 28

RAPID_PROGRESSION_RULE = "any.rapid_progression"
FOLLOW_UP_OVERDUE_RULE = "any.follow_up_overdue"


def every_lesion(model: Model) -> bool:
    return True


# --- any.rapid_progression ------------------------------------------------------------------------


def rapid_growth(s: Staged) -> SizeComparison | None:
    """Counted growth >= 50 % and >= 2 mm (xmod: 100 %, 4 mm), less the two exemptions."""
    step = s.step
    c = step.comparison
    if c is None:
        return None
    family, features = step.model.family, set(s.finding.features)
    if family is Family.HADD and SPREADING & features:
        return None  # 9a.14: a spreading deposit; comet tail / bursal migration
    if (
        family is Family.HO
        and s.date < anchor(step) + timedelta(days=HO_ZONING_DAYS)
        and Feature.CENTRAL_MINERALIZATION not in features
    ):
        return None  # HO grows fast in its first weeks [S13][S14]
    mm = XMOD_RAPID_GROWTH_MM if c.xmod else RAPID_GROWTH_MM
    fraction = XMOD_RAPID_GROWTH_FRACTION if c.xmod else RAPID_GROWTH_FRACTION
    return c if exceeds(c.b - c.a, c.a, mm, fraction) else None


def counted_new_lysis(s: Staged) -> bool:
    """New `bone_lysis`, except HADD lysis in continuity with a migrating deposit [S23]."""
    if not s.step.new_bone_lysis:
        return False
    return not (
        s.step.model.family is Family.HADD and Feature.INTRAOSSEOUS_EXTENSION in s.finding.features
    )


def any_rapid_progression(s: Staged) -> Fired | None:
    """any.rapid_progression: within 3 months of ref(o), fast growth or new bone lysis."""
    ref = s.step.ref
    if ref is None or s.date > add_months(ref.date, RAPID_PROGRESSION_MONTHS):
        return None
    fast = rapid_growth(s)
    lysis = counted_new_lysis(s)
    if fast is None and not lysis:
        return None
    days = (s.date - ref.date).days
    if fast is None:
        return Fired(f"new bone lysis within {days} days", Severity.URGENT)
    sizes = f"({format_mm(fast.a)}→{format_mm(fast.b)} mm)"
    also = " and new bone lysis" if lysis else ""
    return Fired(f"size +{fast.percent}% {sizes}{also} within {days} days", Severity.URGENT)


def rapid_progression_over(s: Staged, open_alert: OpenAlert) -> bool:
    """>= 28 days after `since`: no growth, no larger than at `since`, no counted new lysis."""
    since = open_alert.since
    if s.date < since.date + timedelta(days=RAPID_CLEARING_DAYS):
        return False
    steady = not s.finding.visible or s.step.change in (Change.STABLE, Change.DECREASE)
    if s.finding.visible and since.finding.visible:
        steady = steady and longest(s.finding) <= longest(since.finding)
    return steady and not counted_new_lysis(s)


# --- any.model_changed ----------------------------------------------------------------------------


def suggested(model: Model) -> bool:
    return model.suggested


def model_changed(s: Staged) -> Fired | None:
    """any.model_changed: the top suggestion's family differs from the one before o (design)."""
    step = s.step
    prev = step.prev
    if step.top is None or prev is None or prev.step.top is None:
        return None
    old, new = ENTITIES[prev.step.top].family, ENTITIES[step.top].family
    if old is new:
        return None
    return Fired(
        f"stage model changed {old.value}→{new.value} ({step.top.value}); "
        "earlier stages recomputed",
        Severity.INFO,
    )


def next_observation(s: Staged, _: OpenAlert) -> bool:
    return True


# --- any.follow_up_overdue ------------------------------------------------------------------------


def follow_up_overdue(latest: Staged, due: date | None, as_of: date) -> AlertCall | None:
    """any.follow_up_overdue: the planned imaging did not happen; cleared by a newer one."""
    if due is None or as_of <= due:
        return None
    reason = (
        f"follow-up due {due.isoformat()} ({latest.stage.value}); "
        f"no imaging since {latest.date.isoformat()}"
    )
    return AlertCall(
        AlertKind.FOLLOW_UP_OVERDUE,
        Severity.INFO,
        due + timedelta(days=1),
        reason,
        FOLLOW_UP_OVERDUE_RULE,
    )


ANY_LESION_ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        RAPID_PROGRESSION_RULE,
        AlertKind.RAPID_PROGRESSION,
        every_lesion,
        any_rapid_progression,
        rapid_progression_over,
    ),
    AlertRule(
        "any.model_changed",
        AlertKind.MODEL_CHANGED,
        suggested,
        model_changed,
        next_observation,
    ),
)
