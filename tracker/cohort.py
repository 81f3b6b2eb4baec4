"""Cohort outcomes from stored assessments: time to resolution (Kaplan–Meier) and best response.

Read side only. Time to resolution runs from a lesion's first visible observation to its first
observation staged `resolved`, as `tracker.prognosis.outcome` defines it (an unconfirmed negative
that a later film contradicts is no resolution); a lesion not (yet) resolved is censored at the
last observation that showed it.
Strata are taken at baseline (the first visible observation), so a lesion's group never changes
with what happened later. Lesions whose stored assessment is not current (never assessed, or
changed since) are left out (and counted), since their stages are unknown rather than "not
resolved".

Two routes give the same subjects: `subjects` recomputes them from every observation (the
reference, and what `tracker.services.cohort_subjects` stores per lesion with its assessment),
`tallies` reads the stored rows grouped by (groups, days, outcome). The curves are fitted on
those groups with their counts as lifelines weights, which gives the same curve as one row per
lesion (tested), so the cost follows the number of distinct groups, not of lesions.

Honesty rules (one owner, here): the default split is by entity family, since pooling deposits
that resolve (tendinopathy) with ones that never do (phleboliths) describes neither; a group with
fewer than `MIN_LESIONS` lesions or `MIN_EVENTS` resolutions is "too few to estimate" (no median,
no interval, drawn dashed); a median bound that the curve's interval does not reach while it is
informative (survival above 0) is "not estimable", never a zero-width interval.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker import spreadsheets
from tracker.cohort_table import CohortCount, CohortResponseCount
from tracker.models import Assessment, Lesion, Observation
from tracker.prognosis.outcome import Visit, resolution_outcome
from tracker.vocabulary import ENTITIES, Entity, label

# The groups stored with each subject, and what a cohort can be split by (family from entity).
STORED = ("entity", "gartner", "bosworth", "region", "compartment")
STRATA = ("family", *STORED)
NO_SPLIT = "none"
BY_CHOICES = (*STRATA, NO_SPLIT)
DEFAULT_BY = "family"
UNKNOWN = "unknown"
ALL = "all"
# Below these a group's curve is shown but not summarised: "too few to estimate".
MIN_LESIONS = 10
MIN_EVENTS = 5
# A curve is drawn while at least this many lesions are at risk (its tail is noise).
MIN_AT_RISK_DRAWN = 5
TOO_FEW = "too few to estimate"
NOT_ESTIMABLE = "not estimable"
NOT_REACHED = "not reached"
FAMILY_LABELS = {
    "hadd": "Hydroxyapatite (HADD)",
    "ho": "Heterotopic ossification",
    "generic": "Other (generic family)",
    UNKNOWN: "Entity unknown",
}


@dataclass(frozen=True)
class CohortFilter:
    entity: str | None = None
    region: str | None = None
    compartment: str | None = None


EVERYONE = CohortFilter()


@dataclass(frozen=True)
class Subject:
    """One lesion as survival data: days from baseline to resolution (event) or censoring."""

    lesion_id: int
    baseline: date
    days: int
    resolved: bool
    groups: dict[str, str]
    best_change_pct: float | None

    def row(self) -> dict[str, Any]:
        """As a `cohort_subjects` row."""
        return {"lesion_id": self.lesion_id, "baseline": self.baseline, "days": self.days,
                "resolved": self.resolved, "best_change_pct": self.best_change_pct,
                **{k: self.groups[k] for k in STORED}}


@dataclass(frozen=True, order=True)
class Tally:
    """`n` lesions alike for the curves: same groups at baseline (`STORED` order), same days,
    same outcome."""

    groups: tuple[str, ...]
    days: int
    resolved: bool
    n: int

    def group(self, by: str) -> str:
        if by == NO_SPLIT:
            return ALL
        if by == "family":
            return family_of(self.groups[0])
        return self.groups[STORED.index(by)]


@dataclass
class CurveRow:
    days: int
    at_risk: int
    events: int
    censored: int
    survival: float
    ci_lower: float
    ci_upper: float


@dataclass
class Curve:
    """The Kaplan–Meier estimate of "still not resolved" for one group.

    `estimable` is False below `MIN_LESIONS` lesions or `MIN_EVENTS` resolutions: the curve is
    shown (dashed) but has no median. A `median_ci` bound of None is not estimable.
    """

    group: str
    label: str
    n: int
    events: int
    estimable: bool
    median_days: float | None
    median_ci: tuple[float | None, float | None]
    rows: list[CurveRow] = field(default_factory=list)

    @property
    def median_text(self) -> str:
        if not self.estimable:
            return TOO_FEW
        return NOT_REACHED if self.median_days is None else f"{self.median_days:.0f}"

    @property
    def ci_text(self) -> str:
        if not self.estimable:
            return TOO_FEW
        low, high = (NOT_ESTIMABLE if b is None else f"{b:.0f}" for b in self.median_ci)
        return f"{low} to {high}"


def family_of(entity: str) -> str:
    """The entity family a stored entity code belongs to (`unknown` without one)."""
    try:
        return ENTITIES[Entity(entity)].family.value
    except ValueError:
        return UNKNOWN


def group_label(by: str, code: str) -> str:
    """How a group reads on the page, in the legend and on the command line."""
    if code == ALL:
        return "All lesions"
    if by == "family":
        return FAMILY_LABELS.get(code, code)
    return label(code).split(" (")[0] if code != UNKNOWN else "Unknown"


# --------------------------------------------------------------------------- from scratch


def _entity_matches(entity: str) -> Any:
    return (Lesion.entity == entity) | (Lesion.entity.is_(None)
                                        & (Lesion.assessed_entity == entity))


def _lesion_filter(flt: CohortFilter) -> list[Any]:
    where = []
    if flt.entity:
        where.append(_entity_matches(flt.entity))
    if flt.region:
        where.append(Lesion.region == flt.region)
    if flt.compartment:
        where.append(Lesion.compartment == flt.compartment)
    return where


def _lesion_rows(session: Session, flt: CohortFilter,
                 ids: Sequence[int] | None = None) -> Iterator[Any]:
    query = (
        select(
            Lesion.id, Lesion.entity, Lesion.assessed_entity, Lesion.region, Lesion.compartment,
            Observation.date, Observation.visible, Observation.modality, Observation.size1_mm,
            Assessment.stage, Assessment.classifications,
        )
        .join(Observation, Observation.lesion_id == Lesion.id)
        .join(Assessment, Assessment.observation_id == Observation.id, isouter=True)
        .where(Lesion.assessment_current, *_lesion_filter(flt))
        .order_by(Lesion.id, Observation.date)
    )
    if ids is not None:
        query = query.where(Lesion.id.in_(ids))
    yield from session.execute(query.execution_options(yield_per=2000))


def _subject(rows: Sequence[Any]) -> Subject | None:
    """A lesion's observations (date order) as one survival subject, or None if it cannot be."""
    if any(row.stage is None for row in rows):
        return None  # stage unknown
    outcome = resolution_outcome(
        [Visit(row.date, row.visible, row.modality, row.stage) for row in rows])
    if outcome is None:
        return None  # never seen: no baseline
    base = next(row for row in rows if row.visible)
    later = [row for row in rows if row.date > base.date]
    first = rows[0]
    classes = base.classifications or {}
    groups = {
        "entity": first.entity or first.assessed_entity or UNKNOWN,
        "gartner": classes.get("gartner", UNKNOWN),
        "bosworth": classes.get("bosworth", UNKNOWN),
        "region": first.region,
        "compartment": first.compartment,
    }
    return Subject(lesion_id=first.id, baseline=base.date, days=outcome.days,
                   resolved=outcome.event, groups=groups,
                   best_change_pct=best_change_pct(base, later))


def best_change_pct(base: Any, later: Iterable[Any]) -> float | None:
    """Best (most negative) % change of the longest diameter from baseline.

    Only follow-ups in the baseline's modality are comparable (rules §1); a follow-up where the
    lesion is no longer seen counts as -100 %. None when there is no comparable follow-up.
    """
    changes: list[float] = []
    for row in later:
        if row.modality != base.modality:
            continue
        if not row.visible:
            changes.append(-100.0)
        elif row.size1_mm is not None and base.size1_mm:
            changes.append(round((row.size1_mm - base.size1_mm) / base.size1_mm * 100, 1))
    return min(changes) if changes else None


def subject_rows(session: Session, ids: Sequence[int] | None = None,
                 flt: CohortFilter = EVERYONE) -> Iterator[Subject]:
    """The subjects of these lesions (all without ids), recomputed from their observations;
    lesions without a current assessment or never seen have none."""
    for _, rows in groupby(_lesion_rows(session, flt, ids), key=lambda row: row.id):
        subject = _subject(list(rows))
        if subject is not None:
            yield subject


def _pending_count(session: Session, flt: CohortFilter) -> int:
    """Lesions whose data changed since their assessment (the outbox mark, indexed): left out
    until assessed. A lesion never seen has no time zero and is simply not a subject."""
    return session.scalar(select(func.count(Lesion.id)).where(
        Lesion.assessment_due_at.is_not(None), *_lesion_filter(flt))) or 0


def subjects(session: Session, flt: CohortFilter = EVERYONE) -> tuple[list[Subject], int]:
    """Every lesion that can be followed, recomputed from scratch (the reference for the stored
    rows), and how many were left out (not assessed since their data changed)."""
    return list(subject_rows(session, flt=flt)), _pending_count(session, flt)


def tally(items: Iterable[Subject]) -> list[Tally]:
    """Subjects grouped as `tallies` reads them from the stored rows."""
    counts = Counter((tuple(s.groups[k] for k in STORED), s.days, s.resolved) for s in items)
    return sorted(Tally(g, d, r, n) for (g, d, r), n in counts.items())


# --------------------------------------------------------------------------- stored rows


def response_pct(best_change_pct: float | None) -> int | None:
    """The waterfall's bin: the best % change to the nearest whole percent."""
    return None if best_change_pct is None else round(best_change_pct)


def _stored_filter(table: Any, flt: CohortFilter) -> list[Any]:
    return [col == value for col, value in ((table.entity, flt.entity),
                                            (table.region, flt.region),
                                            (table.compartment, flt.compartment)) if value]


def tallies(session: Session, flt: CohortFilter = EVERYONE) -> tuple[list[Tally], int]:
    """The stored subjects' counts (a few thousand rows whatever the cohort's size), and how
    many lesions were left out."""
    c = CohortCount
    rows = session.execute(
        select(*(getattr(c, k) for k in STORED), c.days, c.resolved, c.n)
        .where(c.n > 0, *_stored_filter(c, flt))).all()
    found = sorted(Tally(tuple(r[:5]), int(r[5]), bool(r[6]), int(r[7])) for r in rows)
    return found, _pending_count(session, flt)


def response_bins(session: Session, flt: CohortFilter = EVERYONE) -> list[tuple[str, int, int]]:
    """(entity, best % change to the nearest whole percent, lesions): the waterfall's bars
    binned, so the chart's size does not grow with the cohort."""
    c = CohortResponseCount
    rows = session.execute(
        select(c.entity, c.pct, func.sum(c.n)).where(c.n > 0, *_stored_filter(c, flt))
        .group_by(c.entity, c.pct)).all()
    return sorted((str(e), int(p), int(n)) for e, p, n in rows)


# --------------------------------------------------------------------------- the curves


def split(items: Sequence[Tally], by: str) -> list[tuple[str, list[Tally]]]:
    """The tallies by stratum (all of them as "all" without one), in alphabetical order."""
    if by not in BY_CHOICES:
        raise ValueError(f"cannot split by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    groups: dict[str, list[Tally]] = {}
    for item in items:
        groups.setdefault(item.group(by), []).append(item)
    return sorted(groups.items())


def fit(members: Sequence[Tally], name: str) -> Any:
    """A lifelines Kaplan–Meier fit on grouped durations, each weighted by its count."""
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter().fit([m.days for m in members], [m.resolved for m in members],
                                   weights=[m.n for m in members], label=name)


def _median_ci(kmf: Any, name: str) -> tuple[float | None, float | None]:
    """The median's 95 % bounds where the interval is informative (survival above 0).

    Where the curve reaches 0 its interval collapses to 0 as well: a bound first reached
    there says nothing (it made "450 to 450"), so it is not estimable (None).
    """
    ci = kmf.confidence_interval_survival_function_
    informative = kmf.survival_function_[name] > 0
    bounds: list[float | None] = []
    for column in (f"{name}_lower_0.95", f"{name}_upper_0.95"):
        below = ci.index[informative & (ci[column] <= 0.5)]
        bounds.append(float(below[0]) if len(below) else None)
    low, high = bounds
    if low is not None and high is not None and low >= high:
        return None, None  # zero width: no interval
    return low, high


def kaplan_meier(items: Sequence[Tally], by: str = DEFAULT_BY) -> list[Curve]:
    """One Kaplan–Meier curve per group (lifelines), groups in alphabetical order."""
    curves = []
    for name, members in split(items, by):
        kmf = fit(members, name)
        table = kmf.event_table
        ci = kmf.confidence_interval_survival_function_
        survival = kmf.survival_function_[name]
        rows = [
            CurveRow(
                days=int(t), at_risk=round(table.at[t, "at_risk"]),
                events=round(table.at[t, "observed"]), censored=round(table.at[t, "censored"]),
                survival=round(float(survival.at[t]), 4),
                ci_lower=round(float(ci.at[t, f"{name}_lower_0.95"]), 4),
                ci_upper=round(float(ci.at[t, f"{name}_upper_0.95"]), 4),
            )
            for t in table.index
        ]
        n = sum(m.n for m in members)
        events = sum(m.n for m in members if m.resolved)
        estimable = n >= MIN_LESIONS and events >= MIN_EVENTS
        curves.append(Curve(
            group=name, label=group_label(by, name), n=n, events=events, estimable=estimable,
            median_days=_finite(kmf.median_survival_time_) if estimable else None,
            median_ci=_median_ci(kmf, name) if estimable else (None, None), rows=rows,
        ))
    return curves


def _finite(value: Any) -> float | None:
    number = float(value)
    return None if number != number or number in (float("inf"), float("-inf")) else number


CSV_COLUMNS = ("group", "days", "at_risk", "events", "censored", "survival", "ci_lower",
               "ci_upper")


def curves_csv(curves: Sequence[Curve]) -> str:
    """The table of each curve, one row per event or censoring time."""
    out = io.StringIO()
    writer = spreadsheets.writer(out)
    writer.writerow(CSV_COLUMNS)
    for curve in curves:
        for row in curve.rows:
            writer.writerow([curve.group, row.days, row.at_risk, row.events, row.censored,
                             row.survival, row.ci_lower, row.ci_upper])
    return out.getvalue()
