"""The timepoint table (lesions x visits, as RECIST trackers lay it out) and visit comparison.

Read side, for people: % changes of the longest diameter from baseline, from the nadir and from
the previous visit. The engine compares sizes for staging (rules §1) and for treatment response
(§7a); "change since the first visit of an untreated lesion is for the user interface, not the
engine" (§7a), so it is computed here with the same conventions: sizes compare only within one
modality, a finding not seen (other than on MR) is -100 %, one decimal rounded half away from 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from tracker.export import observation_snapshot
from tracker.facts import Film
from tracker.models import Lesion, Observation
from tracker.queries.timeline_page import PageLesion
from tracker.queries.timeline_page import Visit as PageVisit
from tracker.timeline.models import ObservationIn
from tracker.vocabulary import Modality

NOT_COMPARABLE = "not comparable"


def pct(value: float, reference: float) -> float:
    """100 x (value - reference) / reference, one decimal, halves away from zero; never -0.0."""
    exact = (Decimal(str(value)) - Decimal(str(reference))) * 100 / Decimal(str(reference))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)) + 0.0


@dataclass
class Change:
    """A % change, or why there is none (`not comparable (XR→US)`, `no baseline`)."""

    value: float | None = None
    why: str | None = None

    def __str__(self) -> str:
        if self.value is None:
            return self.why or ""
        return f"{self.value:+.1f} %"


class Measured(Film, Protocol):
    """What a % change compares: an Observation, or a page's visit row."""

    @property
    def size1_mm(self) -> float | None: ...


def _change(obs: Measured, ref: Measured | None) -> Change | None:
    if ref is None or ref is obs:
        return None
    if obs.modality != ref.modality:
        return Change(why=f"{NOT_COMPARABLE} ({ref.modality}→{obs.modality})")
    if not obs.visible:
        if obs.modality == Modality.MR.value:
            return Change(why="not seen on MR (not conclusive)")
        return Change(-100.0)
    if obs.size1_mm is None or not ref.size1_mm:
        return None
    return Change(pct(obs.size1_mm, ref.size1_mm))


@dataclass
class Cell:
    """A visit (its stage, resolution and response already `pending`/None unless current)
    with its three changes."""

    observation: PageVisit
    from_baseline: Change | None
    from_nadir: Change | None
    from_previous: Change | None

    @property
    def stage(self) -> str:
        return self.observation.stage

    @property
    def resolution(self) -> str | None:  # how sure a `resolved` stage is
        return self.observation.resolution

    @property
    def response(self) -> str | None:
        return self.observation.response


@dataclass
class Row:
    lesion: PageLesion
    cells: dict[date, Cell] = field(default_factory=dict)


# The orders a reader can sort the table's rows in (the page's `sort` argument).
ROW_ORDERS: dict[str, Callable[[Row], tuple[Any, ...]]] = {
    "lesion": lambda row: (row.lesion.external_id,),
    "site": lambda row: (row.lesion.region, row.lesion.laterality, row.lesion.external_id),
    "stage": lambda row: (row.lesion.current_stage or "~", row.lesion.external_id),
}


@dataclass
class Visit:
    date: date
    modalities: list[str]


@dataclass
class Table:
    visits: list[Visit]
    rows: list[Row]


def lesion_cells(lesion: PageLesion) -> list[Cell]:
    """One cell per visit (date order) with its three changes."""
    visits = lesion.visits
    baseline = next((v for v in visits if v.visible), None)
    cells = []
    nadir: PageVisit | None = None
    previous: PageVisit | None = None
    for obs in visits:
        after_baseline = baseline is not None and obs.date > baseline.date
        cells.append(Cell(
            observation=obs,
            from_baseline=_change(obs, baseline) if after_baseline else None,
            from_nadir=_change(obs, nadir) if after_baseline else None,
            from_previous=_change(obs, previous) if previous is not None else None,
        ))
        comparable = (baseline is not None and obs.modality == baseline.modality
                      and obs.date >= baseline.date)
        lower = nadir is None or (nadir.size1_mm is not None and obs.size1_mm is not None
                                  and obs.size1_mm < nadir.size1_mm)
        if obs.visible and comparable and obs.size1_mm is not None and lower:
            nadir = obs
        previous = obs
    return cells


def timepoint_table(lesions: Sequence[PageLesion]) -> Table:
    """Lesions (as `patient_visits` reads them) x visit dates; a visit's modalities are those
    of its observations."""
    rows = []
    modalities: dict[date, set[str]] = {}
    for lesion in lesions:
        row = Row(lesion)
        for cell in lesion_cells(lesion):
            row.cells[cell.observation.date] = cell
            modalities.setdefault(cell.observation.date, set()).add(cell.observation.modality)
        rows.append(row)
    visits = [Visit(day, sorted(mods)) for day, mods in sorted(modalities.items())]
    return Table(visits, rows)


FIELDS = ("modality", "visible", "size_mm", "density", "margin", "texture", "pattern",
          "features", "pain", "note")


@dataclass
class Difference:
    field: str
    before: Any
    after: Any
    changed: bool


# What the timeline format leaves out when it is the default (its model owns the defaults):
# a compared visit shows it.
_DEFAULTS = {name: f.get_default(call_default_factory=True)
             for name, f in ObservationIn.model_fields.items()
             if name in FIELDS and not f.is_required()}


def compare(first: Observation, second: Observation) -> list[Difference]:
    """Field by field, what changed between two visits (values as the timeline format writes
    them, defaults included)."""
    a, b = (({name: s.get(name, _DEFAULTS.get(name)) for name in FIELDS})
            for s in (observation_snapshot(first), observation_snapshot(second)))
    return [Difference(name, a[name], b[name], a[name] != b[name]) for name in FIELDS]


def size_change(first: Observation, second: Observation) -> Change | None:
    return _change(second, first)


def visits_of(lesion: Lesion, ids: Sequence[int]) -> list[Observation]:
    by_id = {o.id: o for o in lesion.observations}
    return [by_id[i] for i in ids if i in by_id]
