"""§4 alerts of the ho family: `ho.not_maturing`, `ho.atypical` and
`soft_tissue.unexplained_mass`.

Reading choices:
- `ho.atypical` (4) "maturity fell" compares a visible HO stage with the highest stage reached by
  an earlier *visible* observation on the same modality (a carried stage was never seen).
  Central mineralisation (1) counts on any observation that is not carried. "Growth" in (2)/(3)
  is §1's `growth` against `ref(o)`.
- After an unconfirmed resolution, a missed projection (O4b) is read like any HO stage here: the
  real `prev(o)` is `resolved` (as 9a.26 reads H4b), so (2) needs none, and (4) still compares
  with the stages reached before the negative film.
"""

from __future__ import annotations

from datetime import timedelta

from tracker.engine.alerts.rule import AlertRule, Fired, OpenAlert, of_family
from tracker.engine.sizes import Change, SizeComparison, add_months, months_between
from tracker.engine.stages.ho import HO_ORDER, anchor
from tracker.engine.steps import Model, Staged, Step
from tracker.vocabulary import (
    AlertKind,
    Compartment,
    EventKind,
    Family,
    Feature,
    Pattern,
    Severity,
    Stage,
)

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

HO_CUE_FEATURES = frozenset({Feature.ZONAL_PERIPHERAL, Feature.BONE_ORGANIZATION})
HO_CUE_PATTERNS = frozenset({Pattern.BONE, Pattern.SHELL})


def has_ho_cue(s: Staged) -> bool:
    """HO cue on a visible film: zonal_peripheral, bone_organization, pattern bone or shell."""
    f = s.finding
    return f.visible and (bool(HO_CUE_FEATURES & set(f.features)) or f.pattern in HO_CUE_PATTERNS)


# --- ho.not_maturing ------------------------------------------------------------------------------


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


# --- ho.atypical ----------------------------------------------------------------------------------


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


# --- soft_tissue.unexplained_mass -----------------------------------------------------------------


def suggested_soft_tissue_ho(model: Model) -> bool:
    """9a.30: only when ho was chosen by suggestion for a soft-tissue lesion."""
    return (
        model.family is Family.HO
        and model.suggested
        and model.compartment is Compartment.SOFT_TISSUE
    )


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


HO_ALERT_RULES: tuple[AlertRule, ...] = (
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
)
