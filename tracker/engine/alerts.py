"""§4 Alerts, as of a date: walk the observations, at each clear open alerts, then fire.

Only observations dated on or before `as_of` reach the walk (§0). Reading choices:
- Carried observations (H1, O1, G1) neither trigger nor clear any alert (§4), not even with new
  `bone_lysis` recorded on them: 9a.15 lets features on a *not-visible* observation count, but §4
  excludes carried ones explicitly, so only a non-MR not-seen finding can fire
  `any.rapid_progression` through new lysis.
- An alert already open keeps its `since`; a later observation meeting its trigger again
  refreshes its reason and severity (9a.1, 9a.28).
- `ho.atypical` (4) "maturity fell" compares a visible HO stage with the highest stage reached by
  an earlier *visible* observation on the same modality (a carried stage was never seen).
  Central mineralisation (1) counts on any observation that is not carried.
- `any.rapid_progression` measures `{d}` from `ref(o)` to `o`; percentages in reasons are of
  `L(ref(o))`. "Growth" in `ho.atypical` (2)/(3) is §1's `growth` against `ref(o)`.
- `hadd.no_treatment_response` is closed, between observations, by any treatment dated after its
  `t` (on or before the next observation, or `as_of`), before that observation is judged.
- `any.model_changed` compares the families of the §6 top suggestions from the observations up to
  `o` and up to `prev(o)`; only for an entity chosen by suggestion (9a.31).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tracker.engine.model import AlertCall
from tracker.engine.response import kinds_on, latest_treatment_before
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
from tracker.engine.stages.ho import HO_ORDER, anchor
from tracker.engine.steps import Model, Staged, Step
from tracker.vocabulary import (
    ENTITIES,
    SEVERITY_RANK,
    AlertKind,
    Compartment,
    EventKind,
    Family,
    Feature,
    Pattern,
    ResponseCategory,
    Severity,
    Stage,
    TreatmentKind,
)

# hadd.no_resolution [S9][S10][S3]; painless deposits (pain 0-2) may persist for years [S25][S30].
HADD_NO_RESOLUTION_MONTHS = 6
PAINLESS_MAX = 2

# ho.not_maturing: MO matures by ~6 months [S15]; post-surgical HO in 12-18 months [S16].
HO_NOT_MATURING_MONTHS = 6
HO_SLOW_MATURING_MONTHS = 18
SLOW_MATURING_EVENTS = frozenset({EventKind.SURGERY, EventKind.ARTHROPLASTY, EventKind.BURN})

# ho.atypical (2): HO grew for up to 3 years after arthroplasty [S27] (other surgery, neurologic
# injury and burns assumed alike, design). (3): zoning at 5-8 weeks + 2 (design) [S13][S14].
HO_LATE_GROWTH_EVENTS = frozenset(
    {EventKind.SURGERY, EventKind.ARTHROPLASTY, EventKind.NEUROLOGIC, EventKind.BURN}
)
HO_LATE_GROWTH_MONTHS = 36
MO_EVENTS = frozenset({EventKind.TRAUMA})  # (3) applies after trauma or an unrecorded cause
HO_ZONING_DAYS = 10 * 7

# soft_tissue.unexplained_mass: no HO cue 8 weeks after first seen (design; [S1]).
UNEXPLAINED_MASS_DAYS = 8 * 7

# any.rapid_progression [S1][S19]-[S22]; 50 % design: far beyond the 20 % noise band.
RAPID_PROGRESSION_MONTHS = 3
RAPID_GROWTH_MM = Decimal("2")
RAPID_GROWTH_FRACTION = Decimal("0.50")
XMOD_RAPID_GROWTH_MM = Decimal("4")
XMOD_RAPID_GROWTH_FRACTION = Decimal("1.00")
# Clearing needs an image >= 4 weeks later, as iRECIST confirms progression [S26].
RAPID_CLEARING_DAYS = 28

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

HO_CUE_FEATURES = frozenset({Feature.ZONAL_PERIPHERAL, Feature.BONE_ORGANIZATION})
HO_CUE_PATTERNS = frozenset({Pattern.BONE, Pattern.SHELL})


@dataclass(frozen=True)
class Fired:
    """A trigger that holds at `o`: its reason and severity (and `t` for a treatment rule)."""

    reason: str
    severity: Severity
    treatment: date | None = None


@dataclass
class OpenAlert:
    """An alert open during the walk; `since` is the observation that first fired it."""

    rule: AlertRule
    since: Staged
    reason: str
    severity: Severity
    treatment: date | None = None

    def call(self) -> AlertCall:
        return AlertCall(
            self.rule.kind, self.severity, self.since.date, self.reason, self.rule.rule
        )


Trigger = Callable[[Staged], Fired | None]
Clears = Callable[[Staged, OpenAlert], bool]


@dataclass(frozen=True)
class AlertRule:
    rule: str
    kind: AlertKind
    applies: Callable[[Model], bool]
    trigger: Trigger
    clears: Clears


def has_ho_cue(s: Staged) -> bool:
    """HO cue on a visible film: zonal_peripheral, bone_organization, pattern bone or shell."""
    f = s.finding
    return f.visible and (bool(HO_CUE_FEATURES & set(f.features)) or f.pattern in HO_CUE_PATTERNS)


# --- hadd.no_resolution -----------------------------------------------------------------------


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


# --- hadd.unexpected_regrowth -------------------------------------------------------------------


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


# --- hadd.resorptive_bone_involvement -----------------------------------------------------------


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


# --- hadd.no_treatment_response -----------------------------------------------------------------


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


def treated_again(treatments_after: Sequence[date], open_alert: OpenAlert, until: date) -> bool:
    t = open_alert.treatment
    return t is not None and any(t < d <= until for d in treatments_after)


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


# --- ho.not_maturing ---------------------------------------------------------------------------


def ho_not_maturing(s: Staged) -> Fired | None:
    """ho.not_maturing: seen, still early/intermediate T months after A (by `event_kind`)."""
    step = s.step
    if s.stage not in (Stage.HO_EARLY, Stage.HO_INTERMEDIATE):
        return None
    if not (s.finding.visible or step.seen_before):
        return None
    kind = step.model.event_kind
    event = step.model.event_date
    if kind in SLOW_MATURING_EVENTS and event is not None:
        months, since, what, severity = HO_SLOW_MATURING_MONTHS, event, "event", Severity.INFO
    elif kind is EventKind.NEUROLOGIC:  # its clock starts when first seen [S28] (design)
        first_visible = next((e.date for e in step.earlier if e.finding.visible), s.date)
        months, since, what = HO_SLOW_MATURING_MONTHS, first_visible, "first visible observation"
        severity = Severity.INFO
    else:
        months, since, severity = HO_NOT_MATURING_MONTHS, anchor(step), Severity.WARNING
        what = "event" if event is not None else "first observation"
    if s.date < add_months(since, months):
        return None
    cause = (
        kind.value
        if kind is not None
        else "an unrecorded cause; post-surgical HO may take 12-18 months"
    )
    return Fired(
        f"ossification not mature {months_between(since, s.date)} months after {what}; "
        f"{months}-month threshold for {cause}",
        severity,
    )


def ho_matured_or_gone(s: Staged, _: OpenAlert) -> bool:
    return s.stage in (Stage.HO_MATURE, Stage.RESOLVED)


# --- ho.atypical -------------------------------------------------------------------------------


def maturity_fell(s: Staged) -> tuple[Stage, Stage] | None:
    """(4): highest HO stage seen earlier on this modality, when higher than the current one."""
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


def growth(step: Step) -> SizeComparison | None:
    c = step.comparison
    return c if c is not None and c.change is Change.GROWTH else None


def growth_after_maturity(s: Staged) -> str | None:
    """(2): growth after `ho_mature`; after surgery-like events only from 36 months [S27]."""
    step = s.step
    c = growth(step)
    if c is None or step.prev_stage is not Stage.HO_MATURE:
        return None
    kind, event = step.model.event_kind, step.model.event_date
    late = kind in HO_LATE_GROWTH_EVENTS and event is not None
    if late and event is not None and s.date < add_months(event, HO_LATE_GROWTH_MONTHS):
        return None
    exclude = (
        "exclude infection or loosening" if kind is EventKind.ARTHROPLASTY else "exclude sarcoma"
    )
    return f"growth after maturity +{c.percent}%: atypical for HO, {exclude}"


def growth_after_zoning(s: Staged) -> str | None:
    """(3): MO stops growing once zoned: growth from a film with an HO cue, >= 10 weeks on."""
    step = s.step
    c = growth(step)
    if c is None or s.stage not in (Stage.HO_EARLY, Stage.HO_INTERMEDIATE):
        return None
    i = step.ref_index
    kind = step.model.event_kind
    if i is None or not has_ho_cue(step.earlier[i]):  # 9a.33: the cue on ref(o) only
        return None
    if kind is not None and kind not in MO_EVENTS:
        return None
    start = anchor(step)
    if s.date < start + timedelta(days=HO_ZONING_DAYS):
        return None
    weeks = (s.date - start).days // 7
    what = "event" if step.model.event_date is not None else "first observation"
    return (
        f"growth +{c.percent}% {weeks} weeks after {what}: myositis ossificans stops growing "
        "once zoning appears; exclude sarcoma"
    )


def ho_atypical(s: Staged) -> Fired | None:
    """ho.atypical: the first of (1)-(4) that applies (9a.33); MO matures from the rim [S18]."""
    suffix = ": atypical for HO, exclude sarcoma"
    reason: str | None = None
    if Feature.CENTRAL_MINERALIZATION in s.finding.features:
        reason = "central mineralisation" + suffix
    reason = reason or growth_after_maturity(s) or growth_after_zoning(s)
    if reason is None:
        fell = maturity_fell(s)
        if fell is not None:
            x, y = fell
            reason = f"maturity fell {x.value}→{y.value} on {s.finding.modality.value}" + suffix
    return None if reason is None else Fired(reason, Severity.URGENT)


def never(s: Staged, _: OpenAlert) -> bool:
    """ho.atypical never clears: a red flag stays until the entity changes."""
    return False


# --- soft_tissue.unexplained_mass --------------------------------------------------------------


def unexplained_mass(s: Staged) -> Fired | None:
    """soft_tissue.unexplained_mass: a suggested HO without zoning or bone 8 weeks on [S1]."""
    if not s.finding.visible:
        return None
    seen = [e for e in (*s.step.earlier, s) if e.finding.visible]
    first = seen[0].date
    if s.date < first + timedelta(days=UNEXPLAINED_MASS_DAYS) or any(map(has_ho_cue, seen)):
        return None
    weeks = (s.date - first).days // 7
    return Fired(
        f"no zoning or bone {weeks} weeks after first seen: HO unconfirmed; a calcified "
        "soft-tissue tumour is in the differential, consider MR or biopsy",
        Severity.WARNING,
    )


def ho_cue_seen(s: Staged, _: OpenAlert) -> bool:
    return has_ho_cue(s)


# --- any.rapid_progression ---------------------------------------------------------------------


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


# --- any.model_changed -------------------------------------------------------------------------


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


# --- the walk ----------------------------------------------------------------------------------


def of_family(family: Family) -> Callable[[Model], bool]:
    return lambda model: model.family is family


def every_lesion(model: Model) -> bool:
    return True


def suggested_soft_tissue_ho(model: Model) -> bool:
    """9a.30: only when ho was chosen by suggestion for a soft-tissue lesion."""
    return (
        model.family is Family.HO
        and model.suggested
        and model.compartment is Compartment.SOFT_TISSUE
    )


def suggested(model: Model) -> bool:
    return model.suggested


ALERT_RULES: tuple[AlertRule, ...] = (
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
    AlertRule(
        "ho.not_maturing",
        AlertKind.HO_NOT_MATURING,
        of_family(Family.HO),
        ho_not_maturing,
        ho_matured_or_gone,
    ),
    AlertRule("ho.atypical", AlertKind.HO_ATYPICAL, of_family(Family.HO), ho_atypical, never),
    AlertRule(
        "soft_tissue.unexplained_mass",
        AlertKind.UNEXPLAINED_MASS,
        suggested_soft_tissue_ho,
        unexplained_mass,
        ho_cue_seen,
    ),
    AlertRule(
        "any.rapid_progression",
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
FOLLOW_UP_OVERDUE_RULE = "any.follow_up_overdue"
RAPID_PROGRESSION_RULE = "any.rapid_progression"
# Every rule id an alert can carry (the worklist's rule filter accepts these and stored ones).
RULE_IDS = frozenset({r.rule for r in ALERT_RULES} | {FOLLOW_UP_OVERDUE_RULE})


def walk_alerts(staged: Sequence[Staged], model: Model, as_of: date) -> list[OpenAlert]:
    """§4: at each observation clear first, then fire; carried stages do neither."""
    rules = [r for r in ALERT_RULES if r.applies(model)]
    treatment_dates = [t.date for t in model.treatments]
    open_alerts: dict[str, OpenAlert] = {}
    for s in staged:
        if s.carried:  # H1/O1/G1: MR not seeing calcium is not news (§4)
            continue
        for r in rules:
            current = open_alerts.get(r.rule)
            if current is not None and r.clears(s, current):
                del open_alerts[r.rule]
        for r in rules:
            fired = r.trigger(s)
            if fired is None:
                continue
            current = open_alerts.get(r.rule)
            if current is not None:  # 9a.1, 9a.28: keep since, refresh reason and severity
                current.reason, current.severity = fired.reason, fired.severity
                current.treatment = fired.treatment or current.treatment
            else:
                open_alerts[r.rule] = OpenAlert(r, s, fired.reason, fired.severity, fired.treatment)
    return [a for a in open_alerts.values() if not treated_again(treatment_dates, a, as_of)]


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
