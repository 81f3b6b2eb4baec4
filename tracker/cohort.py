"""Cohort outcomes from stored assessments: time to resolution (Kaplan–Meier) and best response.

Read side only. Time to resolution runs from a lesion's first visible observation to its first
observation staged `resolved`, as `tracker.prognosis.outcome` defines it (an unconfirmed negative
that a later film contradicts is no resolution); a lesion not (yet) resolved is censored at the
last observation that showed it.
Strata are taken at baseline (the first visible observation), so a lesion's group never changes
with what happened later. Lesions with no stored assessment yet are left out (and counted), since
their stages are unknown rather than "not resolved".
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker import spreadsheets
from tracker.models import Assessment, Lesion, Observation, Patient
from tracker.prognosis.outcome import Visit, resolution_outcome
from tracker.vocabulary import label

# What a cohort can be split by, and how each subject's group value is read at baseline.
STRATA = ("entity", "gartner", "bosworth", "region", "compartment")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class CohortFilter:
    entity: str | None = None
    region: str | None = None
    compartment: str | None = None


EVERYONE = CohortFilter()


@dataclass(frozen=True)
class Subject:
    """One lesion as survival data: days from baseline to resolution (event) or censoring."""

    patient: str
    lesion: str
    lesion_id: int
    baseline: date
    days: int
    resolved: bool
    groups: dict[str, str]
    best_change_pct: float | None


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
    """The Kaplan–Meier estimate of "still not resolved" for one group."""

    group: str
    n: int
    events: int
    median_days: float | None
    median_ci: tuple[float | None, float | None]
    rows: list[CurveRow] = field(default_factory=list)


def _lesion_rows(session: Session, flt: CohortFilter) -> Iterator[Any]:
    query = (
        select(
            Lesion.id, Lesion.external_id, Patient.external_id, Lesion.entity,
            Lesion.assessed_entity, Lesion.region, Lesion.compartment, Observation.date,
            Observation.visible, Observation.modality, Observation.size1_mm, Assessment.stage,
            Assessment.classifications,
        )
        .join(Patient, Patient.id == Lesion.patient_id)
        .join(Observation, Observation.lesion_id == Lesion.id)
        .join(Assessment, Assessment.observation_id == Observation.id, isouter=True)
        .order_by(Lesion.id, Observation.date)
    )
    if flt.entity:
        query = query.where(
            (Lesion.entity == flt.entity)
            | (Lesion.entity.is_(None) & (Lesion.assessed_entity == flt.entity))
        )
    if flt.region:
        query = query.where(Lesion.region == flt.region)
    if flt.compartment:
        query = query.where(Lesion.compartment == flt.compartment)
    yield from session.execute(query.execution_options(yield_per=2000))


def _subject(rows: Sequence[Any]) -> Subject | None:
    """A lesion's observations (date order) as one survival subject, or None if it cannot be."""
    if any(row.stage is None for row in rows):
        return None  # not assessed yet (or stale mid-assessment): stage unknown
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
    return Subject(
        patient=first[2], lesion=first.external_id, lesion_id=first.id, baseline=base.date,
        days=outcome.days, resolved=outcome.event, groups=groups,
        best_change_pct=best_change_pct(base, later),
    )


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


def subjects(session: Session, flt: CohortFilter = EVERYONE) -> tuple[list[Subject], int]:
    """Every lesion that can be followed, and how many were left out (unassessed or never seen)."""
    out: list[Subject] = []
    skipped = 0
    for _, rows in groupby(_lesion_rows(session, flt), key=lambda row: row.id):
        subject = _subject(list(rows))
        if subject is None:
            skipped += 1
        else:
            out.append(subject)
    return out, skipped


def _groups(items: Sequence[Subject], by: str | None) -> list[tuple[str, list[Subject]]]:
    """The subjects by stratum (all of them as "all" without one), in alphabetical order."""
    if by is not None and by not in STRATA:
        raise ValueError(f"cannot split by {by!r}: choose one of {', '.join(STRATA)}")
    groups: dict[str, list[Subject]] = {}
    for item in items:
        groups.setdefault(item.groups[by] if by else "all", []).append(item)
    return sorted(groups.items())


def _fit(members: Sequence[Subject], label: str) -> Any:
    """A lifelines Kaplan–Meier fit: time from first visible observation, event = resolved."""
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter()
    return kmf.fit([m.days for m in members], [m.resolved for m in members], label=label)


def kaplan_meier(items: Sequence[Subject], by: str | None = None) -> list[Curve]:
    """One Kaplan–Meier curve per group (lifelines), groups in alphabetical order."""
    from lifelines.utils import median_survival_times

    curves = []
    for name, members in _groups(items, by):
        kmf = _fit(members, name)
        table = kmf.event_table
        ci = kmf.confidence_interval_survival_function_
        survival = kmf.survival_function_[name]
        rows = [
            CurveRow(
                days=int(t), at_risk=int(table.at[t, "at_risk"]),
                events=int(table.at[t, "observed"]), censored=int(table.at[t, "censored"]),
                survival=round(float(survival.at[t]), 4),
                ci_lower=round(float(ci.at[t, f"{name}_lower_0.95"]), 4),
                ci_upper=round(float(ci.at[t, f"{name}_upper_0.95"]), 4),
            )
            for t in table.index
        ]
        median = _finite(kmf.median_survival_time_)
        bounds = median_survival_times(kmf.confidence_interval_)
        curves.append(Curve(
            group=name, n=len(members), events=sum(m.resolved for m in members),
            median_days=median,
            median_ci=(_finite(bounds.iloc[0, 0]), _finite(bounds.iloc[0, 1])), rows=rows,
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


def _figure(height: float = 5.0, layout: Literal["constrained"] | None = "constrained") -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(9, height), layout=layout)


def km_figure(items: Sequence[Subject], by: str | None = None) -> Any:
    """The curves with their 95 % bands and the number at risk under the plot."""
    from lifelines.plotting import add_at_risk_counts

    groups = _groups(items, by)
    rows = len(groups)
    fig = _figure(4.4 + 0.2 * rows, layout=None)
    ax = fig.add_subplot()
    fitters = []
    for name, members in groups:
        kmf = _fit(members, f"{short_label(name)} (n={len(members)})")
        kmf.plot_survival_function(ax=ax, ci_show=rows <= 4)
        fitters.append(kmf)
    ax.set_xlabel("days from first visible observation")
    ax.set_ylabel("probability not yet resolved")
    ax.set_ylim(0, 1.05)
    ax.set_title("Time to resolution" + (f" by {label(by)}" if by else ""))
    ax.legend(loc="lower left", fontsize="small", frameon=True)
    if fitters:
        add_at_risk_counts(*fitters, ax=ax, fig=fig, rows_to_show=["At risk"])
    # room for the at-risk table under the axes and its row labels on the left
    fig.subplots_adjust(left=0.3, right=0.97, top=1 - 0.5 / fig.get_figheight(),
                        bottom=(0.8 + 0.19 * rows) / fig.get_figheight())
    return fig


def short_label(code: str, width: int = 26) -> str:
    """A group's label short enough for a legend or the at-risk table."""
    text = label(code).split(" (")[0]
    return text if len(text) <= width else text[: width - 1] + "…"


def waterfall_figure(items: Sequence[Subject]) -> Any:
    """Best % change from baseline per lesion, largest growth left, coloured by entity."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    fig = _figure()
    ax = fig.add_subplot()
    bars = sorted((i for i in items if i.best_change_pct is not None),
                  key=lambda i: (-(i.best_change_pct or 0), i.patient, i.lesion))
    entities = sorted({i.groups["entity"] for i in bars})
    palette = colormaps["tab20"]
    colour = {name: palette(n % 20) for n, name in enumerate(entities)}
    ax.bar(range(len(bars)), [i.best_change_pct for i in bars],
           color=[colour[i.groups["entity"]] for i in bars], width=0.85)
    handles = [Patch(color=colour[name], label=short_label(name, 40)) for name in entities]
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("best change of longest diameter from baseline (%)")
    ax.set_xlabel(f"lesions (n={len(bars)})")
    ax.set_xticks([])
    ax.set_title("Best response per lesion")
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize="small")
    return fig


def figure_bytes(fig: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=110)
    return out.getvalue()
