"""§4 Alerts, as of a date: walk the observations, at each clear open alerts, then fire.

Reading choices:
- Carried observations (H1, O1, G1) neither trigger nor clear any alert (§4), not even with new
  `bone_lysis` recorded on them: 9a.15 lets features on a *not-visible* observation count, but §4
  excludes carried ones explicitly, so only a non-MR not-seen finding can fire
  `any.rapid_progression` through new lysis.
- `ho.atypical` "maturity fell" compares a visible HO stage with the highest stage reached by an
  earlier *visible* observation on the same modality (a carried stage was never seen). Where
  several atypical signs are present the reason names the first in template order. Central
  mineralisation counts on any observation that is not carried.
- `any.rapid_progression` measures `{d}` from `ref(o)` to `o`; percentages in reasons are of
  `L(ref(o))`. The HADD spreading-deposit exemption cancels only the growth part (9a.14).
- An alert already open keeps its `since`; a later observation meeting its trigger again
  refreshes the reason (9a.1). `follow_up_overdue` names the latest observation's stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from tracker.engine.model import AlertCall
from tracker.engine.sizes import (
    Change,
    SizeComparison,
    add_months,
    exceeds,
    format_mm,
    longest,
    months_between,
)
from tracker.engine.stages.hadd import RESORBED, RUN_STAGES, SPREADING
from tracker.engine.stages.ho import HO_ORDER
from tracker.engine.steps import Staged
from tracker.vocabulary import SEVERITY_RANK, AlertKind, Family, Feature, Severity, Stage

HADD_NO_RESOLUTION_MONTHS = 6  # hadd.no_resolution [S9][S10][S3]
HO_NOT_MATURING_MONTHS = 6  # ho.not_maturing: earliest usual maturity [S15]
RAPID_PROGRESSION_MONTHS = 3  # any.rapid_progression [S1][S19]-[S22]
RAPID_GROWTH_MM = Decimal("2")
RAPID_GROWTH_FRACTION = Decimal("0.50")  # design: far beyond the 20 % noise band
XMOD_RAPID_GROWTH_MM = Decimal("4")
XMOD_RAPID_GROWTH_FRACTION = Decimal("1.00")

Trigger = Callable[[Staged], str | None]  # the reason when the trigger holds
Clears = Callable[[Staged], bool]


@dataclass(frozen=True)
class AlertRule:
    rule: str
    kind: AlertKind
    severity: Severity
    family: Family | None  # None: every family
    trigger: Trigger
    clears: Clears


def formative_run_start(s: Staged) -> date:
    """First date of the unbroken formative/resting run ending at s (carried stages included)."""
    start = s.date
    for e in reversed(s.step.earlier):
        if e.stage not in RUN_STAGES:
            break
        start = e.date
    return start


def hadd_no_resolution(s: Staged) -> str | None:
    """hadd.no_resolution: formative/resting for >= 6 months between observations [S9][S10][S3]."""
    if s.stage not in RUN_STAGES or not s.finding.visible:
        return None
    start = formative_run_start(s)
    if s.date < add_months(start, HADD_NO_RESOLUTION_MONTHS):
        return None
    return (
        f"calcific deposit {format_mm(longest(s.finding))} mm without resorption for "
        f"{months_between(start, s.date)} months ({start.isoformat()} → {s.date.isoformat()})"
    )


def hadd_resorbing(s: Staged) -> bool:
    """Clears hadd.no_resolution and hadd.unexpected_regrowth: the deposit is going away."""
    return s.stage in RESORBED


def hadd_unexpected_regrowth(s: Staged) -> str | None:
    """hadd.unexpected_regrowth: forming again after resorption or resolution."""
    prev = s.step.prev_stage
    ref = s.step.ref
    if s.stage is not Stage.FORMATIVE or prev not in RESORBED or ref is None:
        return None
    if not s.finding.visible:
        return None
    a, b = longest(ref), longest(s.finding)  # 9a.21: a = last visible size before
    return f"deposit regrew after {prev.value} ({format_mm(a)}→{format_mm(b)} mm)"


def hadd_resorptive_bone_involvement(s: Staged) -> str | None:
    """hadd.resorptive_bone_involvement: intraosseous HADD mimics infection or tumour [S1][S23]."""
    if s.stage is Stage.RESORPTIVE and Feature.INTRAOSSEOUS_EXTENSION in s.finding.features:
        return (
            "resorbing deposit extends into bone; may mimic infection or tumour, "
            "correlate clinically"
        )
    return None


def hadd_bone_involvement_over(s: Staged) -> bool:
    f = s.finding
    visible_without = f.visible and Feature.INTRAOSSEOUS_EXTENSION not in f.features
    return visible_without or s.stage in (Stage.POSTCALCIFIC, Stage.RESOLVED)


def ho_not_maturing(s: Staged) -> str | None:
    """ho.not_maturing: seen, not mature 6 months after the anchor [S15] (post-surgical: [S16])."""
    if s.stage not in (Stage.HO_EARLY, Stage.HO_INTERMEDIATE):
        return None
    if not (s.finding.visible or s.step.seen_before):
        return None
    event = s.step.model.event_date
    first = s.step.earlier[0].date if s.step.earlier else s.date  # 9a.16: any visibility
    anchor = event if event is not None else first
    if s.date < add_months(anchor, HO_NOT_MATURING_MONTHS):
        return None
    what = "event" if event is not None else "first observation"
    return (
        f"ossification not mature {months_between(anchor, s.date)} months after {what}; "
        "post-surgical HO may take 12-18 months"
    )


def ho_matured_or_gone(s: Staged) -> bool:
    return s.stage in (Stage.HO_MATURE, Stage.RESOLVED)


def maturity_fell(s: Staged) -> tuple[Stage, Stage] | None:
    """Highest HO stage seen earlier on this modality, when higher than the current one."""
    f = s.finding
    if not f.visible or s.stage not in HO_ORDER:
        return None
    reached = [
        HO_ORDER.index(e.stage)
        for e in s.step.earlier
        if e.finding.visible and e.finding.modality is f.modality and e.stage in HO_ORDER
    ]
    if reached and max(reached) > HO_ORDER.index(s.stage):
        return HO_ORDER[max(reached)], s.stage
    return None


def ho_atypical(s: Staged) -> str | None:
    """ho.atypical: MO matures from the periphery inwards; the reverse suggests sarcoma [S18]."""
    suffix = ": atypical for HO, exclude sarcoma"
    if Feature.CENTRAL_MINERALIZATION in s.finding.features:
        return "central mineralisation" + suffix
    comparison = s.step.comparison
    if (
        comparison is not None
        and comparison.change is Change.GROWTH
        and s.step.prev_stage is Stage.HO_MATURE
    ):
        return f"growth after maturity +{comparison.percent}%" + suffix
    fell = maturity_fell(s)
    if fell is not None:
        x, y = fell
        return f"maturity fell {x.value}→{y.value} on {s.finding.modality.value}" + suffix
    return None


def never(s: Staged) -> bool:
    """ho.atypical never clears: a red flag stays until the entity changes."""
    return False


def rapid_growth(s: Staged) -> SizeComparison | None:
    """Growth >= 50 % and >= 2 mm (xmod: 100 %, 4 mm), except a spreading HADD deposit."""
    c = s.step.comparison
    if c is None:
        return None
    if s.step.model.family is Family.HADD and SPREADING & set(s.finding.features):
        return None  # 9a.14: comet tail / bursal migration cancel only the growth part
    mm = XMOD_RAPID_GROWTH_MM if c.xmod else RAPID_GROWTH_MM
    fraction = XMOD_RAPID_GROWTH_FRACTION if c.xmod else RAPID_GROWTH_FRACTION
    return c if exceeds(c.b - c.a, c.a, mm, fraction) else None


def any_rapid_progression(s: Staged) -> str | None:
    """any.rapid_progression: within 3 months of ref(o), fast growth or new bone lysis."""
    ref = s.step.ref
    if ref is None or s.date > add_months(ref.date, RAPID_PROGRESSION_MONTHS):
        return None
    growth = rapid_growth(s)
    lysis = s.step.new_bone_lysis
    if growth is None and not lysis:
        return None
    days = (s.date - ref.date).days
    if growth is None:
        return f"new bone lysis within {days} days"
    sizes = f"({format_mm(growth.a)}→{format_mm(growth.b)} mm)"
    also = " and new bone lysis" if lysis else ""
    return f"size +{growth.percent}% {sizes}{also} within {days} days"


def rapid_progression_over(s: Staged) -> bool:
    steady = not s.finding.visible or s.step.change in (Change.STABLE, Change.DECREASE)
    return steady and not s.step.new_bone_lysis


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "hadd.no_resolution",
        AlertKind.NO_RESOLUTION,
        Severity.WARNING,
        Family.HADD,
        hadd_no_resolution,
        hadd_resorbing,
    ),
    AlertRule(
        "hadd.unexpected_regrowth",
        AlertKind.UNEXPECTED_REGROWTH,
        Severity.WARNING,
        Family.HADD,
        hadd_unexpected_regrowth,
        hadd_resorbing,
    ),
    AlertRule(
        "hadd.resorptive_bone_involvement",
        AlertKind.RESORPTIVE_BONE_INVOLVEMENT,
        Severity.INFO,
        Family.HADD,
        hadd_resorptive_bone_involvement,
        hadd_bone_involvement_over,
    ),
    AlertRule(
        "ho.not_maturing",
        AlertKind.HO_NOT_MATURING,
        Severity.WARNING,
        Family.HO,
        ho_not_maturing,
        ho_matured_or_gone,
    ),
    AlertRule("ho.atypical", AlertKind.HO_ATYPICAL, Severity.URGENT, Family.HO, ho_atypical, never),
    AlertRule(
        "any.rapid_progression",
        AlertKind.RAPID_PROGRESSION,
        Severity.URGENT,
        None,
        any_rapid_progression,
        rapid_progression_over,
    ),
)
FOLLOW_UP_OVERDUE_RULE = "any.follow_up_overdue"


def walk_alerts(staged: Sequence[Staged], family: Family) -> dict[str, AlertCall]:
    """§4: at each observation clear first, then fire; carried stages do neither."""
    rules = [r for r in ALERT_RULES if r.family is None or r.family is family]
    open_alerts: dict[str, AlertCall] = {}
    for s in staged:
        if s.carried:  # H1/O1/G1: MR not seeing calcium is not news (§4)
            continue
        for r in rules:
            if r.rule in open_alerts and r.clears(s):
                del open_alerts[r.rule]
        for r in rules:
            reason = r.trigger(s)
            if reason is None:
                continue
            if r.rule in open_alerts:  # 9a.1: keep since, refresh reason
                open_alerts[r.rule] = replace(open_alerts[r.rule], reason=reason)
            else:
                open_alerts[r.rule] = AlertCall(r.kind, r.severity, s.date, reason, r.rule)
    return open_alerts


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


def alert_order(a: AlertCall) -> tuple[int, date, str]:
    return SEVERITY_RANK[a.severity], a.since, a.rule
